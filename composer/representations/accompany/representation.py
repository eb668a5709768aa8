"""The accompaniment representation as a model file stores it: its kind
("accompany"), its AccompanyConfig and the names of its step tokens.

It stands where a melody model has its tokenizer (the model file, training
checkpoints), but it encodes Arrangements (composer.representations.accompany.grid),
not token sequences: the harmoniser reads a melody row and writes chord
labels and voice rows.
"""
from __future__ import annotations

from composer.music.song import pitch_name
from composer.representations.accompany.grid import AccompanyConfig

KIND = "accompany"


def voice_rows(config: AccompanyConfig) -> tuple[str, ...]:
    """The voice rows of an Arrangement of `config`, top to bottom (a "chords"
    row is the top line of the chords, written as block chords of each beat's label)."""
    return tuple(config.voices)


class AccompanyRepresentation:
    kind = KIND

    def __init__(self, config: AccompanyConfig | None = None):
        self.config = config or AccompanyConfig()
        c = self.config
        self.vocab = ["rest", "hold"] + [pitch_name(p) for p in range(c.low, c.high + 1)]

    @property
    def vocab_size(self) -> int:
        return self.config.step_vocab

    @property
    def rows(self) -> tuple[str, ...]:
        return voice_rows(self.config)
