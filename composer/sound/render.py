"""Rendering a `Song` with FluidSynth: block by block (for playback) or whole,
to the bar line after its music plus a release tail."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from composer.music.song import GM_DRUM_CHANNEL, Song
from composer.sound.midiout import ChannelEvent, channel_events
from composer.sound.soundfonts import resolve_soundfont
from composer.sound.synth import AudioUnavailable, Synth, acquire_synth, release_synth, write_float

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100          # Hz
RELEASE_TAIL_SECONDS = 1.5           # rendered after the last note ends (release + reverb)
EXPORT_PEAK = 10 ** (-1 / 20)        # exported files are normalised to a peak of -1 dBFS
DRUM_BANK = 128                      # SoundFont bank of General MIDI drum kits


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
        self._entry: Synth | None = acquire_synth(self.soundfont, self.sample_rate)

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
            write_float(self._entry, chunk, pointer)
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
            release_synth(entry)

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
