"""`python -m gui` / `rnn-composer-app`: open the main window."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnn-composer-app", description="RNN Composer Studio desktop app")
    parser.add_argument("--settings", default=None, help="keep settings in this INI file instead of the user's")
    parser.add_argument("--models-dir", default=None, help="folder for trained models (default: the app data folder)")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.settings import APPLICATION, ORGANIZATION, Settings
    from gui.startup import EAGER_ENV, REPORT_ENV, report

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    settings = Settings.at_path(args.settings) if args.settings else Settings()
    window = MainWindow(settings, args.models_dir, background=os.environ.get(EAGER_ENV) != "1")
    window.painted.connect(lambda: report("shown"))
    if os.environ.get(REPORT_ENV) == "1":                # benchmarks/startup.py: quit once everything is loaded
        window.loaded.connect(window.close)
        window.painted.connect(lambda: window.close() if not window.generate_view.loading else None)
    window.show()
    # Ctrl+C in the terminal closes the window the normal way (asks if a job runs, saves settings);
    # the timer lets the Python interpreter run its signal handler while Qt's event loop waits.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
