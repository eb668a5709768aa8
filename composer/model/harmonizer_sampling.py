"""Sampling a harmoniser: `count` arrangements of one melody in one batch.

The melody is encoded once; then step by step: forward one step -> chord
label (at beat starts) -> each voice's step token in turn. Every draw reads
temperature -> constraint mask -> top-k / top-p -> sample, as melody
sampling does (composer.model.sampling), and takes its random number from the
seed's counter-based stream at (variation, draw), so a variation's music
depends on the seed only, not on how many are sampled with it.

Constraints: a voice may only hold a note it sounds (no HOLD after a rest),
its onsets may be limited to `pitch_classes` (a key), chord roots to
`root_classes` (no chord stays allowed).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from composer.errors import Cancelled
from composer.model.harmonizer_data import collate
from composer.model.harmonizer_network import CHORDS, HarmonizerRNN
from composer.model.sampling import BatchRows, SamplingConfig, draw, filter_logits
from composer.music import harmony
from composer.representations.accompany.grid import HOLD, ONSET, AccompanyConfig, Arrangement


def chord_mask(root_classes: frozenset[int] | None) -> torch.Tensor:
    """(CHORDS,) True = a label that may be drawn."""
    allowed = torch.ones(CHORDS, dtype=torch.bool)
    if root_classes is not None:
        for label in range(1, CHORDS):
            allowed[label] = harmony.root_and_quality(label)[0] in root_classes
    return allowed


def pitch_mask(config: AccompanyConfig, pitch_classes: frozenset[int] | None) -> torch.Tensor:
    """(step_vocab,) True = a token a voice may write after a sounding note (REST, HOLD, allowed onsets)."""
    allowed = torch.ones(config.step_vocab, dtype=torch.bool)
    if pitch_classes is not None:
        for token in range(ONSET, config.step_vocab):
            allowed[token] = config.pitch_of(token) % 12 in pitch_classes
    return allowed


class _Draws:
    """One token per row from logits under a mask, with the rows' own random numbers."""

    def __init__(self, seed: int, count: int, cfg: SamplingConfig):
        self.rows, self.cfg = BatchRows(seed, count), cfg

    def __call__(self, logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(filter_logits(logits, allowed, self.cfg), dim=-1)      # (N, K)
        u = torch.from_numpy(self.rows.uniforms()).to(probs.device)[:, None]         # (N, 1)
        return draw(probs, u)[:, 0]                                                   # (N,)


@torch.no_grad()
def sample_harmony(model: HarmonizerRNN, melody: Arrangement, config: AccompanyConfig, count: int,
                   cfg: SamplingConfig, seed: int, *, pitch_classes: frozenset[int] | None = None,
                   root_classes: frozenset[int] | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Voices (count, R, T) and chords (count, beats) for the melody row of
    `melody` (its voices and chords are not read). `progress(step, steps)` is
    called now and then; `should_stop()` True raises Cancelled."""
    model.eval()
    c, device = model.config, next(model.parameters()).device
    T, R, spb = melody.steps, c.voices, c.steps_per_beat
    batch = collate([melody], R).to(device)
    memory = model.encode(batch.melody, batch.positions, batch.lengths).expand(count, -1, -1)   # (N, T, E)
    chord_ok = chord_mask(root_classes).to(device)[None, :]                  # (1, CHORDS)
    onset_ok = pitch_mask(config, pitch_classes).to(device)                  # (V,)
    sample = _Draws(seed, count, cfg)
    prev_chord = torch.full((count,), CHORDS, dtype=torch.long, device=device)
    prev = torch.full((count, R), c.vocab_size, dtype=torch.long, device=device)   # "before the first step"
    chord = torch.zeros(count, dtype=torch.long, device=device)
    voices = torch.zeros((count, R, T), dtype=torch.long, device=device)
    chords = torch.zeros((count, T // spb), dtype=torch.long, device=device)
    state = None
    for t in range(T):
        if should_stop is not None and should_stop():
            raise Cancelled("harmonising was cancelled")
        h, state = model.decode(memory[:, t:t + 1], prev_chord[:, None] if c.chords else None, prev[:, :, None],
                                state)
        h = h[:, 0]                                                           # (N, H)
        if c.chords and t % spb == 0:
            chord = sample(model.chord_logits(h), chord_ok.expand(count, -1))
            chords[:, t // spb] = chord
        chosen = []
        for v in range(R):
            sounding = (prev[:, v] == HOLD) | ((prev[:, v] >= ONSET) & (prev[:, v] < c.vocab_size))   # (N,)
            allowed = onset_ok[None, :].repeat(count, 1)                      # (N, V)
            allowed[:, HOLD] = sounding
            token = sample(model.voice_logits(v, h, chord, chosen), allowed)
            chosen.append(token)
            voices[:, v, t] = token
        prev_chord = chord
        prev = torch.stack(chosen, dim=1) if R else prev
        if progress is not None and (t % 32 == 0 or t == T - 1):
            progress(t + 1, T)
    return voices.cpu().numpy().astype(np.int16), chords.cpu().numpy().astype(np.int16)
