"""Nothing is lost (offscreen, the real window): a new seed on every Generate
unless it is locked, the seed of each result shown, one history of
generations, continuations, regenerations, takes and note edits with undo,
redo and the History drop-down, and a primer that is not reused after a restart."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt

from composer.cli.main import main
from composer.music.midifile import write_midi
from composer.music.song import Note, melody_song
from gui.primer_choice import NO_PRIMER
from gui.settings import Settings

WAIT_MS = 60_000


def _view(window, *, count=2, bars=2):
    view = window.generate_view
    view.controls.count.setValue(count)
    view.controls.bars.setValue(bars)
    view.controls.temperature.setValue(1.0)
    view.controls.top_p.setValue(1.0)
    return view


def _run(qtbot, view, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert view.job is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def _pick(results, index: int) -> None:
    """Choose entry `index` of the History drop-down, as a user does."""
    results.history_combo.setCurrentIndex(index)
    results.history_combo.activated.emit(index)


def _labels(results) -> list[str]:
    combo = results.history_combo
    return [combo.itemText(i) for i in range(combo.count())]


def test_generate_draws_a_new_seed_each_time_unless_it_is_locked(qtbot, make_window):
    window = make_window()
    view = _view(window)
    results, seed_box = view.results, view.controls.seed
    assert not view.controls.lock_seed.isChecked()               # new material by default
    _run(qtbot, view, view.generate_button)
    first, first_seed = list(results.variations.songs), seed_box.value()
    _run(qtbot, view, view.generate_button)
    second, second_seed = list(results.variations.songs), seed_box.value()
    assert second_seed != first_seed and second != first
    # each result shows the seed that makes it again: over the list, in the history, in the status
    assert results.title.text() == f"Variations · seed {second_seed}"
    assert _labels(results) == [f"1. Generate #1 (seed {first_seed}, 2 variation(s))",
                                f"2. Generate #2 (seed {second_seed}, 2 variation(s))"]
    assert f"seed {second_seed}" in view.message.text()
    # locked: that seed again, the same music
    view.controls.lock_seed.setChecked(True)
    _run(qtbot, view, view.generate_button)
    assert seed_box.value() == second_seed and results.variations.songs == second
    # any earlier result is made again by typing its seed and locking it
    seed_box.setValue(first_seed)
    _run(qtbot, view, view.generate_button)
    assert results.variations.songs == first
    assert window.settings.get("generate/lock_seed")
    results.undo_action.trigger()                                # a locked seed stays what the user set
    assert results.variations.songs == second and seed_box.value() == first_seed


def test_the_same_seed_writes_the_same_files(qtbot, make_window, tiny_melody_model, tmp_path):
    window = make_window()
    view = _view(window)
    window.dialogs.confirm = lambda title, question: True

    def export(name: str) -> bytes:
        window.dialogs.save_file = lambda caption, suggested, file_filter: str(tmp_path / name)
        window.export_action.trigger()
        return (tmp_path / name).read_bytes()

    _run(qtbot, view, view.generate_button)
    seed = view.controls.seed.value()
    once = export("once.mid")
    _run(qtbot, view, view.generate_button)                      # unlocked: other music
    assert export("other.mid") != once
    view.controls.seed.setValue(seed)
    view.controls.lock_seed.setChecked(True)
    _run(qtbot, view, view.generate_button)
    assert export("again.mid") == once
    assert main(["generate", "--model", str(tiny_melody_model), "--seed", str(seed), "--count", "2",
                 "--bars", "2", "--temperature", "1", "--top-p", "1", "--out", str(tmp_path / "cli"),
                 "--quiet"]) == 0
    assert sorted((tmp_path / "cli").glob("*.mid"))[0].read_bytes() == once


def test_continue_and_regenerate_from_keep_every_earlier_list(qtbot, make_window):
    window = make_window()
    view = _view(window, count=2, bars=4)
    results = view.results
    _run(qtbot, view, view.generate_button)
    generated, first_seed = list(results.variations.songs), view.controls.seed.value()
    results.variations.setCurrentRow(1)
    _run(qtbot, view, results.continue_button)
    continued = list(results.variations.songs)
    assert "variation 2" in view.controls.primer_label.text()
    results.regen_bar.setValue(3)
    _run(qtbot, view, results.regen_button)
    regenerated = list(results.variations.songs)
    labels = _labels(results)
    assert labels[1].startswith("2. Continue variation 2 (seed ") and labels[1].endswith(", 2 variation(s))")
    assert labels[2].startswith("3. Regenerate variation 1 from bar 3 (seed ")
    assert results.history_combo.currentIndex() == 2
    # back to the first list: the exact songs, and the later entries stay
    _pick(results, 0)
    assert results.variations.songs == generated and all(a is b for a, b in zip(results.variations.songs, generated))
    assert results.roll.song is generated[0] and _labels(results) == labels
    assert view.message.text() == "" and not view.progress.isTextVisible()     # (described the last run)
    assert view.controls.seed.value() == first_seed              # unlocked, the box shows the list's seed
    assert window.statusBar().currentMessage().startswith("Back to 1. Generate #1 (seed ")
    _pick(results, 1)
    assert results.variations.songs == continued and results.variations.primer_beats > 0
    results.undo_action.trigger()                               # back to where the pick came from
    assert results.variations.songs == generated
    results.undo_action.trigger()
    assert results.variations.songs == regenerated
    # an undone step replaced by a new action still has its entry
    results.undo_action.trigger()
    assert results.variations.songs == continued
    _run(qtbot, view, view.generate_button)
    assert len(_labels(results)) == 4 and not results.redo_action.isEnabled()
    _pick(results, 2)
    assert results.variations.songs == regenerated


def test_undo_and_redo_walk_a_generate_a_continue_and_a_take(qtbot, make_window, tmp_path):
    window = make_window()
    view = _view(window, count=2, bars=2)
    results = view.results
    primer = write_midi(melody_song([Note(i, i + 1, 62 + i) for i in range(4)]), tmp_path / "opening.mid")
    assert view.set_primer_file(primer)
    _run(qtbot, view, view.generate_button)
    generated = list(results.variations.songs)
    _run(qtbot, view, results.continue_button)
    continued = list(results.variations.songs)
    assert view.controls.primer_label.text().startswith("variation 1 (")
    results.roll.set_selection(3, 3)
    view.controls.count.setValue(1)
    _run(qtbot, view, results.infill_button)
    qtbot.mouseClick(results.infill_panel.accept_button, Qt.MouseButton.LeftButton)
    taken = list(results.variations.songs)
    assert taken[0] is not continued[0] and taken[1] is continued[1]
    assert results.undo_action.text() == "&Undo regenerate bar 3 of variation 1 (take 1)"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    ctrl_z = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, *ctrl_z)
    assert results.variations.songs == continued and results.roll.song is continued[0]
    assert results.roll.selection == (3, 3)                     # the same piece: the selection stays
    qtbot.keyClick(window, *ctrl_z)                             # undoing Continue brings the primer back too
    assert results.variations.songs == generated and results.roll.selection is None
    assert view.primer_path == str(primer) and view.controls.primer_label.text().startswith("opening.mid (1 bar)")
    qtbot.keyClick(window, *ctrl_z)
    assert results.variations.count() == 0 and results.roll.song is None and not results.undo_action.isEnabled()
    redo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    for expected in (generated, continued, taken):
        qtbot.keyClick(window, *redo)
        assert results.variations.songs == expected
    assert view.controls.primer_label.text().startswith("variation 1 (")


def test_history_steps_wait_while_a_job_runs(qtbot, make_window):
    window = make_window()
    view = _view(window, count=1, bars=1)
    _run(qtbot, view, view.generate_button)
    view.controls.count.setValue(16)
    view.controls.bars.setValue(256)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    results = view.results
    assert not results.undo_action.isEnabled() and not results.history_combo.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert results.undo_action.isEnabled() and results.history_combo.isEnabled()
    assert results.history_combo.count() == 1                     # a cancelled run adds nothing


def test_a_note_edit_is_a_step_of_the_history(qtbot, make_window):
    """What the editable piano roll calls when the user edits notes."""
    window = make_window()
    view = _view(window, count=2, bars=2)
    results = view.results
    _run(qtbot, view, view.generate_button)
    results.variations.setCurrentRow(1)
    before = results.current_song()
    after = melody_song([Note(0, 1, 60), Note(1, 2, 64)])
    assert not results.record_edit("delete 1 note", results.variations.songs[0], after)   # not the one shown
    assert results.record_edit("draw 2 notes", before, after)
    assert results.variations.songs[1] is after and results.roll.song is after
    assert results.variations.item(1).text().startswith("2. 1 bars, 2 notes")
    assert _labels(results)[-1] == "2. draw 2 notes in variation 2"
    results.undo_action.trigger()
    assert results.variations.songs[1] is before and results.variations.currentRow() == 1
    results.redo_action.trigger()
    assert results.variations.songs[1] is after
    # the roll's own edits come the same way, with the notes they select
    from gui.roll_edit import delete_edit
    results.roll.select_notes([after.notes[0]])
    results.roll.songEdited.emit(delete_edit(after, [after.notes[0]]))
    assert results.current_song().notes == [after.notes[1]] and results.roll.selected == []
    assert _labels(results)[-1] == "3. delete 1 note in variation 2"
    _pick(results, 0)                                            # the list as generated, edits kept in the History
    assert results.variations.songs[1] is before
    results.undo_action.trigger()
    assert results.current_song().notes == [after.notes[1]]
    results.undo_action.trigger()
    assert results.current_song() is after and results.roll.selected == [after.notes[0]]


def test_the_primer_is_not_restored_after_a_restart(qtbot, make_window, gui_settings, tmp_path):
    window = make_window()
    view = window.generate_view
    primer = write_midi(melody_song([Note(i, i + 1, 60 + i) for i in range(8)]), tmp_path / "old-idea.mid")
    assert view.set_primer_file(primer)
    assert view.controls.primer_label.text().startswith("old-idea.mid (2 bars): ")
    window.close()
    again = make_window(Settings.at_path(tmp_path / "settings.ini")).generate_view
    assert again.primer is None and again.controls.primer_label.text() == NO_PRIMER
    assert not again.controls.primer_clear.isEnabled()


def test_an_older_settings_file_with_a_primer_is_ignored_and_cleaned(qtbot, make_window, tmp_path):
    primer = write_midi(melody_song([Note(i, i + 1, 60 + i) for i in range(8)]), tmp_path / "old-idea.mid")
    path = tmp_path / "old.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    old.setValue("settings/version", 2)
    old.setValue("generate/primer", str(primer))           # what the app saved before
    old.sync()
    view = make_window(Settings.at_path(path)).generate_view
    assert view.primer is None and view.controls.primer_label.text() == NO_PRIMER
    assert not QSettings(str(path), QSettings.Format.IniFormat).contains("generate/primer")


def test_a_run_that_does_not_start_or_is_cancelled_leaves_the_lists_seed_in_the_box(qtbot, make_window):
    from composer.assets import INFILL_MODEL, asset_path
    window = make_window()
    view = _view(window)
    _run(qtbot, view, view.generate_button)
    listed = view.results.variations.seed
    assert view.controls.seed.value() == listed
    # an infill model refuses Generate: no run, so no new seed in the box
    index = next(i for i, e in enumerate(view.entries) if e.path.resolve() == asset_path(INFILL_MODEL).resolve())
    view.model_combo.setCurrentIndex(index)
    view.generate()
    assert view.job is None and view.controls.seed.value() == listed        # (drew a new one)
    view.model_combo.setCurrentIndex(0)
    # a cancelled run leaves the list as it was, and the box shows that list's seed
    view.controls.count.setValue(8)
    view.controls.bars.setValue(64)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    assert view.job is not None and view.controls.seed.value() != listed    # the running run's seed
    view.cancel()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert view.results.variations.seed == listed and view.controls.seed.value() == listed
