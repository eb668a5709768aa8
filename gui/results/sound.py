"""Where Play sends a song: the audio output through FluidSynth with a chosen
SoundFont, or a MIDI output port; whether each is available, and why not."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gui.dialogs import Dialogs
from gui.settings import Settings

SOUND_NOT_AVAILABLE = "sound not available yet"


def player_class():
    """gui.player.Player once the sound engineer's module exists, else None."""
    try:
        from gui.player import Player
    except ImportError:
        return None
    return Player


def audio_module():
    """composer.sound.audio, or None where it cannot be imported."""
    try:
        from composer.sound import audio
    except ImportError:
        return None
    return audio


class SoundOutput(QObject):
    """The player in use (audio or MIDI port), the SoundFont, and the reasons
    Play and Export audio are off ("" when they are on).

    `positionChanged(seconds)` while playing, `playingChanged(playing)` when the
    player in use starts or stops, `reasonsChanged()` when an output appeared,
    vanished or was switched, `status(text)` for the status bar, `failed()`
    when playing failed."""

    positionChanged = Signal(float)
    playingChanged = Signal(bool)
    reasonsChanged = Signal()
    status = Signal(str)
    failed = Signal()              # playing failed (the error dialog follows)

    def __init__(self, settings: Settings, dialogs: Dialogs, parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.dialogs = settings, dialogs
        self.soundfont: str | None = None          # None: the bundled General MIDI SoundFont
        self.midi_port: str | None = None          # Play sends here instead of to the audio output
        self.midi_player = None                    # gui.player.MidiPlayer, made when a port is chosen
        player = player_class()
        self.audio_player = player(self) if player is not None else None
        self.player = self.audio_player
        self.playing = False
        self.audition_player = None                # plays a note clicked or drawn in the roll, made on first use
        if self.audio_player is not None:
            self._connect_player(self.audio_player)
            if hasattr(self.audio_player, "availabilityChanged"):
                self.audio_player.availabilityChanged.connect(self._on_availability)
        saved = self.settings.get("sound/soundfont")
        if saved and not self.set_soundfont(saved, quiet=True):
            self.settings.set("sound/soundfont", "")
        self._update_reasons()
        port = self.settings.get("sound/midi_port")
        if port:
            self.set_midi_port(port)

    def _connect_player(self, player) -> None:
        player.positionChanged.connect(self._on_position)
        player.stateChanged.connect(self._on_state)
        player.error.connect(self._on_error)

    def _update_reasons(self) -> None:
        audio = audio_module()
        available, reason = audio.audio_status(self.soundfont) if audio is not None else (False, SOUND_NOT_AVAILABLE)
        self.audio_reason = "" if available else reason
        if self.player is None:
            self.play_reason = SOUND_NOT_AVAILABLE
        else:
            available, reason = self.player.is_available()
            self.play_reason = "" if available else reason
        self.reasonsChanged.emit()

    def way_out(self) -> str:
        """Why Play is off and what to do instead ("" when Play is on), for the note under Play."""
        if not self.play_reason:
            return ""
        if self.midi_port:
            return (f"No sound: {self.play_reason}. Choose another output in Sound > Play through, "
                    "or use Export audio... to listen elsewhere.")
        return (f"No sound: {self.play_reason}. To listen, use Export audio... (a WAV file), "
                "or send to a MIDI port in Sound > Play through.")

    def in_use(self) -> str:
        """What Play will use, for the Sound menu."""
        if self.play_reason:
            return f"Play uses: nothing ({self.play_reason})"
        if self.midi_port:
            return f"Play uses: the MIDI port {self.midi_port}"
        device = self.audio_player.device().description() if self.audio_player is not None else "?"
        return f"Play uses: FluidSynth on {device}"

    def set_soundfont(self, path: str | None, *, quiet: bool = False) -> bool:
        """Play and Export audio with the SoundFont at `path` (None: the bundled one);
        False (and a dialog unless `quiet`) if FluidSynth cannot load it."""
        audio = audio_module()
        if path and audio is not None:
            try:
                audio.prepare_synth(path)           # loads it: a file that is not a SoundFont fails here
            except audio.AudioUnavailable as exc:
                if not quiet:
                    self.dialogs.error("Cannot use this SoundFont", str(exc))
                return False
        self.stop()
        self.soundfont = str(path) if path else None
        for player in (self.audio_player, self.audition_player):
            if player is not None:
                player.set_soundfont(self.soundfont)
        self.settings.set("sound/soundfont", self.soundfont or "")
        self._update_reasons()
        return True

    def set_midi_port(self, port: str | None) -> None:
        """Play sends to MIDI output `port` (None: plays through the audio output)."""
        self.stop()
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
        self._update_reasons()
        self.status.emit(f"Play sends to the MIDI port {port}" if port else "Play uses the audio output")

    def toggle(self, song, *, tail_seconds: float | None = None) -> None:
        """Play `song` (a Song, or None: nothing to play), or stop if playing;
        `tail_seconds`: the release after it (None: the player's default)."""
        if self.player is None or self.play_reason:
            return
        if self.playing:
            self.player.stop()
            return
        if song is not None:
            self.player.play(song, **({} if tail_seconds is None else {"tail_seconds": tail_seconds}))

    def audition(self, song, note) -> None:
        """Sound `note` of `song` (Song, Note) alone on the audio output, on the song's
        instrument; silently nothing while a piece plays, with a MIDI port chosen
        (it would interrupt the port's player), or without an audio output."""
        if song is None or self.playing or self.midi_port or self.audio_player is None or self.play_reason:
            return
        from gui.roll_edit import audition_song
        if self.audition_player is None:
            self.audition_player = player_class()(self, soundfont=self.soundfont)
        self.audition_player.play(audition_song(song, note))

    def stop(self) -> None:
        if self.player is not None and self.playing:
            self.player.stop()

    def _on_position(self, seconds: float) -> None:
        self.positionChanged.emit(seconds)

    def _on_state(self, state: str) -> None:
        if self.sender() is not None and self.sender() is not self.player:
            return                            # the player not in use any more (the output was switched)
        self.playing = state == "playing"
        self.playingChanged.emit(self.playing)

    def _on_availability(self, available: bool, reason: str) -> None:
        """Audio outputs appeared or vanished."""
        self.play_reason = "" if available else reason
        self.reasonsChanged.emit()

    def _on_error(self, message: str) -> None:
        self.failed.emit()
        self.dialogs.error("Playback failed", message)
