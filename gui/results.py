"""The results side of the generate view: the variation list, the piano roll,
Play/Stop, export (.mid and audio), Continue, Regenerate from bar N, a MIDI
file opened to edit, and Regenerate selection with its takes and undo."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from composer.errors import ComposerError
from composer.music.midifile import read_midi, write_midi
from composer.music.song import Song
from composer.safe_write import check_target
from composer.services.infill import InfillResult
from gui.dialogs import MIDI_FILTER, WAV_FILTER, Dialogs
from gui.infill import InfillPanel, ReplaceSongCommand, notes_between
from gui.jobs import Job
from gui.pianoroll import PianoRoll
from gui.primer import bar_count
from gui.settings import Settings
from gui.variations import VariationList

SOUND_NOT_AVAILABLE = "sound not available yet"


def _player_class():
    """gui.player.Player once the sound engineer's module exists, else None."""
    try:
        from gui.player import Player
    except ImportError:
        return None
    return Player


def _audio_module():
    try:
        from composer.sound import audio
    except ImportError:
        return None
    return audio


class ResultsPanel(QWidget):
    """Shows the variations of the last generation and acts on the selected one."""

    continueRequested = Signal(object)           # Song: use it as the primer
    regenerateRequested = Signal(object, int)    # Song, bar N (1-based): keep bars before N
    infillRequested = Signal(object, int, object)   # Song, its row, (first, last) bars (1-based, inclusive)
    status = Signal(str)

    def __init__(self, settings: Settings, dialogs: Dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.dialogs = settings, dialogs
        self.kind = "melody"
        self.showing_partial = False             # the roll shows a variation still being sampled
        self.audio_job: Job | None = None
        self.variations = VariationList()
        self.roll = PianoRoll()
        self.play_button = QPushButton("Play")
        self.export_button = QPushButton("Export .mid...")
        self.export_audio_button = QPushButton("Export audio...")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Use this variation as the primer and generate what comes next")
        self.regen_bar = QSpinBox(minimum=2, maximum=256, prefix="bar ")
        self.regen_button = QPushButton("Regenerate from")
        self.regen_button.setToolTip("Keep the bars before N and sample the rest again")
        self.source_name = ""                    # stem of the MIDI file opened to edit, "" for generated songs
        self.open_button = QPushButton("Open MIDI...")
        self.open_button.setToolTip("Open a .mid file to edit it here (select bars, Regenerate selection)")
        self.infill_panel = InfillPanel()
        self.selection_label = QLabel()
        self._make_edit_actions()

        buttons = QHBoxLayout()
        for widget in (self.play_button, self.export_button, self.export_audio_button, self.continue_button,
                       self.regen_button, self.regen_bar):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        edit_row = QHBoxLayout()
        for widget in (self.open_button, self.infill_button, self.undo_button, self.redo_button,
                       self.selection_label):
            edit_row.addWidget(widget)
        edit_row.addStretch(1)
        lists = QHBoxLayout()
        lists.addWidget(self.variations, 1)
        lists.addWidget(self.infill_panel, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(QLabel("Variations"))
        top_layout.addLayout(lists)
        top_layout.addLayout(buttons)
        top_layout.addLayout(edit_row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.roll)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([180, 620])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.variations.currentRowChanged.connect(self._on_row_changed)
        self.export_button.clicked.connect(self.export_midi)
        self.export_audio_button.clicked.connect(self.export_audio)
        self.continue_button.clicked.connect(self._on_continue)
        self.regen_button.clicked.connect(self._on_regenerate)
        self.play_button.clicked.connect(self.toggle_play)
        self.open_button.clicked.connect(self.open_midi)
        self.infill_button.clicked.connect(self.infill_action.trigger)
        self.roll.selectionChanged.connect(self._on_selection_changed)
        self.infill_panel.takeSelected.connect(self._show_take)
        self.infill_panel.accepted.connect(self._on_take_accepted)
        self.infill_panel.discarded.connect(self._on_takes_discarded)
        self._setup_player()
        self._update_buttons()

    def _make_edit_actions(self) -> None:
        """Regenerate selection (Ctrl+R, also in the roll's context menu), Clear
        selection, Undo (Ctrl+Z) and Redo (Ctrl+Shift+Z) of accepted takes."""
        self.undo_stack = QUndoStack(self)
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.infill_action = QAction("Regenerate &selection", self)
        self.infill_action.setShortcut(QKeySequence("Ctrl+R"))
        self.infill_action.setStatusTip("Sample new takes of the selected bars; the other bars stay as they are")
        self.infill_action.triggered.connect(self.request_infill)
        self.clear_selection_action = QAction("Clear selection", self)
        self.clear_selection_action.triggered.connect(self.roll.clear_selection)
        for act in (self.undo_action, self.redo_action, self.infill_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(act)
        self.roll.addActions([self.infill_action, self.clear_selection_action])
        self.infill_button = QPushButton("Regenerate selection")
        self.undo_button, self.redo_button = QToolButton(), QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.redo_button.setDefaultAction(self.redo_action)

    # ---- sound ----------------------------------------------------------------
    def _setup_player(self) -> None:
        """The audio player (FluidSynth), with the SoundFont and the MIDI port of the settings."""
        self.soundfont: str | None = None          # None: the bundled General MIDI SoundFont
        self.midi_port: str | None = None          # Play sends here instead of to the audio output
        self.midi_player = None                    # gui.player.MidiPlayer, made when a port is chosen
        player_class = _player_class()
        self.audio_player = player_class(self) if player_class is not None else None
        self.player = self.audio_player
        self.playing = False
        if self.audio_player is not None:
            self._connect_player(self.audio_player)
            if hasattr(self.audio_player, "availabilityChanged"):
                self.audio_player.availabilityChanged.connect(self._on_play_availability)
        saved = self.settings.get("sound/soundfont")
        if saved and not self.set_soundfont(saved, quiet=True):
            self.settings.set("sound/soundfont", "")
        self._update_sound_reasons()
        port = self.settings.get("sound/midi_port")
        if port:
            self.set_midi_port(port)

    def _connect_player(self, player) -> None:
        player.positionChanged.connect(self._on_play_position)
        player.stateChanged.connect(self._on_play_state)
        player.error.connect(self._on_play_error)

    def _update_sound_reasons(self) -> None:
        audio = _audio_module()
        available, reason = audio.audio_status(self.soundfont) if audio is not None else (False, SOUND_NOT_AVAILABLE)
        self.audio_reason = "" if available else reason
        if self.player is None:
            self.play_reason = SOUND_NOT_AVAILABLE
        else:
            available, reason = self.player.is_available()
            self.play_reason = "" if available else reason
        if hasattr(self, "play_button"):
            self._update_buttons()

    def set_soundfont(self, path: str | None, *, quiet: bool = False) -> bool:
        """Play and Export audio with the SoundFont at `path` (None: the bundled one);
        False (and a dialog unless `quiet`) if FluidSynth cannot load it."""
        audio = _audio_module()
        if path and audio is not None:
            try:
                audio.prepare_synth(path)           # loads it: a file that is not a SoundFont fails here
            except audio.AudioUnavailable as exc:
                if not quiet:
                    self.dialogs.error("Cannot use this SoundFont", str(exc))
                return False
        self.stop_playback()
        self.soundfont = str(path) if path else None
        if self.audio_player is not None:
            self.audio_player.set_soundfont(self.soundfont)
        self.settings.set("sound/soundfont", self.soundfont or "")
        self._update_sound_reasons()
        return True

    def set_midi_port(self, port: str | None) -> None:
        """Play sends to MIDI output `port` (None: plays through the audio output)."""
        self.stop_playback()
        if port:
            if self.midi_player is None:
                from gui.player import MidiPlayer
                self.midi_player = MidiPlayer(self, port=port)
                self._connect_player(self.midi_player)
            self.midi_player.set_port(port)
            self.player = self.midi_player
        else:
            self.player = self.audio_player
        self.midi_port = port or None
        self.settings.set("sound/midi_port", self.midi_port or "")
        self._update_sound_reasons()
        self.status.emit(f"Play sends to the MIDI port {port}" if port else "Play uses the audio output")

    def toggle_play(self) -> None:
        """Play the selected variation, or stop if playing (Space)."""
        if self.player is None or self.play_reason:
            return
        if self.playing:
            self.player.stop()
            return
        song = self.shown_song()
        if song is not None:
            self.player.play(song)

    def stop_playback(self) -> None:
        if self.player is not None and self.playing:
            self.player.stop()

    def _on_play_position(self, seconds: float) -> None:
        song = self.shown_song()         # changing what is shown stops playback
        if song is not None and self.playing:
            self.roll.set_playhead(song.beat_at(seconds))

    def _on_play_state(self, state: str) -> None:
        if self.sender() is not None and self.sender() is not self.player:
            return                            # the player not in use any more (the output was switched)
        self.playing = state == "playing"
        if not self.playing:
            self.roll.set_playhead(None)
        self._update_buttons()

    def _on_play_availability(self, available: bool, reason: str) -> None:
        """Audio outputs appeared or vanished."""
        self.play_reason = "" if available else reason
        self._update_buttons()

    def _on_play_error(self, message: str) -> None:
        self.dialogs.error("Playback failed", message)

    # ---- content --------------------------------------------------------------
    def set_results(self, songs: list[Song], kind: str, seed: int | None, primer_beats: float,
                    copies=None, copy_index=None, *, generated: bool = True) -> None:
        """Show `songs` (generated, or a file opened to edit); `copies`: their copy
        meters against the training data's `copy_index` (composer.analysis.copymeter),
        when the model has one."""
        self.stop_playback()
        self.infill_panel.discard()
        self.undo_stack.clear()             # its commands name rows of the previous list
        self.source_name = ""
        self.kind = kind
        self.showing_partial = False
        self.variations.set_songs(songs, kind, seed, primer_beats, copies, copy_index, generated=generated)
        self._on_row_changed(self.variations.currentRow())

    def show_partial(self, song: Song, primer_beats: float) -> None:
        """Draw the variation being sampled (the selected row's, else the first:
        see generate_view.PreviewRow). Until the results come, Play and Export are
        off: they would act on the list's old entry, not on what is drawn."""
        self.roll.set_song(song, primer_beats, keep_view=self.roll.song is not None)
        if not self.showing_partial:
            self.showing_partial = True
            self.stop_playback()
            self._update_buttons()

    def redraw(self) -> None:
        """Draw the selected variation again (after partial results were shown)."""
        self.showing_partial = False
        self._on_row_changed(self.variations.currentRow())

    def current_song(self) -> Song | None:
        return self.variations.song_at(self.variations.currentRow())

    def shown_song(self) -> Song | None:
        """What the piano roll shows: the selected take while takes are open, else the variation."""
        return self.infill_panel.selected_song() or self.current_song()

    def _on_row_changed(self, row: int) -> None:
        self.stop_playback()
        if self.infill_panel.is_open() and row != self.infill_panel.row:
            self.infill_panel.discard()
        song = self.variations.song_at(row)
        self.roll.set_song(song, self.variations.primer_beats)
        if song is not None:
            bars = bar_count(song)
            self.regen_bar.setMaximum(max(2, bars))
            self.regen_bar.setValue(min(max(2, self.regen_bar.value()), max(2, bars)))
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_song = self.current_song() is not None and not self.showing_partial
        busy = getattr(self, "_busy", False)
        self.play_button.setEnabled(has_song and not self.play_reason)
        self.play_button.setText("Stop" if self.playing else "Play")
        self.play_button.setToolTip(self.play_reason or "Play or stop the selected variation (Space)")
        self.export_button.setEnabled(has_song)
        self.export_button.setToolTip("Write the selected variation as a .mid file (Ctrl+E)")
        audio_busy = self.audio_job is not None
        self.export_audio_button.setEnabled(has_song and not self.audio_reason and not audio_busy)
        self.export_audio_button.setToolTip(self.audio_reason or "Render the selected variation to a WAV file")
        self.continue_button.setEnabled(has_song and not busy)
        two_bars = has_song and bar_count(self.current_song()) >= 2     # something to keep and to redo
        self.regen_button.setEnabled(two_bars and not busy)
        self.regen_bar.setEnabled(two_bars and not busy)
        self.open_button.setEnabled(not busy)
        selection = self.roll.selection
        melody = self.kind == "melody"       # infill rewrites melody bars
        self.infill_action.setEnabled(has_song and selection is not None and not busy and melody)
        self.infill_button.setEnabled(self.infill_action.isEnabled())
        self.clear_selection_action.setEnabled(selection is not None)
        if selection is None:
            self.selection_label.setText("Drag on the ruler to select bars")
        else:
            first, last = selection
            self.selection_label.setText(f"bar {first} selected" if first == last else f"bars {first}-{last} selected")
        self.infill_button.setToolTip(
            "Regenerating a selection needs a melody model" if not melody else
            "Sample new takes of the selected bars (Ctrl+R)" if selection else "First select bars: drag on the ruler")

    def _on_continue(self) -> None:
        song = self.current_song()
        if song is not None:
            self.continueRequested.emit(song)

    def _on_regenerate(self) -> None:
        song = self.current_song()
        if song is not None:
            self.regenerateRequested.emit(song, self.regen_bar.value())

    # ---- editing: open a file, regenerate a selection, undo ------------------------
    def open_midi(self) -> bool:
        """Open a .mid file as the one song of the list, to edit it."""
        folder = self.settings.get("export/folder") or str(Path.home())
        path = self.dialogs.open_file("Open MIDI file to edit", folder, MIDI_FILTER)
        if not path:
            return False
        return self.load_song_file(path)

    def load_song_file(self, path: str | Path) -> bool:
        try:
            song = read_midi(path)
        except ComposerError as exc:
            self.dialogs.error("Cannot open this file", str(exc))
            return False
        if not song.notes:
            self.dialogs.error("Cannot open this file", f"{Path(path).name} has no pitched notes to edit")
            return False
        self.roll.clear_selection()
        self.set_results([song], "melody", None, 0.0, generated=False)
        self.source_name = Path(path).stem
        self.status.emit(f"Opened {Path(path).name}: drag on the ruler to select bars, then Regenerate selection")
        return True

    def request_infill(self) -> None:
        """Ask for new takes of the selected bars of the selected variation (Ctrl+R)."""
        song, selection = self.current_song(), self.roll.selection
        if song is not None and selection is not None and self.infill_action.isEnabled():
            self.infillRequested.emit(song, self.variations.currentRow(), selection)

    def show_takes(self, row: int, original: Song, result: InfillResult, bars: tuple[int, int]) -> bool:
        """Offer the takes of an infill of variation `row`; False if that
        variation has changed since the job started (the takes are dropped)."""
        if self.variations.song_at(row) is not original:
            return False
        if self.variations.currentRow() != row:
            self.variations.setCurrentRow(row)
        self.infill_panel.set_takes(row, original, result, bars)
        return True

    def _show_take(self, song: Song) -> None:
        self.stop_playback()
        panel = self.infill_panel
        self.roll.set_song(song, self.variations.primer_beats, keep_view=True)
        if song is not panel.original:     # the original notes this take does not keep, as outlines
            kept = set(song.notes)
            self.roll.set_ghost_notes([n for n in notes_between(panel.original, *panel.span_beats) if n not in kept])

    def _on_take_accepted(self, song: Song) -> None:
        panel = self.infill_panel
        first, last = panel.bars
        row = panel.row                      # (pushing the command discards the panel)
        span = f"bar {first}" if first == last else f"bars {first}-{last}"
        self.undo_stack.push(ReplaceSongCommand(self, row, panel.original, song,
                                                f"regenerate {span} of variation {row + 1}"))
        self.status.emit(f"Replaced {span} of variation {row + 1} (Ctrl+Z undoes it)")

    def _on_takes_discarded(self) -> None:
        self.stop_playback()
        self.roll.set_song(self.current_song(), self.variations.primer_beats, keep_view=True)

    def replace_song(self, row: int, song: Song) -> None:
        """Put `song` in row `row` of the variations (what undo and redo do) and show it."""
        self.stop_playback()
        self.infill_panel.discard()
        self.variations.set_song(row, song)
        if self.variations.currentRow() != row:
            self.variations.setCurrentRow(row)
        else:
            self.roll.set_song(song, self.variations.primer_beats, keep_view=True)
        self._update_buttons()

    def _on_selection_changed(self, selection) -> None:
        self._update_buttons()

    # ---- export -----------------------------------------------------------------
    def _target_path(self, caption: str, suffix: str, file_filter: str) -> tuple[Path, bool] | None:
        """Ask where to write; returns (path, force) or None. Never overwrites silently."""
        row = self.variations.currentRow()
        name = self.variations.file_name(row) if not self.source_name else f"{self.source_name}-edited.mid"
        name = Path(name).with_suffix(suffix).name
        folder = self.settings.get("export/folder") or str(Path.home())
        chosen = self.dialogs.save_file(caption, str(Path(folder) / name), file_filter)
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() not in (suffix, ".midi" if suffix == ".mid" else suffix):
            path = path.with_name(path.name + suffix)
        try:
            check_target(path, "file name")     # a device, FIFO, socket or folder: no "replace?" question
        except ComposerError as exc:
            self.dialogs.error(caption, str(exc))
            return None
        force = False
        if path.exists():
            if not self.dialogs.confirm("Replace file?", f"{path.name} already exists in {path.parent}.\n"
                                                           "Do you want to replace it?"):
                return None
            force = True
        self.settings.set("export/folder", str(path.parent))
        return path, force

    def export_midi(self) -> Path | None:
        """Export the song shown (the selected variation or take) as a .mid file (Ctrl+E)."""
        song = self.shown_song()
        if song is None:
            return None
        target = self._target_path("Export MIDI", ".mid", MIDI_FILTER)
        if target is None:
            return None
        path, force = target
        try:
            write_midi(song, path, force=force)
        except (ComposerError, OSError) as exc:
            self.dialogs.error("Export failed", f"Could not write {path}: {exc}")
            return None
        self.status.emit(f"Wrote {path}")
        return path

    def export_audio(self) -> None:
        """Render the song shown (the selected variation or take) to WAV on a worker thread."""
        song = self.shown_song()
        audio = _audio_module()
        if song is None or audio is None or self.audio_reason or self.audio_job is not None:
            return
        target = self._target_path("Export audio", ".wav", WAV_FILTER)
        if target is None:
            return
        path, force = target

        soundfont = self.soundfont

        def render(progress, should_stop):
            return audio.write_wav(song, path, force=force, soundfont=soundfont)

        self.audio_job = Job("export-audio", render, self)
        self.audio_job.succeeded.connect(self._on_audio_written)
        self.audio_job.failed.connect(self._on_audio_failed)
        self.audio_job.finished.connect(self._on_audio_finished)
        self.status.emit(f"Rendering {path.name}...")
        self.audio_job.start()
        self._update_buttons()

    def _on_audio_written(self, path) -> None:
        self.status.emit(f"Wrote {path}")

    def _on_audio_failed(self, error) -> None:
        self.dialogs.job_error("Audio export failed", error)

    def _on_audio_finished(self) -> None:
        self.audio_job = None
        self._update_buttons()

    def running_jobs(self) -> list[Job]:
        return [self.audio_job] if self.audio_job is not None and self.audio_job.is_running() else []
