"""Starting fast: the window works while torch and the models load behind it
(gui/startup.py), and Generate comes on once they have loaded. The worker's
completion is held on an Event, so "before" is certain without timing."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.startup import warm_up

WAIT_MS = 60_000
ROOT = Path(__file__).resolve().parents[2]


def _held_window(qtbot, settings, models_dir, model):
    """A window loading behind its back with a worker that waits for the returned Event."""
    settings.add_recent_model(model)
    settings.set("models/last", str(model))
    release = threading.Event()

    def held(*args):
        release.wait(WAIT_MS / 1000)
        return warm_up(*args)

    window = MainWindow(settings, models_dir, background=True, load=held)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loader is not None, timeout=WAIT_MS)   # started after the first paint
    return window, release


def test_the_window_is_usable_before_the_models_load(qtbot, gui_settings, tmp_path, tiny_melody_model):
    window, release = _held_window(qtbot, gui_settings, tmp_path / "user-models", tiny_melody_model)
    try:
        view = window.generate_view
        assert window.loader.is_running() and view.loading
        assert view.model_combo.currentText() == "Loading models..." and not view.model_combo.isEnabled()
        assert not view.generate_button.isEnabled() and not window.generate_action.isEnabled()
        assert view.model_info.text() == "Loading the models..."
        window.tabs.setCurrentIndex(1)                         # the Train tab opens and takes input
        assert window.tabs.currentWidget() is window.train_view
        train = window.train_view
        qtbot.keyClicks(train.name, "mine")
        assert train.name.text().endswith("mine")
        assert "counting parameters" in train.form.size_label.text()
        assert not train.scan_button.isEnabled()
        assert window.loader.is_running()                      # all of it while the worker still waits
    finally:
        release.set()
    qtbot.waitUntil(lambda: view.generate_button.isEnabled(), timeout=WAIT_MS)
    assert window.generate_action.isEnabled() and not view.loading
    assert view.current_entry().path == Path(tiny_melody_model)
    assert view.loaded is not None and view.loaded.path == Path(tiny_melody_model)   # loaded behind, too
    assert "M parameters" in train.form.size_label.text() and train.trainer is not None
    view.controls.count.setValue(1)
    view.controls.bars.setValue(2)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert view.results.variations.count() == 1


def test_closing_while_loading_waits_for_the_worker(qtbot, gui_settings, tmp_path, tiny_melody_model):
    window, release = _held_window(qtbot, gui_settings, tmp_path / "user-models", tiny_melody_model)
    releaser = threading.Timer(0.2, release.set)    # (the close below blocks the GUI thread until the worker ends)
    releaser.start()
    window.close()
    releaser.join()
    assert not window.loader.is_running() and window.generate_view.loading


def test_importing_the_window_does_not_import_torch():
    code = "import sys, gui.main_window, gui.__main__; print(sorted(m for m in ('torch', 'onnxruntime', " \
           "'fluidsynth', 'composer.services.generate') if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_model_opened_while_loading_stays_selected(qtbot, gui_settings, tmp_path, tiny_melody_model):
    window, release = _held_window(qtbot, gui_settings, tmp_path / "user-models", tiny_melody_model)
    view = window.generate_view
    other = tmp_path / "other.model"
    other.write_bytes(Path(tiny_melody_model).read_bytes())
    try:
        view.add_model(other)                     # File > Open model while the worker waits
        assert view.current_entry().path == other and view.generate_button.isEnabled()
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.train_view.trainer is not None, timeout=WAIT_MS)
    assert view.current_entry().path == other
    assert view.loaded is None                    # the worker loaded another file: Generate loads this one
