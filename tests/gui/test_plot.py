"""The training plots' axis labels."""
from __future__ import annotations

from gui.plot import axis_labels


def test_close_values_get_labels_that_tell_them_apart():
    labels = axis_labels(16.87, 16.93)          # a loss that moves little over the first steps
    assert labels == ["16.87", "16.90", "16.93"]        # (read 16.9, 16.9, 16.9)
    assert len(set(axis_labels(1.2345, 1.2351))) == 3


def test_ordinary_ranges_keep_short_labels():
    assert axis_labels(2.0, 6.0) == ["2.0", "4.0", "6.0"]
    assert axis_labels(100.0, 500.0) == ["100", "300", "500"]
    assert axis_labels(3.0, 3.0) == ["3.0", "3.0", "3.0"]
