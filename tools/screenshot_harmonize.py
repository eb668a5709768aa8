"""Take the documentation screenshot of Harmonise by driving the real window:
`python -m tools.screenshot_harmonize docs/img [MODEL] [SONG.mid]` (under Xvfb:
`xvfb-run -a ...`).

Opens SONG (default: an 8-bar code-made tune, tools.screenshots.tune) to edit,
picks MODEL (default: the shipped composer/assets/bach-harmonizer.model) in
the Harmonise list, harmonises it (4 takes, seed 2024) and shows the first
take with its parts legend. Nothing touches the user's settings or model
folder. Writes DIR/harmonize.png.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from composer.music.midifile import write_midi
from composer.music.song import melody_song
from gui.catalog import ASSETS_DIR
from tools.screenshots import _grab, _wait, tune


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    model = Path(argv[1]) if len(argv) > 1 else ASSETS_DIR / "bach-harmonizer.model"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow
    from gui.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="rnn-composer-shots-"))
    if len(argv) > 2:
        song_path = Path(argv[2])
    else:
        song_path = tmp / "tune.mid"
        write_midi(melody_song(tune(5), tempo=90, program=73), song_path)
    window = MainWindow(Settings.at_path(tmp / "settings.ini"), tmp / "models")
    window.dialogs.confirm = lambda title, question: True
    window.dialogs.open_file = lambda caption, folder, file_filter: str(model)
    window.resize(1440, 900)
    window.show()

    gen = window.generate_view
    window.tabs.setCurrentWidget(gen)
    c = gen.controls
    c.count.setValue(4)
    c.seed.setValue(2024)
    c.lock_seed.setChecked(True)        # the same picture every time
    c.temperature.setValue(0.8)
    results = gen.results
    if not results.load_song_file(song_path):
        return 1
    choice = results.arrange.harmony_model
    choice.setCurrentIndex(choice.count() - 1)          # "Open model file...": MODEL
    choice.activated.emit(choice.count() - 1)
    results.arrange.harmonize_button.click()
    if gen.job is None:
        return 1
    _wait(gen.job.finished)
    if not results.infill_panel.is_open():
        return 1
    QTimer.singleShot(300, app.quit)       # (the layout settles a moment after the takes show)
    app.exec()
    _grab(window, out / "harmonize.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
