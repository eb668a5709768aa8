"""What the generate tab shows follows what happens (offscreen): the picker's
size, buttons that a model cannot use, and messages that go with their action."""
from __future__ import annotations

from PySide6.QtCore import Qt

from composer.assets import INFILL_MODEL, MELODY_MODEL, asset_path
from composer.model.modelfile import load_model
from composer.music.midifile import write_midi
from composer.music.song import Note, melody_song
from composer.services.describe import describe_model
from gui.catalog import INFILL_NOTE

WAIT_MS = 60_000


def _select(view, path) -> None:
    index = next(i for i, e in enumerate(view.entries) if e.path.resolve() == path.resolve())
    view.model_combo.setCurrentIndex(index)
    assert view.current_entry().path.resolve() == path.resolve()


def _generate(qtbot, view, *, count=2, bars=2) -> None:
    view.controls.count.setValue(count)
    view.controls.bars.setValue(bars)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def test_the_picker_counts_the_weights_not_the_copy_index(make_window):
    """The shipped melody model holds a copy index: the picker says the size `info` says."""
    view = make_window().generate_view
    path = asset_path(MELODY_MODEL)
    _select(view, path)
    size = f"{describe_model(path).parameters / 1e6:.2f}M parameters"
    weights = sum(p.numel() for p in load_model(path).model.parameters())
    assert size == f"{weights / 1e6:.2f}M parameters"
    assert size in view.model_info.text()
    assert size in view.model_combo.itemData(view.model_combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)


def test_an_infill_model_turns_continue_off_and_keeps_the_primer(qtbot, make_window, tmp_path):
    window = make_window()
    view = window.generate_view
    primer = tmp_path / "primer.mid"
    write_midi(melody_song([Note(i, i + 1, 60 + i) for i in range(8)]), primer)
    assert view.set_primer_file(primer)
    _generate(qtbot, view)
    results = view.results
    assert results.continue_button.isEnabled() and results.regen_button.isEnabled()
    _select(view, asset_path(INFILL_MODEL))
    assert not results.continue_button.isEnabled() and results.continue_button.toolTip() == INFILL_NOTE
    assert not results.regen_button.isEnabled() and not results.regen_bar.isEnabled()
    assert results.regen_button.toolTip() == INFILL_NOTE
    view.continue_from(results.current_song())          # (as a click would, were it on)
    assert view.job is None and "cannot generate from scratch" in view.message.text()
    assert view.primer_path == str(primer) and view.controls.primer_label.text().startswith("primer.mid")
    # the refusal goes with the model it was about
    _select(view, asset_path(MELODY_MODEL))
    assert view.message.text() == ""
    assert results.continue_button.isEnabled()


def test_the_progress_bar_shows_a_count_only_for_a_job_that_counts(qtbot, make_window):
    window = make_window()
    view = window.generate_view
    assert not view.progress.isTextVisible()             # (read "0 / 100" before any job)
    _generate(qtbot, view)
    done = view.progress.maximum()
    assert done > 1 and view.progress.isTextVisible() and view.progress.text() == f"{done} / {done}"
    view.controls.count.setValue(16)
    view.controls.bars.setValue(256)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=WAIT_MS)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert not view.progress.isTextVisible() and view.progress.value() == 0     # (read "0 / 1")
    assert window.statusBar().currentMessage() == "Generation cancelled."


def _open_tune(window, tmp_path):
    source = tmp_path / "tune.mid"
    write_midi(melody_song([Note(b * 4 + k, b * 4 + k + 1, 60 + b % 5 + k % 2) for b in range(8) for k in range(4)]),
               source)
    assert window.generate_view.results.load_song_file(source)
    window.generate_view.results.roll.set_selection(3, 4)


def test_the_status_line_follows_regenerate_selection_cancel_and_undo(qtbot, make_window, tmp_path):
    window = make_window()
    view, results = window.generate_view, window.generate_view.results
    _select(view, asset_path(MELODY_MODEL))           # (its infill model rewrites the selection)
    _open_tune(window, tmp_path)
    view.controls.count.setValue(16)
    results.infill_action.trigger()
    assert window.statusBar().currentMessage().startswith("Regenerating bars 3-4")
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert window.statusBar().currentMessage() == "Regenerate selection cancelled; the song is unchanged."
    view.controls.count.setValue(1)
    results.infill_action.trigger()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    original = results.current_song()
    qtbot.mouseClick(results.infill_panel.accept_button, Qt.MouseButton.LeftButton)
    assert window.statusBar().currentMessage() == "Replaced bars 3-4 of variation 1 (Ctrl+Z undoes it)"
    results.undo_action.trigger()
    assert results.current_song() is original
    assert window.statusBar().currentMessage() == ("Undid: regenerate bars 3-4 of variation 1 "
                                                   "(Ctrl+Shift+Z redoes it)")
    results.redo_action.trigger()
    assert window.statusBar().currentMessage() == "Redid: regenerate bars 3-4 of variation 1"
