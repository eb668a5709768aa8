"""Editing notes in the app's piano roll (offscreen), driven by mouse and key
events on the real widget: draw, select (click, shift, rubber band), move,
resize, delete, transpose, snap, undo/redo of each, and the edited song is
what the list shows and Export writes."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from composer.music.midifile import read_midi, write_midi
from composer.music.song import Note, melody_song
from gui.roll_edit import DRAW_VELOCITY

SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton


def _tune() -> list[Note]:
    """Four 4/4 bars of quarter notes on C4 D4 E4 F4, then one whole G4."""
    return [Note(b * 4 + k, b * 4 + k + 1, 60 + [0, 2, 4, 5][k], velocity=90) for b in range(3) for k in range(4)] \
        + [Note(12, 16, 67, velocity=90)]


@pytest.fixture
def editing(make_window, tmp_path):
    """(window, results panel, roll) with the tune opened to edit."""
    window = make_window()
    window.resize(1200, 800)
    source = tmp_path / "tune.mid"
    write_midi(melody_song(_tune(), tempo=100), source)
    results = window.generate_view.results
    assert results.load_song_file(source)
    return window, results, results.roll


def _at(roll, beat: float, pitch: int) -> QPoint:
    """Viewport point in the middle of the row of `pitch` at `beat`."""
    o = roll.origin()
    return QPointF(o.x() + beat * roll.px_per_beat, o.y() + (roll.pitch_high - pitch + 0.5) * roll.row_height).toPoint()


def _drag(qtbot, roll, start: QPoint, end: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    view = roll.viewport()
    qtbot.mousePress(view, LEFT, modifiers, start)
    qtbot.mouseMove(view, (start + end) / 2)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, LEFT, modifiers, end)


def _click(qtbot, roll, point: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(roll.viewport(), LEFT, modifiers, point)


def _has(song, *notes) -> bool:
    pairs = {(n.start, n.end, n.pitch) for n in song.notes}
    return all((n.start, n.end, n.pitch) in pairs for n in notes)


def test_ctrl_drag_draws_a_snapped_note_that_is_heard_and_undone(qtbot, editing):
    window, results, roll = editing
    heard = []
    roll.noteAuditioned.connect(heard.append)
    before = results.current_song()
    _drag(qtbot, roll, _at(roll, 4.1, 72), _at(roll, 5.6, 72), CTRL)      # snap 1/16: 4.0 .. 5.5
    drawn = Note(4.0, 5.5, 72, DRAW_VELOCITY)
    assert drawn in results.current_song().notes and len(results.current_song().notes) == 14
    assert roll.selected == [drawn] and heard[0].pitch == 72
    assert results.variations.item(0).text().startswith("1. 4 bars, 14 notes")
    results.undo_action.trigger()
    assert results.current_song() is before and roll.song is before and roll.selected == []
    results.redo_action.trigger()
    assert drawn in results.current_song().notes and roll.selected == [drawn]


def test_draw_mode_draws_with_a_plain_click_and_snap_bar_makes_a_whole_bar(qtbot, editing):
    window, results, roll = editing
    results.edit.snap.setCurrentText("bar")
    qtbot.keyClick(roll, Qt.Key.Key_D)
    assert roll.draw_mode and results.edit.draw_button.isChecked()
    _click(qtbot, roll, _at(roll, 5.3, 70))
    assert Note(4.0, 8.0, 70, DRAW_VELOCITY) in results.current_song().notes
    results.edit.draw_button.click()
    assert not roll.draw_mode
    count = len(results.current_song().notes)
    _click(qtbot, roll, _at(roll, 9.5, 70))       # a plain click in an empty place now only clears the selection
    assert len(results.current_song().notes) == count and roll.selected == []


def test_click_shift_click_and_rubber_band_select(qtbot, editing):
    window, results, roll = editing
    c4, e4, g4 = Note(0, 1, 60, 90), Note(2, 3, 64, 90), Note(12, 16, 67, 90)
    _click(qtbot, roll, _at(roll, 0.5, 60))
    assert roll.selected == [c4]
    _click(qtbot, roll, _at(roll, 2.5, 64), SHIFT)
    _click(qtbot, roll, _at(roll, 13, 67), SHIFT)
    assert roll.selected == [c4, e4, g4]
    _click(qtbot, roll, _at(roll, 2.5, 64), SHIFT)                       # shift-click again: removed
    assert roll.selected == [c4, g4]
    _click(qtbot, roll, _at(roll, 3.5, 75))                              # an empty place: cleared
    assert roll.selected == []
    _drag(qtbot, roll, _at(roll, 3.8, 70), _at(roll, 7.8, 58))           # a band over bar 2 (and beat 4's end)
    assert sorted(roll.selected) == sorted(n for n in results.current_song().notes if 3 <= n.start < 8)
    _drag(qtbot, roll, _at(roll, 12.5, 68), _at(roll, 13, 66), SHIFT)    # shift+band adds
    assert g4 in roll.selected and len(roll.selected) == 6
    assert results.current_song().notes == sorted(_tune())               # selecting edits nothing
    assert results.undo_stack.count() == 1                               # only the file opened


def test_dragging_selected_notes_moves_them_snapped_and_undo_restores(qtbot, editing):
    window, results, roll = editing
    _drag(qtbot, roll, _at(roll, 3.8, 70), _at(roll, 7.8, 58))           # bar 2 and the note on beat 4
    group = list(roll.selected)
    # grab D4 of bar 2 and drag it 1.1 beats right, two rows up: snapped to 1 beat, +2 semitones
    _drag(qtbot, roll, _at(roll, 5.5, 62), _at(roll, 6.6, 64))
    song = results.current_song()
    assert _has(song, *[Note(n.start + 1, n.end + 1, n.pitch + 2) for n in group])
    assert len(song.notes) == 13 and sorted(roll.selected) == sorted(
        Note(n.start + 1, n.end + 1, n.pitch + 2, 90) for n in group)
    assert "Move 5 notes" in window.statusBar().currentMessage()
    results.undo_action.trigger()
    assert results.current_song().notes == sorted(_tune()) and sorted(roll.selected) == sorted(group)


def test_snap_off_moves_by_what_the_mouse_moved(qtbot, editing):
    window, results, roll = editing
    results.edit.snap.setCurrentText("off")
    start, end = _at(roll, 0.5, 60), _at(roll, 0.5, 60) + QPoint(int(0.3 * roll.px_per_beat), 0)
    _drag(qtbot, roll, start, end)
    (moved,) = roll.selected
    assert moved.pitch == 60 and moved.start == pytest.approx((end.x() - start.x()) / roll.px_per_beat)
    assert 0.2 < moved.start < 0.4 and moved.start not in (0.25, 0.375)


def test_dragging_the_right_edge_resizes_snapped(qtbot, editing):
    window, results, roll = editing
    results.edit.snap.setCurrentText("1/8")
    rect = roll.note_rect(Note(12, 16, 67))
    edge = QPoint(int(rect.right()) - 2, int(rect.center().y()))
    assert roll.gestures.cursor(QPointF(edge)) == Qt.CursorShape.SizeHorCursor
    _drag(qtbot, roll, edge, edge - QPoint(int(1.3 * roll.px_per_beat), 0))
    assert _has(results.current_song(), Note(12, 14.5, 67)) and len(results.current_song().notes) == 13
    results.undo_action.trigger()
    assert _has(results.current_song(), Note(12, 16, 67))
    results.redo_action.trigger()
    assert _has(results.current_song(), Note(12, 14.5, 67))


def test_delete_and_backspace_remove_the_selected_notes(qtbot, editing):
    window, results, roll = editing
    _click(qtbot, roll, _at(roll, 0.5, 60))
    qtbot.keyClick(roll, Qt.Key.Key_Delete)
    assert not _has(results.current_song(), Note(0, 1, 60)) and len(results.current_song().notes) == 12
    _click(qtbot, roll, _at(roll, 1.5, 62))
    _click(qtbot, roll, _at(roll, 2.5, 64), SHIFT)
    qtbot.keyClick(roll, Qt.Key.Key_Backspace)
    assert len(results.current_song().notes) == 10 and roll.selected == []
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)                           # Ctrl+Z, as the user types it
    assert len(results.current_song().notes) == 12 and len(roll.selected) == 2
    results.undo_action.trigger()
    assert results.current_song().notes == sorted(_tune())


def test_arrows_transpose_by_a_semitone_shift_by_an_octave(qtbot, editing):
    window, results, roll = editing
    _click(qtbot, roll, _at(roll, 13, 67))
    qtbot.keyClick(roll, Qt.Key.Key_Up)
    assert roll.selected == [Note(12, 16, 68, 90)]
    qtbot.keyClick(roll, Qt.Key.Key_Up, SHIFT)
    assert roll.selected == [Note(12, 16, 80, 90)] and _has(results.current_song(), Note(12, 16, 80))
    qtbot.keyClick(roll, Qt.Key.Key_Down)
    assert _has(results.current_song(), Note(12, 16, 79))
    assert results.undo_stack.count() == 4 and "transpose 1 note down a semitone" in results.undo_action.text()
    results.undo_action.trigger()
    assert _has(results.current_song(), Note(12, 16, 80))
    results.undo_action.trigger()
    results.undo_action.trigger()
    assert results.current_song().notes == sorted(_tune()) and roll.selected == [Note(12, 16, 67, 90)]


def test_an_edit_is_what_export_writes_and_what_continue_takes(qtbot, editing, tmp_path):
    window, results, roll = editing
    _click(qtbot, roll, _at(roll, 0.5, 60))
    qtbot.keyClick(roll, Qt.Key.Key_Up, SHIFT)
    _drag(qtbot, roll, _at(roll, 9.2, 74), _at(roll, 10.0, 74), CTRL)
    edited = results.current_song()
    assert _has(edited, Note(0, 1, 72), Note(9, 10, 74))
    target = tmp_path / "edited"
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(target)
    window.export_action.trigger()
    written = read_midi(tmp_path / "edited.mid")
    assert [(n.start, n.end, n.pitch) for n in written.notes] == [(n.start, n.end, n.pitch) for n in edited.notes]
    with qtbot.waitSignal(results.continueRequested) as sent:
        qtbot.mouseClick(results.continue_button, LEFT)
    assert sent.args[0] is edited
    qtbot.waitUntil(lambda: window.generate_view.job is None, timeout=60_000)


def test_a_variation_dragged_out_after_an_edit_carries_the_edit(qtbot, editing):
    window, results, roll = editing
    _click(qtbot, roll, _at(roll, 13, 67))
    qtbot.keyClick(roll, Qt.Key.Key_Delete)
    edited = results.current_song()
    variations = results.variations
    mime = variations.mimeData([variations.currentItem()])
    path = mime.urls()[0].toLocalFile()
    assert bytes(mime.data("audio/midi")) == open(path, "rb").read()
    assert [(n.start, n.end, n.pitch) for n in read_midi(path).notes] == \
        [(n.start, n.end, n.pitch) for n in edited.notes] and len(edited.notes) == 12


def test_notes_are_not_edited_while_takes_are_open(qtbot, editing):
    window, results, roll = editing
    from composer.services.infill import InfillResult
    original = results.current_song()
    take = melody_song([Note(0, 1, 61)] + _tune()[1:])
    results.show_takes(0, original, InfillResult(songs=[take], span_beats=(0.0, 4.0), seed=1,
                                                 uses_right_context=True), (1, 1))
    _click(qtbot, roll, _at(roll, 13, 67))
    qtbot.keyClick(roll, Qt.Key.Key_Delete)
    assert results.current_song() is original and results.undo_stack.count() == 1
    assert "takes are used or discarded" in window.statusBar().currentMessage()


def test_a_drag_ends_when_the_song_shown_is_replaced(qtbot, editing):
    window, results, roll = editing
    view, start = roll.viewport(), _at(roll, 0.5, 60)
    qtbot.mousePress(view, LEFT, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(view, start + QPoint(40, -20))
    partial = melody_song([Note(0, 2, 50)])
    results.show_partial(partial, 0.0)                    # e.g. a piece being sampled is drawn
    qtbot.mouseMove(view, start + QPoint(80, -30))
    qtbot.mouseRelease(view, LEFT, Qt.KeyboardModifier.NoModifier, start + QPoint(80, -30))
    assert roll.song is partial and roll.pending is None and results.undo_stack.count() == 1
    assert results.current_song().notes == sorted(_tune())


def test_an_edit_measures_the_copy_meter_again(qtbot, editing):
    from composer.analysis.copymeter import copy_meter, generated_notes
    from composer.model.copyindex import CopyIndex
    window, results, roll = editing
    tune = melody_song(_tune(), tempo=100)
    index = CopyIndex.from_songs({"tune.mid": tune})
    results.set_results([tune], "melody", 5, 0.0, [copy_meter(generated_notes(tune, 0.0), index)], index)
    assert results.variations.copies[0] == (13, "tune.mid")
    _click(qtbot, roll, _at(roll, 6.5, 64))                  # the middle of the tune, bar 2
    qtbot.keyClick(roll, Qt.Key.Key_Up, SHIFT)
    length = results.variations.copies[0][0]
    assert length < 13 and results.variations.item(0).text().endswith(f" · copy: {length} notes")
    results.undo_action.trigger()
    assert results.variations.copies[0] == (13, "tune.mid")
