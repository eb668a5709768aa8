"""Play a Song through the sound card: QtMultimedia's QAudioSink pulling audio
that composer.sound.audio renders block by block (FluidSynth), so sound starts after
the first block instead of after the whole piece.

    player = Player(parent)
    ok, reason = player.is_available()    # Play disabled with `reason` as tooltip when not ok
    player.positionChanged.connect(roll_follow)   # seconds from the start of the piece
    player.play(song); ...; player.stop()

Without an audio output device or without FluidSynth the player says why and
never crashes: play() then emits error(reason) and nothing else happens.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np
from PySide6.QtCore import QCoreApplication, QIODevice, QObject, QTimer, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSink, QMediaDevices

try:  # Qt >= 6.7 names the namespace QtAudio (QAudio's enums then compare unequal to the sink's)
    from PySide6.QtMultimedia import QtAudio as QAudio
except ImportError:
    from PySide6.QtMultimedia import QAudio

from composer.music.song import Song
from composer.sound import audio

log = logging.getLogger(__name__)

NO_DEVICE = "no audio output device found"
POSITION_INTERVAL_MS = 30         # how often positionChanged fires while playing
SINK_BUFFER_SECONDS = 0.25        # audio queued in the sink: guards against GUI-thread hiccups
MAX_BLOCK_FRAMES = 8192           # largest block rendered per pull (~0.19 s at 44.1 kHz)
END_SLACK_SECONDS = 0.05          # the piece is over when the output has played all but this much
STALL_SECONDS = 3.0               # ...or when, all data delivered, the output has not advanced for this long


class _SongSource(QIODevice):
    """Sequential read-only device the sink pulls from; renders on demand, on the GUI thread."""

    def __init__(self, renderer: audio.SongRenderer, int16: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.renderer = renderer
        self.int16 = int16
        self.bytes_per_frame = 4 if int16 else 8
        self.first_read_at: float | None = None    # perf_counter() of the first pull (latency measure)

    def isSequential(self) -> bool:
        return True

    def bytesAvailable(self) -> int:
        remaining = self.renderer.total_frames - self.renderer.position
        return remaining * self.bytes_per_frame + super().bytesAvailable()

    def readData(self, maxlen: int) -> bytes:
        if self.first_read_at is None:
            self.first_read_at = time.perf_counter()
        frames = min(int(maxlen) // self.bytes_per_frame, MAX_BLOCK_FRAMES)
        if frames <= 0 or self.renderer.finished:
            return b""
        block = self.renderer.read(frames)  # float32 (n, 2)
        if self.int16:
            return np.round(block * 32767.0).astype("<i2").tobytes()
        return block.astype("<f4", copy=False).tobytes()

    def writeData(self, data) -> int:
        return -1


class Player(QObject):
    """Plays one song at a time; signals report position, state and errors on the GUI thread."""

    positionChanged = Signal(float)     # seconds since the start of the piece
    stateChanged = Signal(str)          # "playing" | "stopped"
    error = Signal(str)                 # a sentence for the user
    availabilityChanged = Signal(bool, str)  # audio outputs appeared/vanished

    def __init__(self, parent: QObject | None = None, *, device: QAudioDevice | None = None,
                 soundfont: str | os.PathLike | None = None):
        """`device`: the output to use (None: the system default, followed as it changes).
        `soundfont`: a .sf2 path (None: the bundled TimGM6mb.sf2)."""
        super().__init__(parent)
        self._fixed_device = device
        self._soundfont = soundfont
        self._media = QMediaDevices(self)
        self._media.audioOutputsChanged.connect(self._on_outputs_changed)
        self._sink: QAudioSink | None = None
        self._source: _SongSource | None = None
        self._duration = 0.0
        self._state = "stopped"
        self._play_called_at = 0.0
        self.start_latency: float | None = None   # seconds from play() to the first block handed to the output
        self._last_position, self._last_progress_at = 0.0, 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POSITION_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)   # never leave a running sink to interpreter shutdown
        self._prepare()

    def _prepare(self, sample_rate: int = audio.DEFAULT_SAMPLE_RATE) -> None:
        """Load the SoundFont on a background thread now, so the next Play does not wait for it."""
        soundfont = self._soundfont

        def load() -> None:
            try:
                audio.prepare_synth(soundfont, sample_rate)
            except (audio.AudioUnavailable, OSError) as exc:  # is_available() reports it
                log.info("SoundFont not preloaded: %s", exc)

        threading.Thread(target=load, name="soundfont-preload", daemon=True).start()

    # ---- availability -----------------------------------------------------------
    def device(self) -> QAudioDevice:
        return self._fixed_device if self._fixed_device is not None else QMediaDevices.defaultAudioOutput()

    def set_soundfont(self, soundfont: str | os.PathLike | None) -> None:
        """Use another .sf2 from the next play() on (None: the bundled one)."""
        self._soundfont = soundfont
        self._prepare()

    def is_available(self) -> tuple[bool, str]:
        """(available, reason): reason names the audio device and SoundFont, or what is missing."""
        ok, reason = audio.audio_status(self._soundfont)
        if not ok:
            return False, reason
        device = self.device()
        if device.isNull():
            return False, NO_DEVICE
        return True, f"{reason}, output {device.description()}"

    def _on_outputs_changed(self) -> None:
        self.availabilityChanged.emit(*self.is_available())

    # ---- playing ----------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def play(self, song: Song, *, tail_seconds: float = audio.RELEASE_TAIL_SECONDS) -> None:
        """Start playing `song` from the beginning (stops what is playing), with
        `tail_seconds` of release after it (short for a loop). Problems -> error(str)."""
        self.stop()
        self._play_called_at = time.perf_counter()
        ok, reason = self.is_available()
        if not ok:
            self.error.emit(f"Cannot play: {reason}")
            return
        device = self.device()
        try:
            fmt, int16 = self._format_for(device)
            renderer = audio.SongRenderer(song, soundfont=self._soundfont, sample_rate=fmt.sampleRate(),
                                          tail_seconds=tail_seconds)
        except (audio.AudioUnavailable, ValueError, TypeError, OSError) as exc:
            self.error.emit(f"Cannot play: {exc}")
            return
        self._duration = renderer.duration_seconds
        self._prepare(fmt.sampleRate())   # a fresh synthesizer for the next play (each render needs a new one)
        # Sink and source have no Qt parent: Python owns them, and dropping them in _teardown deletes
        # them at once (deleteLater'd audio objects left to interpreter shutdown can crash PySide).
        self._source = _SongSource(renderer, int16)
        self._source.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = QAudioSink(device, fmt)
        self._sink.setBufferSize(int(SINK_BUFFER_SECONDS * fmt.sampleRate()) * self._source.bytes_per_frame)
        self.start_latency = None
        self._last_position, self._last_progress_at = 0.0, time.perf_counter()
        self._sink.start(self._source)
        if self._sink.error() != QAudio.Error.NoError:
            message = (f"Cannot play: the audio output {device.description()} refused to start "
                       f"({self._sink.error().name})")
            self._teardown()
            self.error.emit(message)
            return
        self._set_state("playing")
        self._timer.start()

    @staticmethod
    def _format_for(device: QAudioDevice) -> tuple[QAudioFormat, bool]:
        """Stereo float at 44.1 kHz if the device takes it, else 16-bit, else the device's rate."""
        fmt = QAudioFormat()
        fmt.setChannelCount(2)
        for rate in (audio.DEFAULT_SAMPLE_RATE, device.preferredFormat().sampleRate()):
            fmt.setSampleRate(rate)
            for sample_format, int16 in ((QAudioFormat.SampleFormat.Float, False),
                                         (QAudioFormat.SampleFormat.Int16, True)):
                fmt.setSampleFormat(sample_format)
                if device.isFormatSupported(fmt):
                    return fmt, int16
        raise audio.AudioUnavailable(f"audio output {device.description()} takes neither float nor 16-bit stereo")

    def stop(self) -> None:
        """Stop now; emits stateChanged("stopped") if something was playing."""
        was_playing = self._sink is not None
        self._teardown()
        if was_playing:
            self._set_state("stopped")

    def position(self) -> float:
        """Seconds of the piece played so far (0 when stopped)."""
        if self._sink is None:
            return 0.0
        return min(self._sink.processedUSecs() / 1e6, self._duration)

    # ---- internals --------------------------------------------------------------
    def _poll(self) -> None:
        """Every POSITION_INTERVAL_MS while playing: report the position, notice the end and errors.
        (The sink's stateChanged signal is polled instead: PySide6 cannot convert its argument.)"""
        if self._sink is None:
            return
        if self.start_latency is None and self._source.first_read_at is not None:
            self.start_latency = self._source.first_read_at - self._play_called_at
            log.debug("first audio block handed to the output %.1f ms after play()", self.start_latency * 1000)
        state, error = self._sink.state(), self._sink.error()
        position = self.position()
        if position > self._last_position:
            self._last_position, self._last_progress_at = position, time.perf_counter()
        if state == QAudio.State.StoppedState and error != QAudio.Error.NoError:
            message = f"Playback stopped: audio output error ({error.name})"
            self.stop()
            self.error.emit(message)
            return
        # Idle means the sink got no more data; the output may still be playing what it holds.
        if state == QAudio.State.IdleState and self._source.renderer.finished:
            stalled = time.perf_counter() - self._last_progress_at > STALL_SECONDS
            if position >= self._duration - END_SLACK_SECONDS or stalled:
                self.positionChanged.emit(self._duration)
                self.stop()
                return
        self.positionChanged.emit(position)

    def _teardown(self) -> None:
        self._timer.stop()
        sink, source = self._sink, self._source
        self._sink, self._source = None, None
        if sink is not None:
            sink.stop()
            del sink
        if source is not None:
            source.close()
            source.renderer.close()

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)


