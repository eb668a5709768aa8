"""The results panel: the variation list and the piano roll of the one selected,
with Play, Export, Continue, Regenerate from bar N, a MIDI file opened to edit,
Regenerate selection with its takes, and the one history of all of these
(gui.results.history: undo, redo, the History drop-down)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from composer.errors import ComposerError
from composer.music.midifile import read_midi
from composer.music.song import Song
from composer.services.primer import damage_warning
from gui.arrange import ArrangeBar
from gui.controls import row_of
from gui.dialogs import MIDI_FILTER, Dialogs
from gui.flow_layout import FlowLayout, WrappingBox
from gui.infill import InfillPanel, notes_between
from gui.jobs import Job
from gui.parts import PartsLegend
from gui.pianoroll import PianoRoll
from gui.primer import bar_count
from gui.results.edit_actions import EditActions
from gui.results.export import SongExport
from gui.results.fit import ResultsBody
from gui.results.history import History, PrimerState, Shown
from gui.results.loop import LoopPlayback
from gui.results.sound import SoundOutput
from gui.results.steps import HistorySteps
from gui.settings import Settings
from gui.variations import VariationList

if TYPE_CHECKING:
    from composer.services.infill import InfillResult

CONTINUE_TIP = "Use this variation as the primer and generate what comes next"
REGENERATE_TIP = "Keep the bars before N and sample the rest again"


def _forward(part: str, name: str) -> property:
    """A read-only attribute of the panel that is attribute `name` of its `part`."""
    return property(lambda self: getattr(getattr(self, part), name),
                    doc=f"self.{part}.{name}, kept here for the modules that use the panel")


class ResultsPanel(HistorySteps, QWidget):
    """Shows the variations of the last generation and acts on the selected one;
    `record_edit` (gui.results.steps) records a note edit in the history."""

    continueRequested = Signal(object)           # Song: use it as the primer
    regenerateRequested = Signal(object, int)    # Song, bar N (1-based): keep bars before N
    infillRequested = Signal(object, int, object)   # Song, its row, (first, last) bars (1-based, inclusive)
    primerRestored = Signal(object)              # PrimerState: undo or redo of a step that changed the primer
    status = Signal(str)

    # what the main window, the generate view and the tests read from the panel
    player = _forward("sound", "player")                  # the one Play uses: audio_player or midi_player
    audio_player = _forward("sound", "audio_player")
    midi_player = _forward("sound", "midi_player")
    playing = _forward("sound", "playing")
    soundfont = _forward("sound", "soundfont")
    midi_port = _forward("sound", "midi_port")
    play_reason = _forward("sound", "play_reason")        # why Play is off, "" when it is on
    audio_reason = _forward("sound", "audio_reason")      # why Export audio is off, "" when it is on
    audio_job = _forward("export", "audio_job")
    undo_stack = _forward("history", "stack")
    undo_action = _forward("history", "undo_action")
    redo_action = _forward("history", "redo_action")
    history_combo = _forward("history", "combo")
    infill_action = _forward("edit", "infill_action")
    clear_selection_action = _forward("edit", "clear_selection_action")
    infill_button = _forward("edit", "infill_button")
    selection_label = _forward("edit", "selection_label")

    def __init__(self, settings: Settings, dialogs: Dialogs, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.dialogs = settings, dialogs
        self.kind = "melody"
        self.showing_partial = False             # the roll shows a variation still being sampled
        self._busy = False                       # a generate or infill job runs
        self._generate_reason = ""               # why the selected model cannot generate, "" when it can
        self.source_name = ""                    # stem of the MIDI file opened to edit, "" for generated songs
        self.sections: list[tuple[str, int, int]] = []   # the form's letters of the variations (gui.form_controls)
        self.variations = VariationList()
        self.roll = PianoRoll()
        self.infill_panel = InfillPanel()
        self.parts = PartsLegend()               # a song of several parts: colours, mute, solo, export
        self.arrange = ArrangeBar()              # Harmonise, Add drums, Regenerate part (gui/arrange_jobs.py)
        self.history = History(self)
        self.edit = EditActions(self, self.roll, self.history.undo_action, self.history.redo_action)
        self.sound = SoundOutput(settings, dialogs, self)
        self.export = SongExport(settings, dialogs, self.sound, self)
        self.loop = LoopPlayback(self.sound, self.roll, self)
        self._make_buttons()
        self._lay_out()
        self._connect()
        self._update_buttons()

    def _make_buttons(self) -> None:
        self.play_button = QPushButton("Play")
        self.export_button = QPushButton("Export .mid...")
        self.export_audio_button = QPushButton("Export audio...")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip(CONTINUE_TIP)
        self.regen_bar = QSpinBox(minimum=2, maximum=256, prefix="bar ")
        self.regen_button = QPushButton("Regenerate from")
        self.regen_button.setToolTip(REGENERATE_TIP)
        self.sound_note = QLabel()          # why Play is off and the way out, where Play is
        self.sound_note.setWordWrap(True)
        self.sound_note.setStyleSheet("color: #a33;")
        self.open_button = QPushButton("Open MIDI...")
        self.open_button.setToolTip("Open a .mid file to edit it here (select bars, Regenerate selection)")
        self.title = QLabel("Variations")        # with the seed that makes them again
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)                # a long seed does not widen the window

    def _lay_out(self) -> None:
        """The list and the takes over their buttons and the roll, or beside them
        in a wide window (gui.results.fit.ResultsBody)."""
        buttons = FlowLayout()           # one flow of rows that wraps in a narrow window rather than widen it
        for widget in (row_of(self.play_button, self.loop.button), self.export_button, self.export_audio_button,
                       self.continue_button, row_of(self.regen_button, self.regen_bar), self.open_button,
                       *self.edit.widgets()):
            buttons.addWidget(widget)
        actions = WrappingBox()
        actions_layout = QVBoxLayout(actions)
        actions_layout.setContentsMargins(0, 0, 0, 0)
        actions_layout.addLayout(buttons)
        actions_layout.addWidget(self.sound_note)
        lists = QHBoxLayout()
        lists.addWidget(self.variations, 1)
        lists.addWidget(self.infill_panel, 1)
        lists.addWidget(self.arrange)
        list_box = WrappingBox()
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.addWidget(self.title, 1)
        heading.addWidget(QLabel("History"))
        heading.addWidget(self.history_combo, 1)
        list_layout.addLayout(heading)
        list_layout.addLayout(lists, 1)
        list_layout.addWidget(self.parts)
        self.body = ResultsBody(list_box, lists, actions, self.roll, self.variations)
        self.splitter = self.body.splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body)

    def _connect(self) -> None:
        self.variations.currentRowChanged.connect(self._on_row_changed)
        self.export_button.clicked.connect(self.export_midi)
        self.export_audio_button.clicked.connect(self.export_audio)
        self.continue_button.clicked.connect(self._on_continue)
        self.regen_button.clicked.connect(self._on_regenerate)
        self.play_button.clicked.connect(self.toggle_play)
        self.open_button.clicked.connect(self.open_midi)
        self.edit.infill_action.triggered.connect(self.request_infill)
        self.roll.selectionChanged.connect(self._on_selection_changed)
        self.roll.songEdited.connect(self._on_song_edited)
        self.roll.noteAuditioned.connect(lambda note: self.sound.audition(self.roll.song, note))
        self.infill_panel.takeSelected.connect(self._show_take)
        self.parts.changed.connect(lambda: self.show_parts(self.roll.song))
        self.infill_panel.accepted.connect(self._on_take_accepted)
        self.infill_panel.discarded.connect(self._on_takes_discarded)
        self.sound.positionChanged.connect(self._on_play_position)
        self.sound.playingChanged.connect(self._on_playing_changed)
        self.sound.reasonsChanged.connect(self._update_buttons)
        self.sound.status.connect(self.status)
        self.export.status.connect(self.status)
        self.export.audioJobChanged.connect(self._update_buttons)

    # ---- sound ----------------------------------------------------------------
    def set_soundfont(self, path: str | None, *, quiet: bool = False) -> bool:
        """Play and Export audio with the SoundFont at `path` (None: the bundled one);
        False (and a dialog unless `quiet`) if FluidSynth cannot load it."""
        return self.sound.set_soundfont(path, quiet=quiet)

    def set_midi_port(self, port: str | None) -> None:
        """Play sends to MIDI output `port` (None: plays through the audio output)."""
        self.sound.set_midi_port(port)

    def toggle_play(self) -> None:
        """Play the selected variation, or stop if playing (Space); without sound, say why."""
        if self.play_reason and self.shown_song() is not None:
            self.status.emit(self.sound.way_out())
        elif self.playing:
            self.stop_playback()
        else:
            song = self.shown_song()
            self.loop.play(self.parts.audible(song) if song is not None else None)

    def stop_playback(self) -> None:
        self.loop.stop()
        self.sound.stop()

    def _on_play_position(self, seconds: float) -> None:
        song = self.shown_song()         # changing what is shown stops playback
        if song is not None and self.playing:
            self.roll.set_playhead(self.loop.beat(song, seconds))

    def _on_playing_changed(self, playing: bool) -> None:
        if not playing:
            self.roll.set_playhead(None)
        self._update_buttons()

    # ---- content --------------------------------------------------------------
    def set_results(self, songs: list[Song], kind: str, seed: int | None, primer_beats: float,
                    copies=None, copy_index=None, *, generated: bool = True, sections=(), label: str = "",
                    source_name: str = "", primers: tuple[PrimerState, PrimerState] | None = None) -> None:
        """Show `songs` (generated, or a file opened to edit) as a new entry
        `label` of the history (Ctrl+Z shows the list before); `copies`: their
        copy meters against the training data's `copy_index`
        (composer.analysis.copymeter), when the model has one; `sections`: the
        letters of their form, drawn over the ruler; `primers`: the primer
        before and after, when this step changes it (Continue)."""
        shown = Shown(tuple(songs), kind, seed, primer_beats, tuple(copies) if copies is not None else None,
                      copy_index, tuple(sections), generated, source_name, 0)
        self.history.record(label or f"{len(songs)} variation(s)", shown, primers=primers)

    def show_partial(self, song: Song, primer_beats: float, sections=()) -> None:
        """Draw the variation being sampled (the selected row's, else the first:
        see generate_view.PreviewRow), with the `sections` of its form. Until the
        results come, Play and Export are off: they would act on the list's old
        entry, not on what is drawn."""
        self.roll.set_song(song, primer_beats, keep_view=self.roll.song is not None)
        if not self.showing_partial:
            self.roll.set_sections(sections)
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

    def _on_row_changed(self, row: int, keep_view: bool = False) -> None:
        self.stop_playback()
        if self.infill_panel.is_open() and row != self.infill_panel.row:
            self.infill_panel.discard()
        song = self.variations.song_at(row)
        if song is not self.roll.song or not keep_view:      # (an edit in the roll shows its song already)
            self.roll.set_song(song, self.variations.primer_beats, keep_view=keep_view)
        self.roll.set_sections(self.sections if song is not None else [])
        self.show_parts(song)
        self.arrange.set_song(song)
        if song is not None:
            bars = bar_count(song)
            self.regen_bar.setMaximum(max(2, bars))
            self.regen_bar.setValue(min(max(2, self.regen_bar.value()), max(2, bars)))
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.history.set_busy(busy)
        self.arrange.set_busy(busy)
        self._update_buttons()

    def set_generate_reason(self, reason: str) -> None:
        """Why the selected model cannot generate ("" when it can): Continue and
        Regenerate from are off and say why."""
        self._generate_reason = reason
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_song = self.current_song() is not None and not self.showing_partial
        busy = self._busy
        self.play_button.setEnabled(has_song and not self.play_reason)
        self.play_button.setText("Stop" if self.playing else "Play")
        self.play_button.setToolTip(self.play_reason or "Play or stop the selected variation (Space)")
        self.sound_note.setText(self.sound.way_out())
        self.sound_note.setVisible(bool(self.play_reason))
        self.export_button.setEnabled(has_song)
        self.export_button.setToolTip("Write the selected variation as a .mid file (Ctrl+E)")
        audio_busy = self.audio_job is not None
        self.export_audio_button.setEnabled(has_song and not self.audio_reason and not audio_busy)
        self.export_audio_button.setToolTip(self.audio_reason or "Render the selected variation to a WAV file")
        can_generate = not busy and not self._generate_reason
        self.continue_button.setEnabled(has_song and can_generate)
        self.continue_button.setToolTip(self._generate_reason or CONTINUE_TIP)
        two_bars = has_song and bar_count(self.current_song()) >= 2     # something to keep and to redo
        self.regen_button.setEnabled(two_bars and can_generate)
        self.regen_button.setToolTip(self._generate_reason or REGENERATE_TIP)
        self.regen_bar.setEnabled(two_bars and can_generate)
        self.open_button.setEnabled(not busy)
        self.edit.update(self.roll.selection, can_infill=has_song and not busy, melody=self.kind == "melody")

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
        self.set_results([song], "melody", None, 0.0, generated=False, label=f"Open {Path(path).name}",
                         source_name=Path(path).stem)
        self.status.emit(f"Opened {Path(path).name}: drag on the ruler to select bars, then Regenerate selection"
                         + (f" (warning: {damage_warning(Path(path).name, song)})" if song.damage else ""))
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
        self.show_parts(song)
        if song is not panel.original:     # the original notes this take does not keep, as outlines
            kept = set(song.notes)
            self.roll.set_ghost_notes([n for n in notes_between(panel.original, *panel.span_beats) if n not in kept])

    def _on_takes_discarded(self) -> None:
        self.stop_playback()
        self.roll.set_song(self.current_song(), self.variations.primer_beats, keep_view=True)
        self.show_parts(self.current_song())

    def show_parts(self, song: Song | None) -> None:
        """The legend of `song`'s parts, and their colours in the roll (gui.parts)."""
        self.parts.set_song(song)
        if song is not None and song is self.roll.song:
            self.roll.set_parts(*self.parts.note_colors(song))

    def _on_selection_changed(self, selection) -> None:
        self._update_buttons()

    # ---- export -----------------------------------------------------------------
    def _export_name(self) -> str:
        """The file name proposed for the song shown."""
        if self.source_name:
            return f"{self.source_name}-edited.mid"
        return self.variations.file_name(self.variations.currentRow())

    def export_midi(self) -> Path | None:
        """Export the song shown (the selected variation or take) as a .mid file (Ctrl+E)."""
        song = self.shown_song()
        if song is None:
            return None
        return self.export.export_midi(self.parts.exported(song), self._export_name())

    def export_audio(self) -> None:
        """Render the song shown (the selected variation or take) to WAV on a worker thread."""
        song = self.shown_song()
        if song is not None:
            self.export.export_audio(self.parts.exported(song), self._export_name())

    def running_jobs(self) -> list[Job]:
        return self.export.running_jobs()
