"""Take the documentation screenshots by driving the real window:
`python -m tools.screenshots docs/img [STEPS]` (under Xvfb: `xvfb-run -a ...`).

Writes code-made tunes to a temporary folder, scans and trains a small model
through the train view, then generates with it in the generate view; then
form.png: an AABB piece of the shipped melody model with its section letters
(alone: `python -m tools.screenshots docs/img form`). `... OUT small`: both
tabs at 900x600 (generate-900x600.png, train-900x600.png with Advanced settings
ticked), to check that nothing is cut. `... OUT edit`: edit.png, notes of an
opened tune being edited in the piano roll (a note drawn, a rubber band of
notes being dragged). Nothing touches the user's settings or model folder.
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from composer.music.midifile import write_midi
from composer.music.song import Note, melody_song

MAJOR = [0, 2, 4, 5, 7, 9, 11]
RHYTHMS = [[1, 1, 1, 1], [0.5, 0.5, 1, 1, 1], [1.5, 0.5, 1, 1], [2, 1, 1], [0.5, 0.5, 0.5, 0.5, 2], [4]]


def tune(seed: int, bars: int = 8) -> list[Note]:
    """A diatonic random-walk tune in a random key, ending on the tonic."""
    rng = random.Random(seed)
    tonic = 60 + rng.choice([-5, -3, 0, 2, 4, 5, 7])
    degree, notes, beat = 0, [], 0.0
    for bar in range(bars):
        rhythm = RHYTHMS[-1] if bar == bars - 1 else rng.choice(RHYTHMS[:-1])
        for length in rhythm:
            if bar == bars - 1:
                degree = 0
            pitch = tonic + 12 * (degree // 7) + MAJOR[degree % 7]
            notes.append(Note(beat, beat + length, pitch, velocity=rng.randint(60, 115)))
            beat += length
            degree = max(-5, min(9, degree + rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3])))
    return notes


def _wait(signal) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()


def _grab(window, path: Path) -> None:
    window.grab().save(str(path))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow
    from gui.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="rnn-composer-shots-"))
    folder = tmp / "tunes"
    folder.mkdir()
    for seed in range(48):
        write_midi(melody_song(tune(seed), tempo=110), folder / f"tune_{seed:02d}.mid")
    (folder / "notes.txt.mid").write_bytes(b"this is not a MIDI file")
    window = MainWindow(Settings.at_path(tmp / "settings.ini"), tmp / "models")
    window.dialogs.confirm = lambda title, question: True
    window.resize(1440, 900)
    window.show()
    if argv[1:2] == ["form"]:
        return _form_shot(app, window, out)
    if argv[1:2] == ["small"]:
        return _small_shots(app, window, out)
    if argv[1:2] == ["edit"]:
        return _edit_shot(app, window, out, tmp)

    train = window.train_view
    window.tabs.setCurrentWidget(train)
    train.folder.setText(str(folder))
    train.name.setText("folk-demo")
    train.size.setCurrentText("small")
    train.hidden.setValue(128)
    train.embed.setValue(64)
    train.batch.setValue(32)
    train.seq_len.setValue(64)
    train.steps.setValue(int(argv[1]) if len(argv) > 1 else 300)
    train.scan()
    _wait(train.job.finished)
    train.start()
    _wait(train.job.finished)
    _grab(window, out / "train.png")

    gen = window.generate_view
    window.tabs.setCurrentWidget(gen)
    c = gen.controls
    c.count.setValue(4)
    c.bars.setValue(8)
    c.seed.setValue(2024)
    c.temperature.setValue(0.9)
    c.key.setCurrentText("D")
    c.scale.setCurrentText("dorian")
    c.instrument.setCurrentIndex(73)
    gen.generate()
    _wait(gen.job.finished)
    gen.results.variations.setCurrentRow(1)
    QTimer.singleShot(100, app.quit)
    app.exec()
    _grab(window, out / "generate.png")
    return _form_shot(app, window, out)


def _form_shot(app, window, out: Path) -> int:
    """form.png: 16 bars of AABB (4-bar phrases, second endings) from the shipped melody model."""
    gen = window.generate_view
    window.tabs.setCurrentWidget(gen)
    shipped = next(i for i, e in enumerate(gen.entries) if e.path.name == "melody.model")
    gen.model_combo.setCurrentIndex(shipped)
    c = gen.controls
    c.count.setValue(4)
    c.bars.setValue(16)
    c.seed.setValue(11)
    c.temperature.setValue(1.0)
    c.key.setCurrentText("G")
    c.scale.setCurrentText("major")
    c.pitch_low.setValue(55)
    c.pitch_high.setValue(88)
    c.form_control.form.setCurrentText("AABB")
    c.form_control.vary.setChecked(True)
    gen.generate()
    _wait(gen.job.finished)
    QTimer.singleShot(100, app.quit)
    app.exec()
    _grab(window, out / "form.png")
    window.close()
    return 0


def _small_shots(app, window, out: Path) -> int:
    """Both tabs at 900x600 with the shipped melody model: nothing may be cut."""
    window.resize(900, 600)
    gen = window.generate_view
    window.tabs.setCurrentWidget(gen)
    gen.controls.count.setValue(4)
    gen.generate()
    _wait(gen.job.finished)
    for tab, name in ((gen, "generate-900x600.png"), (window.train_view, "train-900x600.png")):
        window.tabs.setCurrentWidget(tab)
        window.train_view.show_advanced.setChecked(True)
        QTimer.singleShot(200, app.quit)
        app.exec()
        _grab(window, out / name)
    window.close()
    return 0


def _edit_shot(app, window, out: Path, tmp: Path) -> int:
    """edit.png: a tune opened to edit; a note drawn (Ctrl+drag), then a rubber
    band over four notes, which are being dragged a beat later and up a third."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    song_path = tmp / "tune.mid"
    write_midi(melody_song(tune(5), tempo=110, program=73), song_path)
    results = window.generate_view.results
    window.tabs.setCurrentWidget(window.generate_view)
    results.load_song_file(song_path)
    app.processEvents()
    roll, view = results.roll, results.roll.viewport()

    def at(beat: float, pitch: float) -> QPoint:
        o = roll.origin()
        y = o.y() + (roll.pitch_high - pitch + 0.5) * roll.row_height
        return QPointF(o.x() + beat * roll.px_per_beat, y).toPoint()

    def drag(start: QPoint, end: QPoint, modifiers=Qt.KeyboardModifier.NoModifier, release: bool = True) -> None:
        QTest.mousePress(view, Qt.MouseButton.LeftButton, modifiers, start)
        for k in range(1, 5):
            QTest.mouseMove(view, start + (end - start) * (k / 4))
        if release:
            QTest.mouseRelease(view, Qt.MouseButton.LeftButton, modifiers, end)

    notes = results.current_song().notes
    drag(at(29.1, notes[-1].pitch + 7), at(31.0, notes[-1].pitch + 7), Qt.KeyboardModifier.ControlModifier)
    group = [n for n in results.current_song().notes if 8 <= n.start < 12][:4]
    low, high = min(n.pitch for n in group), max(n.pitch for n in group)
    drag(at(7.8, high + 1.5), at(group[-1].end - 0.2, low - 1.5))
    grab = group[0]
    start = at(grab.start + grab.duration / 2, grab.pitch)
    drag(start, start + QPoint(int(roll.px_per_beat), -4 * roll.row_height), release=False)
    QTimer.singleShot(200, app.quit)
    app.exec()
    _grab(window, out / "edit.png")
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
