"""The train view driven through the real window (offscreen): the ingestion
report, a tiny training run that ends in the model picker, cancelling."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from composer.music.midifile import write_midi
from composer.music.song import Note, Song, Track, melody_song

pytest.importorskip("training.trainer")
pytest.importorskip("composer.corpus.ingest")

from tinymodels import scale_tune

WAIT_MS = 180_000


@pytest.fixture
def tune_folder(tmp_path, monkeypatch):
    """Six usable tunes, a drums-only file and a file that is not MIDI."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # the ingest cache stays in tmp
    folder = tmp_path / "tunes"
    folder.mkdir()
    for k in range(6):
        notes = scale_tune(k - 3) + [Note(n.start + 8, n.end + 8, n.pitch) for n in scale_tune(k - 2)]
        write_midi(melody_song(notes), folder / f"tune{k}.mid")
    drums = Track(notes=[Note(i * 0.5, i * 0.5 + 0.25, 36 + i % 3) for i in range(32)], is_drum=True)
    write_midi(Song(tracks=[drums]), folder / "drums.mid")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    return folder


def _tiny_settings(view, name: str, steps: int) -> None:
    view.name.setText(name)
    view.representation.setCurrentText("melody")
    view.cell.setCurrentIndex(view.cell.findData("gru"))
    view.layers.setValue(1)
    view.hidden.setValue(16)
    view.embed.setValue(16)
    view.dropout.setValue(0.0)
    view.batch.setValue(4)
    view.seq_len.setValue(32)
    view.steps.setValue(steps)
    view.val_share.setValue(0.2)
    view.transpose_low.setValue(-1)
    view.transpose_high.setValue(1)


def test_choosing_a_folder_shows_the_ingestion_report(qtbot, make_window, tune_folder):
    window = make_window()
    view = window.train_view
    window.dialogs.choose_folder = lambda caption, folder: str(tune_folder)
    qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None and view.report is not None, timeout=WAIT_MS)
    assert view.counts.text().startswith("8 files: 6 used, 2 skipped")
    rows = {view.table.item(r, 0).text(): [view.table.item(r, c).text() for c in range(1, 4)]
            for r in range(view.table.rowCount())}
    assert rows["tune0.mid"][0] == "used" and int(rows["tune0.mid"][2]) == 32
    assert rows["drums.mid"][0] == "skipped" and "drum" in rows["drums.mid"][1]
    assert rows["broken.mid"][0] == "skipped" and rows["broken.mid"][1]
    assert view.start_button.isEnabled()


