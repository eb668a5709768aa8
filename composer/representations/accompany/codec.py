"""An Arrangement as a list of ints, so folder ingestion (composer.corpus.ingest:
worker processes, the on-disk cache, the per-file report) carries it unchanged.

This is no model vocabulary: the ints are a serialised Arrangement,

    <bos> FORMAT steps_per_beat T V tempo*1000 M (beat*1e6 num den)*M
          melody[T] voices[V*T] chords[T/steps_per_beat] step_in_bar[T] <eos>

read back by `ArrangementCodec.arrangement`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from composer.config import ConfigMixin
from composer.music.song import Song
from composer.representations.accompany.extract import arrangement_from_song
from composer.representations.accompany.grid import ONSET, AccompanyConfig, Arrangement
from composer.representations.base import BOS, EOS, Encoded

FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ExtractionConfig(ConfigMixin):
    """What the ingestion cache keys on: the grid and parts, and the melody policy's options."""

    accompany: AccompanyConfig = AccompanyConfig()
    track: int | str | None = None      # the melody track: an index or part of its name (None: the policy's)
    chords: str = "highest"             # a chord in the melody track gives its "highest" or "lowest" note

    def to_dict(self) -> dict:
        return {"accompany": self.accompany.to_dict(), "track": self.track, "chords": self.chords}


class ArrangementCodec:
    """The ingestion's 'tokenizer' for accompaniment: encode(song) -> Encoded whose
    tokens serialise the Arrangement (UnusableMusic with the reason when the file
    has no melody or no accompaniment)."""

    kind = "accompany"

    def __init__(self, config: ExtractionConfig | None = None):
        self.config = config or ExtractionConfig()

    def encode(self, song: Song) -> Encoded:
        c = self.config
        arr = arrangement_from_song(song, c.accompany, track=c.track, chords=c.chords)
        notes = int((arr.melody >= ONSET).sum() + (arr.voices >= ONSET).sum())
        return Encoded(tokens=serialise(arr), n_notes=notes, source=arr.source)

    def arrangement(self, tokens, name: str = "") -> Arrangement:
        """The Arrangement `encode` serialised (voice names from this codec's config)."""
        return deserialise(tokens, tuple(self.config.accompany.voices), name)


def serialise(arr: Arrangement) -> list[int]:
    meters = [v for beat, num, den in arr.time_signatures for v in (round(beat * 1e6), int(num), int(den))]
    head = [BOS, FORMAT, arr.steps_per_beat, arr.steps, arr.voices.shape[0], round(arr.tempo * 1000),
            len(arr.time_signatures), *meters]
    body = np.concatenate([arr.melody, arr.voices.reshape(-1), arr.chords, arr.step_in_bar]).astype(int)
    return head + body.tolist() + [EOS]


def deserialise(tokens, voice_names: tuple, name: str = "") -> Arrangement:
    t = [int(v) for v in tokens]
    if len(t) < 8 or t[0] != BOS or t[1] != FORMAT or t[-1] != EOS:
        raise ValueError("these ints are not a serialised Arrangement (format "
                         f"{t[1] if len(t) > 1 else '?'}, expected {FORMAT})")
    spb, steps, voices, tempo, meters = t[2:7]
    at = 7 + 3 * meters
    signatures = [(t[k] / 1e6, t[k + 1], t[k + 2]) for k in range(7, at, 3)]
    body = np.array(t[at:-1], dtype=np.int16)
    beats = steps // spb
    if len(body) != steps * (voices + 2) + beats:
        raise ValueError(f"a serialised Arrangement of {steps} steps and {voices} voices has the wrong length")
    cuts = np.cumsum([steps, steps * voices, beats])
    melody, rows, chords, step_in_bar = np.split(body, cuts)
    return Arrangement(steps_per_beat=spb, melody=melody, voices=rows.reshape(voices, steps), chords=chords,
                       step_in_bar=step_in_bar, voice_names=voice_names, time_signatures=signatures,
                       tempo=tempo / 1000, name=name)
