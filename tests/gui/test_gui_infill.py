"""Regenerate selection in the app (offscreen): bars selected on the ruler,
takes sampled on a worker with composer.services.infill, a take accepted, undone and
redone, cancel, a MIDI file opened to edit, and the edited song exported."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from composer.music.midifile import read_midi, write_midi
from composer.music.song import Note, melody_song
from gui.pianoroll import RULER_HEIGHT, SELECTION_RULER, PianoRoll

WAIT_MS = 60_000


def _eight_bars() -> list[Note]:
    """Eight 4/4 bars of quarter notes, pitch rising by bar (a recognisable original)."""
    return [Note(b * 4 + k, b * 4 + k + 1, 60 + (b % 5) + (k % 2) * 2, velocity=70 + k * 10)
            for b in range(8) for k in range(4)]


@pytest.fixture
def roll(qtbot):
    widget = PianoRoll()
    qtbot.addWidget(widget)
    widget.resize(700, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_song(melody_song(_eight_bars()))
    return widget


def _ruler_x(roll, bar: int, fraction: float = 0.5) -> int:
    """Viewport x inside `bar` (1-based) at `fraction` of its width."""
    return int(roll.bar_x(bar) + fraction * roll.song.bar_length() * roll.px_per_beat)


def _drag_on_ruler(qtbot, roll, first: int, last: int) -> None:
    y = RULER_HEIGHT // 2
    view = roll.viewport()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(_ruler_x(roll, first), y))
    qtbot.mouseMove(view, QPoint(_ruler_x(roll, (first + last) // 2), y))
    qtbot.mouseMove(view, QPoint(_ruler_x(roll, last), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(_ruler_x(roll, last), y))


# ---- selecting bars ------------------------------------------------------------------

def test_dragging_on_the_ruler_selects_whole_bars(qtbot, roll):
    seen = []
    roll.selectionChanged.connect(seen.append)
    _drag_on_ruler(qtbot, roll, 3, 5)
    assert roll.selection == (3, 5) and seen[0] == (3, 3) and seen[-1] == (3, 5)
    _drag_on_ruler(qtbot, roll, 7, 2)          # right to left: the same range, in order
    assert roll.selection == (2, 7)
    # a drag past the last bar stops at the last bar
    y = RULER_HEIGHT // 2
    qtbot.mousePress(roll.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(_ruler_x(roll, 6), y))
    qtbot.mouseRelease(roll.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(roll.viewport().width() - 2, y))
    assert roll.selection == (6, 8)


def test_click_then_shift_click_selects_the_bars_between(qtbot, roll):
    y = RULER_HEIGHT // 2
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(_ruler_x(roll, 2), y))
    assert roll.selection == (2, 2)
    # shift-click on the ruler extends from the bar clicked first (among the notes it selects notes)
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(_ruler_x(roll, 4, 0.9), y))
    assert roll.selection == (2, 4)
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(_ruler_x(roll, 1, 0.1), y))
    assert roll.selection == (1, 2)
    # a plain click or shift-click among the notes leaves the bar selection alone
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(_ruler_x(roll, 4, 0.9), roll.viewport().height() // 2))
    assert roll.selection == (1, 2)
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(_ruler_x(roll, 6),
                                                                             roll.viewport().height() // 2))
    assert roll.selection == (1, 2)


def test_the_selection_is_painted_on_the_ruler_and_cleared(qtbot, roll):
    _drag_on_ruler(qtbot, roll, 4, 5)
    image = roll.viewport().grab().toImage()
    inside, outside = _ruler_x(roll, 4, 0.6), _ruler_x(roll, 7, 0.6)
    assert image.pixelColor(inside, 2).name() == SELECTION_RULER.name()
    assert image.pixelColor(outside, 2).name() != SELECTION_RULER.name()
    roll.clear_selection()
    assert roll.selection is None
    assert roll.viewport().grab().toImage().pixelColor(inside, 2).name() != SELECTION_RULER.name()


def test_a_right_click_outside_the_selection_selects_that_bar_for_the_menu(qtbot, roll):
    roll.set_selection(2, 3)
    menu = roll.context_menu(_ruler_x(roll, 3))      # inside: kept
    assert roll.selection == (2, 3)
    menu = roll.context_menu(_ruler_x(roll, 6))
    assert roll.selection == (6, 6)
    menu.deleteLater()


def test_a_shorter_song_drops_a_selection_past_its_end(qtbot, roll):
    roll.set_selection(5, 7)
    roll.set_song(melody_song([Note(0, 4, 60), Note(4, 8, 62)]))
    assert roll.selection is None
    roll.set_selection(1, 9)
    assert roll.selection == (1, 2)


# ---- the window: selection and the Regenerate selection action ----------------------

def test_regenerate_selection_needs_a_selection(qtbot, make_window, tmp_path):
    window = make_window()
    results = window.generate_view.results
    source = tmp_path / "tune.mid"
    write_midi(melody_song(_eight_bars(), tempo=100), source)
    window.dialogs.open_file = lambda caption, folder, file_filter: str(source)
    window.open_midi_action.trigger()
    assert results.variations.count() == 1 and results.source_name == "tune"
    assert [n.pitch for n in results.current_song().notes] == [n.pitch for n in _eight_bars()]
    assert not results.infill_button.isEnabled() and not results.infill_action.isEnabled()
    _drag_on_ruler(qtbot, results.roll, 5, 6)
    assert results.infill_button.isEnabled() and results.infill_action.isEnabled()
    assert "bars 5-6" in results.selection_label.text()
    assert results.infill_action in results.roll.actions()
    assert results.infill_action.shortcut().toString() == "Ctrl+R"


# ---- regenerate selection with a tiny infill model --------------------------------------

TINY = ["--layers", "1", "--hidden", "24", "--embed", "12", "--batch", "4", "--seq-len", "24",
        "--eval-every", "10", "--checkpoint-every", "10", "--workers", "1", "--quiet"]


@pytest.fixture(scope="module")
def tiny_infill_model(tmp_path_factory):
    """An infill model trained for a few steps by `train --objective infill` on code-made tunes."""
    from benchmarks.midi_factory import melody, write_song
    from composer.cli.main import main

    root = tmp_path_factory.mktemp("infill")
    for i in range(6):
        write_song(melody(128, seed=i), root / "tunes" / f"tune{i}.mid")
    path = root / "tiny-infill.model"
    assert main(["train", str(root / "tunes"), "--out", str(path), "--objective", "infill", "--steps", "20",
                 "--cache-dir", str(root / "cache"), *TINY]) == 0
    return path


@pytest.fixture
def editing_window(qtbot, make_window, gui_settings, tiny_infill_model, tmp_path):
    """A window with the tiny infill model selected and an 8-bar tune opened to edit."""
    gui_settings.add_recent_model(tiny_infill_model)
    gui_settings.set("models/last", str(tiny_infill_model))
    window = make_window(gui_settings)
    assert window.generate_view.current_entry().path == tiny_infill_model
    source = tmp_path / "tune.mid"
    write_midi(melody_song(_eight_bars(), tempo=100), source)
    assert window.generate_view.results.load_song_file(source)
    c = window.generate_view.controls
    c.count.setValue(3)
    c.seed.setValue(11)
    c.temperature.setValue(1.0)
    c.top_p.setValue(1.0)
    return window


def _outside(song, start: float, end: float) -> list[Note]:
    return [n for n in song.notes if not start <= n.start < end]


def _regenerate(qtbot, window, first: int, last: int):
    view, results = window.generate_view, window.generate_view.results
    _drag_on_ruler(qtbot, results.roll, first, last)
    qtbot.mouseClick(results.infill_button, Qt.MouseButton.LeftButton)
    assert view.job is not None and not results.infill_button.isEnabled()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    return results.infill_panel


def test_regenerate_selection_offers_takes_that_keep_the_other_bars(qtbot, editing_window):
    window = editing_window
    results = window.generate_view.results
    original = results.current_song()
    panel = _regenerate(qtbot, window, 3, 4)
    assert panel.isVisible() and panel.list.count() == 4           # Original + 3 takes
    assert panel.span_beats == (8.0, 16.0) and panel.bars == (3, 4)
    assert results.current_song() is original                      # nothing replaced yet
    for take in panel.takes:
        assert _outside(take, 8.0, 16.0) == _outside(original, 8.0, 16.0)
        assert all(8.0 <= n.start < 16.0 for n in take.notes if n not in original.notes)
    assert any([n for n in t.notes if 8 <= n.start < 16] != [n for n in original.notes if 8 <= n.start < 16]
               for t in panel.takes)
    # each take is drawn when picked (the original's span as grey outlines), and is what Play would play
    panel.list.setCurrentRow(2)
    assert results.roll.song is panel.takes[1] and results.shown_song() is panel.takes[1]
    replaced = [n for n in original.notes if 8 <= n.start < 16 and n not in panel.takes[1].notes]
    assert replaced and results.roll.ghost_notes == replaced
    assert results.roll.selection == (3, 4)
    panel.list.setCurrentRow(0)
    assert results.roll.song is original and not results.roll.ghost_notes
    message = window.generate_view.message.text()
    assert "3 take(s) of bars 3-4, seed 11" in message and "only the music before" not in message
    assert "bars 3-4" in window.statusBar().currentMessage()


def test_accept_then_undo_restores_the_original_and_redo_reapplies(qtbot, editing_window, tmp_path):
    window = editing_window
    results = window.generate_view.results
    original = results.current_song()
    original_notes = list(original.notes)
    panel = _regenerate(qtbot, window, 5, 6)
    chosen = panel.takes[1]
    panel.list.setCurrentRow(2)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert results.current_song() is chosen and results.roll.song is chosen
    assert not panel.isVisible() and results.undo_action.isEnabled()
    assert results.variations.item(0).text().startswith("1. 8 bars")
    assert "Replaced bars 5-6 of variation 1 " in window.statusBar().currentMessage()    # (said "variation 0")
    assert "holds no index" not in results.variations.item(0).toolTip()     # the user's own file: no meter
    # the edited song exports like any result
    target = tmp_path / "edited"
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(target)
    window.export_action.trigger()
    written = [(n.start, n.end, n.pitch) for n in read_midi(tmp_path / "edited.mid").notes]
    assert written == [(n.start, n.end, n.pitch) for n in chosen.notes]

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert results.current_song() is original and original.notes == original_notes
    assert results.roll.song is original and results.redo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert results.current_song() is chosen
    results.undo_action.trigger()
    assert results.current_song() is original and not results.undo_action.isEnabled()


def test_cancel_leaves_the_song_unchanged(qtbot, editing_window):
    window = editing_window
    view, results = window.generate_view, window.generate_view.results
    view.controls.count.setValue(16)
    original = results.current_song()
    _drag_on_ruler(qtbot, results.roll, 2, 8)
    qtbot.mouseClick(results.infill_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "cancelled" in view.message.text()
    assert results.current_song() is original and results.roll.song is original
    assert not results.infill_panel.isVisible() and not results.undo_action.isEnabled()
    assert results.infill_button.isEnabled()


def test_discard_and_a_new_generation_drop_the_takes(qtbot, editing_window):
    window = editing_window
    results = window.generate_view.results
    original = results.current_song()
    panel = _regenerate(qtbot, window, 1, 1)
    qtbot.mouseClick(panel.discard_button, Qt.MouseButton.LeftButton)
    assert not panel.isVisible() and results.roll.song is original and results.current_song() is original
    panel = _regenerate(qtbot, window, 2, 2)
    panel.list.setCurrentRow(1)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert results.undo_action.isEnabled()
    results.set_results([melody_song(_eight_bars())], "melody", 1, 0.0)
    assert not results.undo_action.isEnabled() and not panel.isVisible()


def test_a_plain_model_regenerates_from_the_left_side_only_and_says_so(qtbot, make_window, gui_settings, tmp_path):
    import torch

    from composer.model.modelfile import save_model
    from composer.model.network import ModelConfig, MusicRNN
    from composer.representations.melody import MelodyConfig, MelodyTokenizer

    torch.manual_seed(0)           # a melody range no shipped infill model reads: nothing to borrow
    tokenizer = MelodyTokenizer(MelodyConfig(pitch_low=40, pitch_high=100))
    model = MusicRNN(ModelConfig(vocab_size=tokenizer.vocab_size, cell="gru", embed_dim=12, hidden_size=16,
                                 num_layers=1, dropout=0.0, position_classes=tokenizer.position_classes))
    path = tmp_path / "plain-40-100.model"
    save_model(path, model, tokenizer, {"steps": 0})
    gui_settings.add_recent_model(path)
    gui_settings.set("models/last", str(path))
    window = make_window(gui_settings)
    results = window.generate_view.results
    source = tmp_path / "tune.mid"
    write_midi(melody_song(_eight_bars()), source)
    assert results.load_song_file(source)
    window.generate_view.controls.count.setValue(2)
    original = results.current_song()
    panel = _regenerate(qtbot, window, 4, 5)
    assert "only the music before the selection" in window.generate_view.message.text()
    assert "only the music before the selection" in window.statusBar().currentMessage()
    for take in panel.takes:
        assert _outside(take, 12.0, 20.0) == _outside(original, 12.0, 20.0)


def test_a_file_that_is_not_midi_is_refused_with_a_dialog(qtbot, make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "notes.mid"
    bad.write_bytes(b"this is not MIDI")
    window.dialogs.open_file = lambda caption, folder, file_filter: str(bad)
    with qtbot.waitSignal(window.dialogs.errorShown, timeout=WAIT_MS) as blocker:
        window.open_midi_action.trigger()
    assert "notes.mid: not a MIDI file" in blocker.args[0].text()
    assert window.generate_view.results.variations.count() == 0