def test_a_damaged_file_is_used_up_to_the_damage_unless_the_box_says_skip(qtbot, make_window, tune_folder):
    whole = (tune_folder / "tune0.mid").read_bytes()
    (tune_folder / "cut.mid").write_bytes(whole[:len(whole) * 2 // 3])
    window = make_window()
    view = window.train_view
    window.dialogs.choose_folder = lambda caption, folder: str(tune_folder)

    def scanned_row():
        view.report = None
        qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.job is None and view.report is not None, timeout=WAIT_MS)
        rows = {view.table.item(r, 0).text(): [view.table.item(r, c).text() for c in range(1, 3)]
                for r in range(view.table.rowCount())}
        return rows["cut.mid"]

    status, reason = scanned_row()
    assert status == "used" and reason.startswith("truncated at byte") and "kept" in reason
    assert "7 used (1 damaged, read up to the damage)" in view.counts.text()
    assert view.config().strict_midi is False
    view.form.strict_midi.setChecked(True)
    status, reason = scanned_row()
    assert status == "skipped" and reason.startswith("corrupt: truncated at byte")
    assert view.config().strict_midi is True


def test_size_preset_shows_the_parameter_count(qtbot, make_window):
    view = make_window().train_view
    view.size.setCurrentText("small")
    small = view.size_label.text()
    view.size.setCurrentText("large")
    assert (view.layers.value(), view.hidden.value()) == (3, 768)
    assert view.size_label.text() != small and "M parameters" in view.size_label.text()
    view.hidden.setValue(300)
    assert view.size.currentText() == "custom"


def test_training_on_a_tiny_folder_puts_the_model_in_the_picker(qtbot, make_window, tune_folder, tmp_path):
    window = make_window(models_dir=tmp_path / "user-models")
    view = window.train_view
    view.folder.setText(str(tune_folder))
    _tiny_settings(view, "tiny-run", steps=6)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.job is not None and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    out = tmp_path / "user-models" / "tiny-run.model"
    assert out.is_file(), view.phase.text()
    assert "stopped" in view.phase.text().lower()
    assert view.loss_plot.points and view.val_plot.points
    assert (view.loss_plot.title, view.val_plot.title) == ("training loss (bits per note)",
                                                           "validation bits per note")   # one unit for both
    assert view.device.text().startswith("Device: ")
    assert view.table.rowCount() == 8
    entry = window.generate_view.current_entry()
    assert entry.path == out and entry.origin == "trained" and entry.cell == "GRU"
    # it can generate at once
    gen = window.generate_view
    gen.controls.count.setValue(2)
    gen.controls.bars.setValue(1)
    qtbot.mouseClick(gen.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gen.job is None, timeout=WAIT_MS)
    assert gen.results.variations.count() == 2


def test_cancelled_training_keeps_a_model_and_can_resume(qtbot, make_window, tune_folder, tmp_path):
    window = make_window(models_dir=tmp_path / "user-models")
    view = window.train_view
    view.folder.setText(str(tune_folder))
    _tiny_settings(view, "long-run", steps=1_000_000)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(view.loss_plot.points), timeout=WAIT_MS)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "cancelled" in view.phase.text()
    out = tmp_path / "user-models" / "long-run.model"
    assert out.is_file()
    assert window.generate_view.current_entry().path == out
    assert view.resume_button.isEnabled()
    # Resume continues the checkpoint (here with a shorter length, so it ends at once)
    view.steps.setValue(2)
    qtbot.mouseClick(view.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "Training stopped" in view.phase.text() and "cancelled" not in view.phase.text()
    assert window.generate_view.current_entry().path == out


def test_closing_while_training_asks_then_stops_the_run_with_a_checkpoint(qtbot, make_window, tune_folder, tmp_path):
    window = make_window(models_dir=tmp_path / "user-models")
    view = window.train_view
    view.folder.setText(str(tune_folder))
    _tiny_settings(view, "closed-run", steps=1_000_000)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(view.loss_plot.points), timeout=WAIT_MS)
    job = view.job
    questions = []
    window.dialogs.confirm = lambda title, question: questions.append(question) or False
    window.close()
    assert window.isVisible() and job.is_running() and len(questions) == 1
    window.dialogs.confirm = lambda title, question: True
    window.close()
    assert not window.isVisible() and not job.is_running()
    assert (tmp_path / "user-models" / "closed-run.model").is_file()         # cancelled runs keep a model
    assert (tmp_path / "user-models" / "closed-run.model.train" / "last.ckpt").is_file()


def test_a_model_another_training_is_writing_is_refused_in_one_line(qtbot, make_window, tune_folder, tmp_path):
    import os

    from training.run_lock import take_run_lock
    window = make_window(models_dir=tmp_path / "user-models")
    view = window.train_view
    view.folder.setText(str(tune_folder))
    _tiny_settings(view, "busy", steps=2)
    out = tmp_path / "user-models" / "busy.model"
    shown = []
    window.dialogs.errorShown.connect(lambda box: shown.append(box.text()))
    with take_run_lock(str(out) + ".train", out):       # as a `train` in a terminal would hold it
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    message = f"another training (pid {os.getpid()}) is writing {out}; wait for it or stop it"
    assert shown == [message] and view.phase.text() == f"Training failed: {message}"
    assert not out.exists() and view.start_button.isEnabled()


