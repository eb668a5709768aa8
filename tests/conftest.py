"""Shared test fixtures.

Qt must never try to open a display in the test run: the offscreen platform
is selected here, before anything imports Qt. (An explicit QT_QPA_PLATFORM,
e.g. xcb under Xvfb, is respected.)
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

# ---- MIDI --------------------------------------------------------------------------

@pytest.fixture
def tunes(tmp_path, monkeypatch):
    """A folder of three short code-made melodies, with the ingest cache in tmp_path."""
    from benchmarks.midi_factory import melody, write_song
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for i in range(3):
        write_song(melody(24, seed=i), tmp_path / "tunes" / f"t{i}.mid")
    return tmp_path / "tunes"


# ---- GUI ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tiny_melody_model(tmp_path_factory):
    """A tiny melody LSTM trained for a few steps on code-made tunes (a real model file)."""
    from tinymodels import tiny_model_file
    return tiny_model_file(tmp_path_factory.mktemp("models") / "tiny-melody.model", "melody", "lstm", steps=30)


@pytest.fixture
def gui_settings(tmp_path):
    """App settings in a temporary INI file (never the user's)."""
    from gui.settings import Settings
    return Settings.at_path(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, tmp_path, gui_settings, tiny_melody_model):
    """Builds MainWindows on temporary settings and a temporary user models folder;
    the tiny melody model is selected. Every window is closed (jobs stopped) at the end."""
    from gui.main_window import MainWindow

    windows = []

    def make(settings=None, models_dir=None):
        settings = settings or gui_settings
        if not settings.get("models/recent"):
            settings.add_recent_model(tiny_melody_model)
            settings.set("models/last", str(tiny_melody_model))
        window = MainWindow(settings, models_dir or tmp_path / "user-models")
        qtbot.addWidget(window)
        window.dialogs.confirm = lambda title, question: True   # "stop the job and quit?" -> yes
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        for job in window.running_jobs():
            job.stop_and_wait()
