"""Every tab is usable in a small window (offscreen): the window keeps the size it
was given, the train tab scrolls (Advanced settings too), and the generate
tab's buttons, progress and message are in view."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication


def _inside(widget, container) -> bool:
    """`widget` is shown whole within `container`."""
    rect = QRect(widget.mapTo(container, QPoint(0, 0)), widget.geometry().size())
    return widget.isVisible() and container.rect().contains(rect)


def _settle(window) -> None:
    for _ in range(3):
        QApplication.processEvents()


@pytest.mark.parametrize("width, height", [(900, 600), (700, 450)])
def test_the_train_tab_scrolls_instead_of_growing_the_window(make_window, width, height):
    window = make_window()
    window.resize(width, height)
    window.tabs.setCurrentWidget(window.train_view)
    _settle(window)
    view = window.train_view
    view.show_advanced.setChecked(True)
    _settle(window)
    assert (window.width(), window.height()) == (width, height)        # (grew to 926x850)
    viewport = view.scroll_area.viewport()
    for widget in (view.start_button, view.lr, view.folder, view.scan_button, view.name, view.progress):
        view.scroll_area.ensureWidgetVisible(widget)
        _settle(window)
        assert _inside(widget, viewport), widget
        assert widget.height() >= widget.minimumSizeHint().height()     # rows are not squeezed


@pytest.mark.parametrize("width, height", [(900, 600), (700, 450)])
def test_the_generate_tab_keeps_its_buttons_and_progress_in_view(qtbot, make_window, width, height):
    window = make_window()
    window.resize(width, height)
    window.tabs.setCurrentWidget(window.generate_view)
    view = window.generate_view
    view.controls.count.setValue(2)
    view.controls.bars.setValue(4)
    view.generate()
    qtbot.waitUntil(lambda: view.job is None, timeout=60_000)
    _settle(window)
    assert (window.width(), window.height()) == (width, height)
    for widget in (view.generate_button, view.cancel_button, view.progress, view.message):
        assert _inside(widget, view), widget
    results = view.results
    for widget in (results.play_button, results.export_button, results.continue_button, results.regen_button,
                   results.regen_bar, results.open_button, results.infill_button, results.roll):
        assert _inside(widget, results), widget
