"""The FluidSynth library (pyfluidsynth over libfluidsynth, imported lazily so
that a machine without it can still import the sound package and ask why sound
is off) and the synthesizers that renders take, one fresh one per render."""
from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ComposerError

SYNTH_GAIN = 0.5                     # FluidSynth master gain (its default is 0.2, too quiet for one melody line)


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


# --- synthesizers: one fresh synthesizer per render; fresh ones can be loaded ahead of time ---
# A used FluidSynth keeps state that system_reset() does not clear (voice and effect memories,
# block phase), so reusing one would make renders of the same song differ. Each render therefore
# takes a never-used synthesizer; preload_synth() loads one in advance so Play need not wait.

@dataclass
class Synth:
    synth: object      # fluidsynth.Synth
    sfont_id: int
    key: tuple         # (SoundFont path, mtime, size, sample rate)


_ready: dict[tuple, Synth] = {}      # one fresh, preloaded synthesizer per key
_loading: dict[tuple, threading.Event] = {}   # preloads in progress
_ready_lock = threading.Lock()


def _synth_key(soundfont: Path, sample_rate: int) -> tuple:
    stat = soundfont.stat()
    return (str(soundfont.resolve()), stat.st_mtime_ns, stat.st_size, int(sample_rate))


def _new_synth(soundfont: Path, sample_rate: int) -> Synth:
    fluidsynth = _load_fluidsynth()
    key = _synth_key(soundfont, sample_rate)
    synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate))
    sfont_id = synth.sfload(str(soundfont))
    if sfont_id < 0:
        synth.delete()
        raise AudioUnavailable(f"{soundfont} is not a SoundFont FluidSynth can load")
    return Synth(synth, sfont_id, key)


def acquire_synth(soundfont: Path, sample_rate: int) -> Synth:
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


def preload_synth(soundfont: Path, sample_rate: int) -> None:
    """Load the SoundFont file `soundfont` into a fresh synthesizer for the next
    `acquire_synth` (unless one is ready or loading). Thread-safe; raises AudioUnavailable."""
    key = _synth_key(soundfont, sample_rate)
    with _ready_lock:
        if key in _ready or key in _loading:
            return
        done = _loading[key] = threading.Event()
    try:
        entry = _new_synth(soundfont, sample_rate)
        with _ready_lock:
            _ready[key] = entry
    finally:
        with _ready_lock:
            del _loading[key]
        done.set()


def release_synth(entry: Synth) -> None:
    entry.synth.delete()


def write_float(entry: Synth, frames: int, pointer: int) -> None:
    """Synthesize `frames` stereo frames as interleaved float32 into the memory at `pointer`."""
    _write_float(entry.synth.synth, frames, pointer, 0, 2, pointer, 1, 2)