# ---- what the train tab says follows what happens ------------------------------------------

def _errors(window) -> list[str]:
    shown = []
    window.dialogs.errorShown.connect(lambda box: shown.append(box.text()))
    return shown


def test_an_unreadable_folder_names_the_permission(qtbot, make_window, tmp_path, monkeypatch):
    import os
    folder = tmp_path / "locked"
    folder.mkdir()
    write_midi(melody_song(scale_tune()), folder / "tune.mid")
    folder.chmod(0)
    try:
        os.scandir(folder).close()              # root reads it anyway: then the system is made to refuse
        real_scandir = os.scandir

        def refusing(path="."):
            if os.path.abspath(os.fspath(path)) == str(folder):
                raise PermissionError(13, "Permission denied", str(folder))
            return real_scandir(path)
        monkeypatch.setattr(os, "scandir", refusing)
    except PermissionError:
        pass
    window = make_window()
    view, shown = window.train_view, _errors(window)
    view.folder.setText(str(folder))
    qtbot.mouseClick(view.scan_button, Qt.MouseButton.LeftButton)
    message = f"{folder}: cannot read this folder (permission denied); allow reading it or choose another folder"
    assert shown == [message] and view.job is None
    assert view.counts.text() == "No folder scanned yet."          # (said "0 files: 0 used, 0 skipped")
    view.name.setText("locked-run")
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert shown == [message, message] and view.job is None
    folder.chmod(0o755)


def test_a_typed_folder_enables_scan_at_once(qtbot, make_window, tune_folder):
    window = make_window()
    view = window.train_view
    view.folder.clear()
    assert not view.scan_button.isEnabled()
    view.folder.setFocus()
    qtbot.keyClicks(view.folder, str(tune_folder))
    assert view.scan_button.isEnabled()                  # (waited for Enter or a focus change)


def test_another_folder_drops_the_report_of_the_last(qtbot, make_window, tune_folder, tmp_path):
    window = make_window()
    view, shown = window.train_view, _errors(window)
    view.folder.setText(str(tune_folder))
    view.scan()
    qtbot.waitUntil(lambda: view.job is None and view.report is not None, timeout=WAIT_MS)
    assert view.table.rowCount() == 8
    view.folder.setText(str(tmp_path / "nowhere"))
    qtbot.mouseClick(view.scan_button, Qt.MouseButton.LeftButton)
    assert shown == [f"{tmp_path / 'nowhere'}: no such folder"]
    assert view.report is None and view.table.rowCount() == 0 and view.counts.text() == "No folder scanned yet."


def test_an_empty_folder_is_refused_before_replacing_a_model(qtbot, make_window, tmp_path):
    models = tmp_path / "user-models"
    models.mkdir()
    (models / "mine.model").write_bytes(b"an existing model")
    empty = tmp_path / "empty"
    empty.mkdir()
    window = make_window(models_dir=models)
    view, shown = window.train_view, _errors(window)
    questions = []
    window.dialogs.confirm = lambda title, question: questions.append(question) or True
    view.folder.setText(str(empty))
    view.name.setText("mine")
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert shown == [f"{empty}: no usable MIDI files (no .mid/.midi files found)"] and not questions
    assert view.job is None and (models / "mine.model").read_bytes() == b"an existing model"
    view.scan()
    qtbot.waitUntil(lambda: view.job is None and view.report is not None, timeout=WAIT_MS)
    assert view.counts.text().startswith("0 files") and not view.start_button.isEnabled()
    assert "no .mid or .midi files in this folder" in view.counts.text()       # the reason, before Start
    assert view.progress.value() == 0                                           # (a full bar for nothing)
    assert "No usable MIDI file" in view.start_button.toolTip()


