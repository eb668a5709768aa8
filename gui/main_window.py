"""The main window: Generate and Train tabs, menus and shortcuts, and a
close that never leaves a worker thread running. With `background`, torch
and the models load behind the shown window (gui/startup.py)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QTabWidget, QWidget

from gui.dialogs import Dialogs
from gui.generate_view import GenerateView
from gui.jobs import Job
from gui.settings import APPLICATION, Settings, default_user_models_dir
from gui.startup import Loaded, WarmUp, report, warm_up
from gui.train_view import TrainView


class MainWindow(QMainWindow):
    """`settings` and `user_models_dir` default to the user's; tests pass temporary ones.
    `background`: the models load on a worker (`load`, default gui.startup.warm_up) once
    the window shows; else they are loaded before the constructor returns."""

    painted = Signal()      # the window's first paint is done: it is on screen
    loaded = Signal()       # the models are read (or the worker failed and the picker read them itself)

    def __init__(self, settings: Settings | None = None, user_models_dir: Path | None = None,
                 parent: QWidget | None = None, *, background: bool = False, load: WarmUp = warm_up):
        super().__init__(parent)
        self.settings = settings or Settings()
        self.user_models_dir = Path(user_models_dir) if user_models_dir else default_user_models_dir()
        self.dialogs = Dialogs(self)
        self.setWindowTitle(APPLICATION)
        self.generate_view = GenerateView(self.settings, self.dialogs, self.user_models_dir, loading=True)
        self.train_view = TrainView(self.settings, self.dialogs, self.user_models_dir, loading=True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.generate_view, "Generate")
        self.tabs.addTab(self.train_view, "Train")
        self.setCentralWidget(self.tabs)
        self._make_actions()
        for view in (self.generate_view, self.train_view):
            view.status.connect(self.show_status)
            view.busyChanged.connect(self._update_actions)
        self.generate_view.results.variations.currentRowChanged.connect(self._update_actions)
        self.train_view.modelTrained.connect(self.on_model_trained)
        geometry = self.settings.get("window/geometry")
        if geometry.isEmpty() or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        self.tabs.setCurrentIndex(min(1, max(0, self.settings.get("window/tab"))))
        self._load, self.loader, self._painted, self._background = load, None, False, background
        if not background:
            self._on_loaded(load(*self._load_args()))
        self._update_actions()

    def _load_args(self) -> tuple[Path, list[str], str]:
        return self.user_models_dir, self.settings.get("models/recent"), self.settings.get("models/last")

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._on_first_paint)     # (after the children's paint)

    def _on_first_paint(self) -> None:
        self.painted.emit()
        self._load_behind()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(1000, self._load_behind)          # in case no paint comes (a minimized window)

    def _load_behind(self) -> None:
        """Start the worker of gui/startup.py, once the window is on screen (it competes for the CPU)."""
        if not self._background or self.loader is not None:    # (a model opened meanwhile: train still waits)
            return
        args = self._load_args()
        self.loader = Job("load", lambda _progress, _should_stop: self._load(*args), self)
        self.loader.succeeded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.loader.start()

    def _on_loaded(self, loaded: Loaded) -> None:
        self.generate_view.finish_loading(loaded)
        self.train_view.finish_loading()
        self._update_actions()
        report("ready")
        self.loaded.emit()

    def _on_load_failed(self, error) -> None:
        """An unexpected failure of the worker: read the models here instead (a bad file is an entry's error)."""
        self.show_status(f"Loading behind the window failed ({error.message}); loading now")
        self.generate_view.refresh_models(select=self.settings.get("models/last") or None)
        self.train_view.finish_loading()
        self._update_actions()
        self.loaded.emit()

    def _make_actions(self) -> None:
        g, r = self.generate_view, self.generate_view.results

        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setStatusTip(tip)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.open_model_action = action("&Open model file...", g.open_model, QKeySequence.StandardKey.Open)
        self.open_primer_action = action("Open &primer...", g.open_primer)
        self.open_midi_action = action("Open &MIDI file to edit...", r.open_midi, "Ctrl+Shift+O",
                                       "Open a .mid file to regenerate bars of it")
        self.export_action = action("&Export .mid...", r.export_midi, "Ctrl+E", "Write the selected variation")
        self.export_audio_action = action("Export &audio...", r.export_audio)
        self.quit_action = action("&Quit", self.close, "Ctrl+Q")   # StandardKey.Quit is unbound on Windows
        self.generate_action = action("&Generate", g.generate, "Ctrl+G", "Sample new variations")
        self.cancel_action = action("&Cancel", self.cancel_jobs, "Esc", "Stop the running job")
        self.play_action = action("&Play / Stop", r.toggle_play, "Space")
        file_menu = self.menuBar().addMenu("&File")
        for act in (self.open_model_action, self.open_primer_action, self.open_midi_action, self.export_action,
                    self.export_audio_action):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")        # the results panel owns these actions
        for act in (r.undo_action, r.redo_action, r.infill_action, r.clear_selection_action):
            edit_menu.addAction(act)
        gen_menu = self.menuBar().addMenu("&Generate")
        for act in (self.generate_action, self.cancel_action, self.play_action):
            gen_menu.addAction(act)
        sound_menu = self.menuBar().addMenu("&Sound")
        self.soundfont_action = action("Choose &SoundFont...", self.choose_soundfont,
                                       tip="Play and Export audio with another General MIDI .sf2")
        self.default_soundfont_action = action("&Bundled SoundFont", lambda: r.set_soundfont(None),
                                               tip="The small General MIDI SoundFont that comes with the app")
        sound_menu.addAction(self.soundfont_action)
        sound_menu.addAction(self.default_soundfont_action)
        sound_menu.addSeparator()
        self.output_menu = sound_menu.addMenu("&Play through")
        self.output_menu.aboutToShow.connect(self.fill_output_menu)
        self.fill_output_menu()

    def _update_actions(self, *_args) -> None:
        g, r = self.generate_view, self.generate_view.results
        has_song = r.current_song() is not None and not r.showing_partial
        self.generate_action.setEnabled(g.generate_button.isEnabled())
        self.cancel_action.setEnabled(bool(self.running_jobs()))
        self.export_action.setEnabled(has_song)
        self.export_audio_action.setEnabled(has_song and not r.audio_reason)
        self.play_action.setEnabled(has_song)         # without sound, Space says why (status bar)

    def choose_soundfont(self) -> None:
        r = self.generate_view.results
        folder = str(Path(r.soundfont).parent) if r.soundfont else "/usr/share/sounds/sf2"
        path = self.dialogs.open_file("Choose a SoundFont", folder, "SoundFonts (*.sf2 *.sf3);;All files (*)")
        if path and r.set_soundfont(path):
            self.show_status(f"Play and Export audio use {Path(path).name}")

    def fill_output_menu(self) -> None:
        """The audio output and every MIDI output port, the one in use checked (read when the menu opens)."""
        from composer.sound.midiout import list_output_ports, midi_status
        r = self.generate_view.results
        menu = self.output_menu
        menu.clear()
        menu.addAction(r.sound.in_use()).setEnabled(False)
        menu.addSeparator()
        audio_ok = r.audio_player is not None and r.audio_player.is_available()[0]
        choices = [("Audio output (FluidSynth)" + ("" if audio_ok else ": no device"), None)]
        available, reason = midi_status()
        ports = list_output_ports() if available else []
        choices += [(f"MIDI: {port}", port) for port in ports]
        if r.midi_port and r.midi_port not in ports:
            choices.append((f"MIDI: {r.midi_port} (not connected)", r.midi_port))
        for text, port in choices:
            act = menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(port == r.midi_port and (port is not None or audio_ok))   # what will be used
            act.triggered.connect(lambda _checked=False, port=port: r.set_midi_port(port))
        if not ports:
            menu.addAction(reason).setEnabled(False)       # why there is no port to choose

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def on_model_trained(self, path: Path) -> None:
        """A finished (or cancelled with a checkpoint) run: offer and select its model."""
        self.generate_view.refresh_models(select=path)
        self.show_status(f"New model {Path(path).name} is ready in the Generate tab")

    def running_jobs(self) -> list[Job]:
        return self.generate_view.running_jobs() + self.train_view.running_jobs()

    def cancel_jobs(self) -> None:
        self.generate_view.cancel()
        self.train_view.cancel()

    def save_settings(self) -> None:
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/tab", self.tabs.currentIndex())
        self.generate_view.save_settings()
        self.train_view.save_settings()
        self.settings.sync()

    def closeEvent(self, event) -> None:
        jobs = self.running_jobs()
        if jobs:
            names = ", ".join(sorted({job.name for job in jobs}))
            if not self.dialogs.confirm("Stop and quit?", f"A job is still running ({names}). Stop it and quit?"):
                event.ignore()
                return
            for job in jobs:
                job.stop_and_wait()
        if self.loader is not None and self.loader.is_running():
            self.loader.stop_and_wait()        # (imports cannot stop early: a few seconds at most)
        self.generate_view.results.stop_playback()
        self.generate_view.results.variations.remove_drag_files()
        self.save_settings()
        event.accept()
