"""Audio for a `Song`: FluidSynth synthesis with a General MIDI SoundFont,
block-by-block rendering (for playback) and WAV/FLAC export.

Qt-free. The synthesizer is pyfluidsynth over the system's libfluidsynth
(Debian: libfluidsynth3), imported lazily so that a machine without it can
still import this module, ask `audio_status()` why sound is off, and export
MIDI. The default SoundFont is the small General MIDI bank that pretty_midi
ships (TimGM6mb.sf2); any .sf2 can be passed as `soundfont=`.

What sounds is what the written MIDI file holds: the song is played as
`composer.sound.midiout.channel_events`, on the channels and programs that
`composer.music.midifile.song_to_midi` writes (pitched tracks on channels 1-9 and 11-16 with their General MIDI
program; drum tracks on channel 10, bank 128, which is the drum kit).

Lengths: a render lasts until the bar line after the last note ends (so a
piece ending with a rest keeps its last bar; `music_end_beat`), plus a fixed
release tail of `RELEASE_TAIL_SECONDS` so that notes fade out (release
envelope and reverb) instead of being cut off.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError, OutputExistsError
from composer.music.midifile import write_atomic
from composer.music.song import GM_DRUM_CHANNEL, Song
from composer.safe_write import check_target
from composer.sound.midiout import ChannelEvent, channel_events

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100          # Hz
RELEASE_TAIL_SECONDS = 1.5           # rendered after the last note ends (release + reverb)
SYNTH_GAIN = 0.5                     # FluidSynth master gain (its default is 0.2, too quiet for one melody line)
EXPORT_PEAK = 10 ** (-1 / 20)        # exported files are normalised to a peak of -1 dBFS
AUDIO_FORMATS = ("wav", "flac")
DRUM_BANK = 128                      # SoundFont bank of General MIDI drum kits


class AudioUnavailable(ComposerError):
    """Synthesis cannot run: no libfluidsynth, no pyfluidsynth, or a missing/unusable SoundFont."""


# --- the synthesizer library ---------------------------------------------------------------

_fluidsynth = None          # the imported pyfluidsynth module, once loaded
_write_float = None         # ctypes prototype of fluid_synth_write_float
_import_error: str | None = None
_import_lock = threading.Lock()


def _load_fluidsynth():
    """Import pyfluidsynth once; raise AudioUnavailable with the reason if it cannot load."""
    global _fluidsynth, _write_float, _import_error
    with _import_lock:
        if _fluidsynth is not None:
            return _fluidsynth
        if _import_error is None:
            try:
                # pyfluidsynth prints the library path to stdout when $CI is set: keep stdout clean.
                with contextlib.redirect_stdout(io.StringIO()):
                    import fluidsynth
            except ImportError as exc:
                if "fluidsynth" in str(exc).lower() and "library" in str(exc).lower():
                    _import_error = ("FluidSynth library not found (install libfluidsynth3, "
                                     "e.g. sudo apt-get install libfluidsynth3)")
                else:
                    _import_error = f"pyfluidsynth is not installed ({exc}); pip install pyfluidsynth"
            except OSError as exc:
                _import_error = f"FluidSynth library could not be loaded: {exc}"
            else:
                from ctypes import c_int, c_void_p
                _write_float = fluidsynth.cfunc(
                    "fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1),
                    ("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1),
                    ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
                _silence_fluidsynth_log(fluidsynth)
                _fluidsynth = fluidsynth
                return fluidsynth
        raise AudioUnavailable(_import_error)


def _silence_fluidsynth_log(fluidsynth) -> None:
    """FluidSynth logs to stderr by default; library code must not print, so route it nowhere."""
    from ctypes import c_int, c_void_p
    set_log = fluidsynth.cfunc("fluid_set_log_function", c_void_p, ("level", c_int, 1),
                               ("fun", c_void_p, 1), ("data", c_void_p, 1))
    if set_log is not None:
        for level in range(5):  # FLUID_PANIC .. FLUID_DBG
            set_log(level, None, None)


def fluidsynth_version() -> str:
    """Version of the loaded libfluidsynth, e.g. '2.3.1'; raises AudioUnavailable."""
    fluidsynth = _load_fluidsynth()
    from ctypes import c_int
    major, minor, micro = c_int(), c_int(), c_int()
    fluidsynth.fluid_version(major, minor, micro)
    return f"{major.value}.{minor.value}.{micro.value}"


# --- SoundFonts ----------------------------------------------------------------------------

def default_soundfont() -> Path:
    """The embedded General MIDI SoundFont: pretty_midi's TimGM6mb.sf2 (about 6 MB).

    Raises AudioUnavailable if pretty_midi (and so the file) is not installed.
    """
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise AudioUnavailable("no default SoundFont: the pretty_midi package (which ships TimGM6mb.sf2) "
                               "is not installed; choose a .sf2 file")
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise AudioUnavailable(f"no default SoundFont: {path} is missing; choose a .sf2 file")
    return path


def resolve_soundfont(soundfont: str | os.PathLike | None) -> Path:
    """`soundfont` as an existing file, or the default one; raises AudioUnavailable naming the path."""
    if soundfont is None or str(soundfont) == "":
        return default_soundfont()
    path = Path(soundfont).expanduser()
    if not path.exists():
        raise AudioUnavailable(f"SoundFont not found: {path}")
    if not path.is_file():
        raise AudioUnavailable(f"SoundFont is not a file: {path}")
    return path


def audio_status(soundfont: str | os.PathLike | None = None) -> tuple[bool, str]:
    """Can songs be synthesized here? Returns (available, reason).

    The reason is a sentence for a tooltip or a log: what works, or what is
    missing and how to fix it. Checks libfluidsynth and the SoundFont file; it
    does not load the SoundFont (rendering reports a corrupt one).
    """
    try:
        version = fluidsynth_version()
        path = resolve_soundfont(soundfont)
    except AudioUnavailable as exc:
        return False, str(exc)
    return True, f"FluidSynth {version}, SoundFont {path.name}"


# --- synthesizers: one fresh synthesizer per render; fresh ones can be loaded ahead of time ---
# A used FluidSynth keeps state that system_reset() does not clear (voice and effect memories,
# block phase), so reusing one would make renders of the same song differ. Each render therefore
# takes a never-used synthesizer; prepare_synth() loads one in advance so Play need not wait.

@dataclass
class _Synth:
    synth: object      # fluidsynth.Synth
    sfont_id: int
    key: tuple         # (SoundFont path, mtime, size, sample rate)


_ready: dict[tuple, _Synth] = {}      # one fresh, preloaded synthesizer per key
_loading: dict[tuple, threading.Event] = {}   # preloads in progress
_ready_lock = threading.Lock()


def _synth_key(soundfont: Path, sample_rate: int) -> tuple:
    stat = soundfont.stat()
    return (str(soundfont.resolve()), stat.st_mtime_ns, stat.st_size, int(sample_rate))


def _new_synth(soundfont: Path, sample_rate: int) -> _Synth:
    fluidsynth = _load_fluidsynth()
    key = _synth_key(soundfont, sample_rate)
    synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate))
    sfont_id = synth.sfload(str(soundfont))
    if sfont_id < 0:
        synth.delete()
        raise AudioUnavailable(f"{soundfont} is not a SoundFont FluidSynth can load")
    return _Synth(synth, sfont_id, key)


def _acquire_synth(soundfont: Path, sample_rate: int) -> _Synth:
    """A fresh synthesizer with the SoundFont loaded: the preloaded one if there is one
    (waiting for a preload in progress rather than loading a second copy beside it)."""
    _load_fluidsynth()
    key = _synth_key(soundfont, sample_rate)
    with _ready_lock:
        loading = _loading.get(key)
    if loading is not None:
        loading.wait(timeout=30)
    with _ready_lock:
        entry = _ready.pop(key, None)
    return entry if entry is not None else _new_synth(soundfont, sample_rate)


def prepare_synth(soundfont: str | os.PathLike | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
    """Load the SoundFont into a fresh synthesizer ahead of time (about 50 ms for TimGM6mb.sf2)
    so that the next render or Play starts without that wait. Thread-safe; raises AudioUnavailable."""
    path = resolve_soundfont(soundfont)
    key = _synth_key(path, sample_rate)
    with _ready_lock:
        if key in _ready or key in _loading:
            return
        done = _loading[key] = threading.Event()
    try:
        entry = _new_synth(path, sample_rate)
        with _ready_lock:
            _ready[key] = entry
    finally:
        with _ready_lock:
            del _loading[key]
        done.set()


def _release_synth(entry: _Synth) -> None:
    entry.synth.delete()


# --- rendering -------------------------------------------------------------------------------

def music_end_beat(song: Song) -> float:
    """Where the music ends, in beats: the song's length (its bars, rests at the end included;
    else the end of the last note) rounded up to the next bar line of the meter in force there,
    so a one-bar piece lasts one bar even if it ends with a rest."""
    end = song.length_beats
    meters = sorted(song.time_signatures) or [(0.0, 4, 4)]
    start, num, den = next(((b, n, d) for b, n, d in reversed(meters) if b <= end), (0.0, 4, 4))
    bar = num * 4.0 / den
    bars = np.ceil((end - start) / bar - 1e-9)
    return float(start + max(bars, 0) * bar)


class SongRenderer:
    """Synthesizes one song block by block: `read(frames)` -> float32 array (n, 2) in [-1, 1].

    Reading everything gives the same samples as `render_audio(..., normalize=False)`;
    the player reads small blocks so sound starts before the whole piece is rendered.
    `total_frames` = music (to the bar line after the last note) + release tail. Call `close()`
    (or use `with`) to return
    the synthesizer to the pool. Not thread-safe: one reader at a time.
    """

    def __init__(self, song: Song, *, soundfont: str | os.PathLike | None = None,
                 sample_rate: int = DEFAULT_SAMPLE_RATE, tail_seconds: float = RELEASE_TAIL_SECONDS):
        if not isinstance(song, Song):
            raise TypeError(f"song must be a composer.music.song.Song, got {type(song).__name__}")
        if not 8000 <= int(sample_rate) <= 192000:
            raise ValueError(f"sample_rate must be 8000..192000 Hz, got {sample_rate}")
        if tail_seconds < 0:
            raise ValueError(f"tail_seconds must be >= 0, got {tail_seconds}")
        if not any(track.notes for track in song.tracks):
            raise ValueError("the song has no notes: nothing to render")
        self.sample_rate = int(sample_rate)
        self.soundfont = resolve_soundfont(soundfont)
        rate = self.sample_rate
        self._events = [(round(e.seconds * rate), e) for e in channel_events(song)]  # (frame, event)
        self.music_frames = max(round(song.seconds_at(music_end_beat(song)) * rate), self._events[-1][0])
        self.total_frames = self.music_frames + round(tail_seconds * rate)
        self.position = 0            # frames rendered so far
        self._next_event = 0
        self._entry: _Synth | None = _acquire_synth(self.soundfont, self.sample_rate)

    @property
    def duration_seconds(self) -> float:
        """Length of the whole render (music + tail) in seconds."""
        return self.total_frames / self.sample_rate

    @property
    def finished(self) -> bool:
        return self.position >= self.total_frames

    def read(self, max_frames: int, *, clip: bool = True) -> np.ndarray:
        """The next up to `max_frames` frames as float32 (n, 2); empty when finished."""
        if self._entry is None:
            raise ValueError("this renderer is closed")
        n = max(0, min(int(max_frames), self.total_frames - self.position))
        out = np.zeros((n, 2), dtype=np.float32)
        start, done = self.position, 0
        while done < n:
            # apply every message due at or before the current frame, then synthesize up to the next one
            while self._next_event < len(self._events) and self._events[self._next_event][0] <= start + done:
                self._apply(self._events[self._next_event][1])
                self._next_event += 1
            upto = self._events[self._next_event][0] if self._next_event < len(self._events) else start + n
            chunk = max(1, min(start + n, upto) - (start + done))
            pointer = out.ctypes.data + done * 8  # 2 float32 per frame
            _write_float(self._entry.synth.synth, chunk, pointer, 0, 2, pointer, 1, 2)
            done += chunk
        self.position += n
        if clip:                       # (a sound card takes [-1, 1]; a loud chord can go past it)
            np.clip(out, -1.0, 1.0, out=out)
        return out

    def read_all(self, *, clip: bool = True) -> np.ndarray:
        """Everything not read yet, as float32 (n, 2)."""
        return self.read(self.total_frames - self.position, clip=clip)

    def _apply(self, event: ChannelEvent) -> None:
        synth, sfont_id = self._entry.synth, self._entry.sfont_id
        if event.kind == "on":
            synth.noteon(event.channel, event.data1, event.data2)
        elif event.kind == "off":
            synth.noteoff(event.channel, event.data1)
        elif event.kind == "program":
            bank = DRUM_BANK if event.channel == GM_DRUM_CHANNEL else 0
            if synth.program_select(event.channel, sfont_id, bank, event.data1) != 0:
                log.warning("SoundFont %s has no preset %d in bank %d; using preset 0",
                            self.soundfont.name, event.data1, bank)
                synth.program_select(event.channel, sfont_id, bank, 0)

    def close(self) -> None:
        if self._entry is not None:
            entry, self._entry = self._entry, None
            _release_synth(entry)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - at interpreter shutdown the pool may be gone; nothing to report
            pass


def render_audio(song: Song, *, soundfont: str | os.PathLike | None = None,
                 sample_rate: int = DEFAULT_SAMPLE_RATE, tail_seconds: float = RELEASE_TAIL_SECONDS,
                 normalize: bool = False) -> np.ndarray:
    """Synthesize `song` to float32 stereo samples, shape (frames, 2), values in [-1, 1].

    frames = round((seconds to the bar line after the song's end (music_end_beat) + tail_seconds) * sample_rate). With
    `normalize` the result is scaled so its peak is -1 dBFS (exports do this).
    Raises AudioUnavailable (no FluidSynth, SoundFont missing or unusable) or
    ValueError (a song without notes).
    """
    with SongRenderer(song, soundfont=soundfont, sample_rate=sample_rate, tail_seconds=tail_seconds) as renderer:
        samples = renderer.read_all(clip=False)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        raise AudioUnavailable(f"the render is silent: SoundFont {Path(renderer.soundfont).name} "
                               "has no sound for this song's programs")
    if normalize:                      # scaled from the unclipped peak: a loud chord is not flattened
        samples *= np.float32(EXPORT_PEAK / peak)
    else:
        np.clip(samples, -1.0, 1.0, out=samples)
    return samples


# --- files -----------------------------------------------------------------------------------

def audio_format_for(path: str | os.PathLike, audio_format: str | None = None) -> str:
    """'wav' or 'flac', from `audio_format` or else the file suffix; ValueError names the bad value."""
    fmt = (audio_format or Path(path).suffix.lstrip(".") or "wav").lower()
    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
    return fmt


def encode_audio(samples: np.ndarray, sample_rate: int, audio_format: str = "wav") -> bytes:
    """float32 (n, 2) samples -> the bytes of a 16-bit WAV or FLAC file."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    if audio_format == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(pcm.shape[1])
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(pcm.tobytes())
        return buffer.getvalue()
    if audio_format == "flac":
        try:
            import soundfile
        except (ImportError, OSError) as exc:
            raise AudioUnavailable(f"FLAC export needs the soundfile package ({exc}); use WAV") from None
        buffer = io.BytesIO()
        soundfile.write(buffer, pcm, int(sample_rate), format="FLAC", subtype="PCM_16")
        return buffer.getvalue()
    raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio_format!r}")


def write_audio(song: Song, path: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
                force: bool = False, sample_rate: int = DEFAULT_SAMPLE_RATE,
                audio_format: str | None = None) -> Path:
    """Render `song` and write it as 16-bit stereo WAV or FLAC (from `audio_format` or the suffix),
    normalised to -1 dBFS, atomically. Never overwrites without `force` (OutputExistsError)."""
    path = Path(path)
    fmt = audio_format_for(path, audio_format)
    check_target(path)               # fail before the render, not after it
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite)")
    samples = render_audio(song, soundfont=soundfont, sample_rate=sample_rate, normalize=True)
    return write_atomic(path, encode_audio(samples, sample_rate, fmt), force=force)


def write_wav(song: Song, path: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
              force: bool = False, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Path:
    """`write_audio` as WAV whatever the suffix."""
    return write_audio(song, path, soundfont=soundfont, force=force, sample_rate=sample_rate, audio_format="wav")


__all__ = [
    "AUDIO_FORMATS",
    "DEFAULT_SAMPLE_RATE",
    "RELEASE_TAIL_SECONDS",
    "AudioUnavailable",
    "SongRenderer",
    "audio_format_for",
    "audio_status",
    "default_soundfont",
    "encode_audio",
    "fluidsynth_version",
    "music_end_beat",
    "prepare_synth",
    "render_audio",
    "resolve_soundfont",
    "write_audio",
    "write_wav",
]