def test_a_cancelled_run_shows_the_steps_done_and_no_eta(qtbot, make_window, tune_folder, tmp_path):
    window = make_window(models_dir=tmp_path / "user-models")
    view = window.train_view
    view.folder.setText(str(tune_folder))
    _tiny_settings(view, "cut-short", steps=1_000_000)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(view.loss_plot.points), timeout=WAIT_MS)
    assert "ETA" in view.speed.text()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "cancelled" in view.phase.text()
    assert view.progress.maximum() == 1_000_000 and 0 < view.progress.value() < 1000    # (was a full bar)
    assert "ETA" not in view.speed.text() and "elapsed" in view.speed.text()
    assert not view.live.clock.isActive()


def test_the_training_clock_moves_between_steps(qtbot):
    """A step may take minutes on a big model: elapsed and ETA move with the clock, not with the steps."""
    from gui.train_report import TrainProgressView
    from training.config import TrainProgress
    live = TrainProgressView()
    qtbot.addWidget(live)
    live.start_clock()
    live.show_training(TrainProgress(step=1, total_steps=10, phase="training", tokens_per_s=100.0, eta_s=600.0,
                                     elapsed_s=5.0))
    assert live.speed.text() == "100 tokens/s, ETA 10:00, elapsed 0:05"
    qtbot.waitUntil(lambda: "elapsed 0:05" not in live.speed.text(), timeout=10_000)     # no new step came
    assert "ETA 9:5" in live.speed.text()
    live.finish(1)
    assert live.speed.text().startswith("100 tokens/s, elapsed 0:0")


def test_the_loss_curve_is_in_bits_per_note_like_the_validation_curve(qtbot):
    import math

    from composer.corpus.ingest import FileResult, IngestReport
    from gui.train_report import LOSS_PER_NOTE, LOSS_PER_TOKEN, TrainProgressView
    from training.config import TrainProgress
    view = TrainProgressView()
    qtbot.addWidget(view)
    assert view.loss_plot.title == LOSS_PER_NOTE            # before a run too (read nats/token until it began)
    report = IngestReport(folder="f", representation="melody",
                          files=[FileResult(path="a.mid", status="used", n_notes=100, n_tokens=250),
                                 FileResult(path="b.mid", status="skipped", reason="no notes")])
    view.show_training(TrainProgress(phase="scanning", report=report))
    view.show_training(TrainProgress(phase="training", step=10, total_steps=20, train_loss=1.0, report=report))
    assert view.loss_plot.title == LOSS_PER_NOTE
    assert view.loss_plot.last() == (10, pytest.approx(2.5 / math.log(2)))       # 1 nat/token x 2.5 tokens/note
    view.clear_curves()
    assert view.loss_plot.title == LOSS_PER_NOTE
    view.show_training(TrainProgress(phase="training", step=1, total_steps=20, train_loss=1.0))
    assert view.loss_plot.title == LOSS_PER_TOKEN and view.loss_plot.last() == (1, 1.0)   # no folder report


def test_the_train_tab_shows_and_uses_what_is_chosen_for_the_folder(qtbot, make_window, tune_folder):
    window = make_window()
    view = window.train_view
    assert view.form.auto_size.isChecked() and not view.transpose_low.isEnabled()
    view.length_unit.setCurrentText("steps")
    view.steps.setValue(2)
    window.dialogs.choose_folder = lambda caption, folder: str(tune_folder)
    qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None and view.report is not None, timeout=WAIT_MS)
    text = view.form.chosen_label.text()
    assert "chosen for 6 file(s), 192 notes" in text and "transposition off" in text
    view.steps.setValue(5000)                         # many passes over six tunes: the label follows
    assert "transposition -5..+6 semitones" in view.form.chosen_label.text()
    assert view.config().transpose is None            # the trainer chooses the same
    view.form.auto_size.setChecked(False)
    assert view.transpose_low.isEnabled() and view.form.chosen_label.isHidden()
    assert view.config().transpose == (view.transpose_low.value(), view.transpose_high.value())
