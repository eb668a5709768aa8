"""Audio for a `Song`: FluidSynth synthesis with a General MIDI SoundFont,
block-by-block rendering (for playback) and WAV/FLAC export. This module is
the public API; the parts live in `synth` (the library and the synthesizers),
`soundfonts`, `render` and `export` beside it.

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

import os

from composer.sound.export import AUDIO_FORMATS, audio_format_for, encode_audio, write_audio, write_wav
from composer.sound.render import (
    DEFAULT_SAMPLE_RATE,
    EXPORT_PEAK,
    RELEASE_TAIL_SECONDS,
    SongRenderer,
    music_end_beat,
    render_audio,
)
from composer.sound.soundfonts import default_soundfont, resolve_soundfont
from composer.sound.synth import AudioUnavailable, fluidsynth_version, preload_synth


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


def prepare_synth(soundfont: str | os.PathLike | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
    """Load the SoundFont into a fresh synthesizer ahead of time (about 50 ms for TimGM6mb.sf2)
    so that the next render or Play starts without that wait. Thread-safe; raises AudioUnavailable."""
    preload_synth(resolve_soundfont(soundfont), sample_rate)


__all__ = [
    "AUDIO_FORMATS",
    "DEFAULT_SAMPLE_RATE",
    "EXPORT_PEAK",
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
