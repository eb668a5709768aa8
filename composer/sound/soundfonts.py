"""SoundFonts: the bundled General MIDI one (pretty_midi's TimGM6mb.sf2) and a
chosen .sf2 file, each checked to exist before a synthesizer loads it."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from composer.paths import open_input
from composer.sound.synth import AudioUnavailable

MAX_SOUNDFONT = 2_000_000_000      # bytes; the largest General MIDI SoundFonts in use are about 1.5 GB


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
    with open_input(path, MAX_SOUNDFONT, AudioUnavailable, "SoundFont"):   # a regular file of sane size
        pass
    return path
