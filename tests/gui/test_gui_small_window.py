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


def _eight_variations(window, width, height):
    from composer.music.song import Note, melody_song
    window.resize(width, height)
    window.tabs.setCurrentWidget(window.generate_view)
    results = window.generate_view.results
    songs = [melody_song([Note(b, b + 1, 60 + i) for b in range(8)]) for i in range(8)]
    results.set_results(songs, "melody", seed=1, primer_beats=0.0)
    _settle(window)
    assert (window.width(), window.height()) == (width, height)
    return results


def test_at_900x600_the_list_shows_five_variations_and_the_hint_is_whole(make_window):
    results = _eight_variations(make_window(), 900, 600)
    listed = results.variations
    viewport = listed.viewport().rect()
    assert all(viewport.contains(listed.visualItemRect(listed.item(row))) for row in range(5))   # (2.5 rows)
    assert not results.splitter.top_scroll.verticalScrollBar().isVisible()      # all of it without scrolling
    label = results.selection_label
    assert _inside(label, results.splitter.top_scroll.viewport())                # (cut in half)
    assert label.height() >= label.sizeHint().height() and label.width() >= label.sizeHint().width()
    roll = results.roll
    assert _inside(roll, results) and roll.viewport().height() >= 12 * roll.row_height      # notes still to see


def test_at_900x600_a_band_of_four_parts_leaves_the_edit_row_in_view(make_window):
    from dataclasses import replace

    from composer.music.song import Note, Track, melody_song
    window = make_window()
    window.resize(900, 600)
    window.tabs.setCurrentWidget(window.generate_view)
    results = window.generate_view.results
    melody = melody_song([Note(b, b + 1, 72) for b in range(8)])
    band = replace(melody, tracks=[melody.tracks[0], *(Track([Note(b, b + 1, p)], program=52, name=name)
                                                       for b, (p, name) in enumerate(
                                                           [(64, "Alto"), (57, "Tenor"), (48, "Bass")]))])
    results.set_results([band, band], "melody", seed=1, primer_beats=0.0)
    _settle(window)
    assert results.parts.isVisible() and len(results.parts.rows) == 4
    viewport = results.splitter.top_scroll.viewport()
    for widget in (results.selection_label, results.play_button, results.parts):
        assert _inside(widget, viewport), widget                    # (four legend rows pushed the edit row out)


def test_at_700x450_the_list_and_buttons_scroll_over_the_roll(make_window):
    results = _eight_variations(make_window(), 700, 450)
    scroll = results.splitter.top_scroll
    for widget in (results.variations, results.play_button, results.infill_button, results.selection_label):
        scroll.ensureWidgetVisible(widget, 0, 0)
        _settle(results)
        assert _inside(widget, scroll.viewport()), widget
    assert results.roll.height() >= results.roll.minimumHeight()


def test_a_large_window_gives_the_list_room_for_sixteen_variations(make_window):
    results = _eight_variations(make_window(), 1440, 900)
    listed = results.variations
    assert listed.viewport().height() >= 9 * listed.row_height()          # (5 in the list's minimum)
    assert results.roll.height() >= 0.55 * results.splitter.height() - 1


def test_at_2560x1440_the_list_stands_beside_a_roll_of_the_whole_height(make_window):
    window = make_window()
    results = _eight_variations(window, 2560, 1440)
    view, roll, listed = window.generate_view, results.roll, results.variations
    assert listed.mapTo(results, QPoint(0, 0)).x() + listed.width() <= roll.mapTo(results, QPoint(0, 0)).x()
    assert listed.width() < 0.3 * results.width()                   # (2185 px wide for 4 short lines)
    assert roll.height() >= 0.9 * results.height()                  # (a strip under a wide list)
    rows = roll.pitch_high - roll.pitch_low + 1
    assert rows * roll.row_height >= roll.viewport().height() - roll.ruler_height - roll.row_height   # no empty band
    column = view.controls_scroll
    assert column.width() < 0.2 * window.width()                   # the controls keep their width
    below = view.generate_button.mapTo(view, QPoint(0, 0)).y() - column.mapTo(view, QPoint(0, 0)).y()
    assert below <= column.widget().sizeHint().height() + 20        # Generate right under them, not at the bottom


def test_back_at_1440x900_the_list_returns_over_the_roll(make_window):
    window = make_window()
    results = _eight_variations(window, 2560, 1440)
    window.resize(1440, 900)
    _settle(window)
    listed, roll = results.variations, results.roll
    assert listed.mapTo(results, QPoint(0, 0)).y() + listed.height() <= roll.mapTo(results, QPoint(0, 0)).y()
    assert results.body.list_box.width() > 0.9 * results.width()       # (the Arrange column stands beside the list)
    assert listed.width() > 0.7 * results.width()


def test_the_takes_beside_the_list_get_room_too(make_window):
    results = _eight_variations(make_window(), 1440, 900)
    results.infill_panel.setVisible(True)          # as when takes are offered
    _settle(results)
    scroll = results.splitter.top_scroll
    assert not scroll.verticalScrollBar().isVisible()          # (the line under the buttons was cut)
    for widget in (results.infill_panel.accept_button, results.sound_note, results.selection_label):
        assert _inside(widget, scroll.viewport()), widget


def _wheel(widget, steps: int = -1) -> None:
    """A mouse-wheel notch over the middle of `widget` (negative: scroll down)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_train_tab_past_its_drop_downs(make_window):
    window = make_window()
    window.resize(900, 600)
    window.tabs.setCurrentWidget(window.train_view)
    view = window.train_view
    view.show_advanced.setChecked(True)
    _settle(window)
    bar = view.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0
    before, top = view.representation.currentText(), bar.value()
    for _ in range(3):
        _wheel(view.representation)
        _settle(window)
    assert view.representation.currentText() == before           # (turned melody into drums)
    assert bar.value() > top                                      # the page scrolled instead
    view.representation.setFocus()                               # clicked or tabbed to: the wheel is its own
    _settle(window)
    _wheel(view.representation)
    assert view.representation.currentText() != before or view.representation.count() == 1


def test_the_wheel_leaves_the_generate_tabs_key_alone(make_window):
    window = make_window()
    window.resize(900, 600)
    window.tabs.setCurrentWidget(window.generate_view)
    _settle(window)
    key = window.generate_view.controls.key
    before = key.currentText()
    _wheel(key)
    _settle(window)
    assert key.currentText() == before                            # (went from any to C#)