class MidiPlayer(QObject):
    """Sends a Song to a MIDI output port (composer.sound.midiout) with the same signals as Player.

    The port is opened on the first play() and reused until set_port() or close().
    Callbacks from the sender thread become queued signals, delivered on the GUI thread.
    """

    positionChanged = Signal(float)     # seconds since the start of the piece
    stateChanged = Signal(str)          # "playing" | "stopped"
    error = Signal(str)
    _finished = Signal(str)             # from the sender thread

    def __init__(self, parent: QObject | None = None, *, port: str | None = None):
        super().__init__(parent)
        self._port_name = port
        self._output = None             # composer.sound.midiout.MidiOutput, created once
        self._state = "stopped"
        self._finished.connect(self._on_finished)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close)

    @staticmethod
    def ports() -> list[str]:
        """Names of the MIDI output ports ([] when there are none)."""
        from composer.sound.midiout import list_output_ports
        return list_output_ports()

    def is_available(self) -> tuple[bool, str]:
        from composer.sound.midiout import midi_status
        return midi_status()

    def set_port(self, name: str | None) -> None:
        """Use another port from the next play() on (None: the first port)."""
        if name != self._port_name:
            self.close()
            self._port_name = name

    def play(self, song: Song, *, tail_seconds: float = 0.0) -> None:
        """Send `song` (a port has no release tail to wait for: `tail_seconds` is ignored)."""
        from composer.sound.midiout import MidiOutput, MidiUnavailable
        try:
            if self._output is None:
                self._output = MidiOutput(self._port_name)
            self._output.play(song, on_position=self.positionChanged.emit, on_finished=self._finished.emit)
        except (MidiUnavailable, TypeError) as exc:
            self.error.emit(f"Cannot send to MIDI: {exc}")
            return
        self._set_state("playing")

    def stop(self) -> None:
        if self._output is not None:
            self._output.stop()     # silences the port; on_finished("stopped") follows as a signal
        self._set_state("stopped")

    def close(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None
        self._set_state("stopped")

    def _on_finished(self, reason: str) -> None:
        if reason.startswith("error"):
            self.error.emit(reason[len("error: "):])
        if self._output is None or not self._output.is_playing:
            self._set_state("stopped")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)
