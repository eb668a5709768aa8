"""Two chord predictors a harmoniser has to beat, in held-out bits per chord label.

  melody_note  P(chord | pitch class of the melody note sounding at the beat,
               or "rest"): the chord that most often goes with that note.
  bigram       P(chord_t | chord_(t-1)), the first beat of a piece after a start context.

Both are count tables over all composer.music.harmony labels (NO_CHORD
included, as the harmoniser predicts it too) with add-k smoothing, so no label
has zero probability. k is chosen on the training pieces alone, by
leave-one-out likelihood over K_CHOICES (exact for count tables and cheap):
the test pieces are only scored. Every beat of every test piece is one label.
"""
from __future__ import annotations

import math

import numpy as np

from composer.music import harmony
from composer.representations.accompany.grid import AccompanyConfig, Arrangement, sounding_pitches

K_CHOICES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
REST_CONTEXT = 12               # melody_note context when no melody note sounds at the beat
START_CONTEXT = harmony.LABEL_COUNT     # bigram context of a piece's first beat


class CountModel:
    """P(label | context) from counts with add-k smoothing over all LABEL_COUNT labels."""

    def __init__(self, contexts: int):
        self.counts = np.zeros((contexts, harmony.LABEL_COUNT), dtype=np.float64)
        self.k = 1.0

    def fit(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> CountModel:
        """Count (context, label) pairs, then choose k by leave-one-out likelihood."""
        for context, labels in pairs:
            np.add.at(self.counts, (context, labels), 1)
        self.k = max(K_CHOICES, key=self.leave_one_out_log_likelihood)
        return self

    def leave_one_out_log_likelihood(self, k: float) -> float:
        """Sum over the training pairs of log P(label | context) with that pair left out of the counts."""
        seen = self.counts > 0
        if not seen.any():
            return 0.0
        totals = np.broadcast_to(self.counts.sum(axis=1, keepdims=True), self.counts.shape)
        probs = (self.counts[seen] - 1 + k) / (totals[seen] - 1 + k * harmony.LABEL_COUNT)
        return float((self.counts[seen] * np.log(probs)).sum())

    def bits(self, context: np.ndarray, labels: np.ndarray) -> float:
        """-log2 P summed over (context, label) pairs."""
        counts = self.counts[context, labels]
        totals = self.counts[context].sum(axis=1)
        return float(-np.log2((counts + self.k) / (totals + self.k * harmony.LABEL_COUNT)).sum())


def beat_melody_contexts(arrangement: Arrangement, config: AccompanyConfig) -> np.ndarray:
    """The pitch class of the melody note sounding at each beat's first step (REST_CONTEXT if none)."""
    pitches = sounding_pitches(arrangement.melody, config)[::arrangement.steps_per_beat][:arrangement.beats]
    return np.where(pitches >= 0, pitches % 12, REST_CONTEXT).astype(np.int64)


def previous_chord_contexts(arrangement: Arrangement) -> np.ndarray:
    """The label of the beat before each beat (START_CONTEXT for the first)."""
    chords = arrangement.chords.astype(np.int64)
    return np.concatenate([[START_CONTEXT], chords[:-1]]).astype(np.int64)


def _pairs(arrangements, context_of) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(context_of(a), a.chords.astype(np.int64)) for a in arrangements if a.beats]


def fit_baselines(train, config: AccompanyConfig | None = None) -> dict[str, CountModel]:
    """{"melody_note": CountModel, "bigram": CountModel} fitted on `train` Arrangements."""
    config = config or AccompanyConfig()
    return {"melody_note": CountModel(REST_CONTEXT + 1).fit(_pairs(train, lambda a: beat_melody_contexts(a, config))),
            "bigram": CountModel(START_CONTEXT + 1).fit(_pairs(train, previous_chord_contexts))}


def baseline_bits(train, test, config: AccompanyConfig | None = None) -> dict[str, float]:
    """Held-out bits per chord label of the two baselines fitted on `train`,
    scored on every beat of `test`: {"melody_note": bits, "bigram": bits}
    (NaN when `test` has no beats). `config` reads the melody's tokens
    (default AccompanyConfig())."""
    config = config or AccompanyConfig()
    models = fit_baselines(train, config)
    labels = sum(a.beats for a in test)
    contexts = {"melody_note": lambda a: beat_melody_contexts(a, config), "bigram": previous_chord_contexts}
    out = {}
    for name, model in models.items():
        bits = sum(model.bits(context, chords) for context, chords in _pairs(test, contexts[name]))
        out[name] = bits / labels if labels else math.nan
    return out
