"""Sampling a harmoniser: `count` arrangements of one melody in one batch.

The melody is encoded once; then step by step: forward one step -> chord
label (at beat starts) -> each voice's step token in turn. Every draw reads
temperature -> constraint mask -> top-k / top-p -> sample, as melody
sampling does (composer.model.sampling), and takes its random number from the
seed's counter-based stream at (variation, draw), so a variation's music
depends on the seed only, not on how many are sampled with it.

Constraints: a voice may only hold a note it sounds (no HOLD after a rest),
its onsets may be limited to `pitch_classes` (a key), chord roots to
`root_classes` (no chord stays allowed), and with `no_parallels` a voice may
not move into a parallel fifth or octave with the melody or a line above it
(as composer.analysis.harmony_stats.parallel_counts counts them; a "chords"
row is no line).
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
from composer.representations.accompany.grid import HOLD, ONSET, REST, AccompanyConfig, Arrangement, sounding_pitches

NOT_A_LINE = ("chords",)        # a row that is the top of a chord instrument: no parallels to avoid


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


class _VoiceLeading:
    """The pitch each line sounds at this step and the one before, to mask
    onsets that would make parallel fifths or octaves with a line above."""

    def __init__(self, melody: Arrangement, config: AccompanyConfig, names: tuple, count: int, device):
        self.config, self.lines = config, [v for v, name in enumerate(names) if name not in NOT_A_LINE]
        self.melody = torch.from_numpy(sounding_pitches(melody.melody, config).astype("int64")).to(device)
        self.pitches = torch.arange(config.step_vocab, device=device) + config.low - ONSET          # (V,)
        self.before = torch.full((count, len(names)), -1, dtype=torch.long, device=device)          # (N, R)
        self.now = self.before.clone()

    def mask(self, t: int, v: int, allowed: torch.Tensor) -> torch.Tensor:
        """`allowed` (N, V) without the onsets of voice v that move in parallel with a line above."""
        if v not in self.lines:
            return allowed
        count = allowed.shape[0]
        melody = (self.melody[t - 1].expand(count), self.melody[t].expand(count)) if t else None
        above = [melody] if melody is not None else []
        above += [(self.before[:, u], self.now[:, u]) for u in self.lines if u < v]
        mine = self.before[:, v][:, None]                                   # (N, 1)
        bad = torch.zeros_like(allowed)
        for was, now in above:
            was, now = was[:, None], now[:, None]                           # (N, 1)
            moves = (was >= 0) & (now >= 0) & (mine >= 0) & (now != was)
            similar = moves & (torch.sign(now - was) == torch.sign(self.pitches[None, :] - mine))
            before, after = (was - mine).abs() % 12, (now - self.pitches[None, :]).abs() % 12
            bad |= similar & (before == after) & ((before == 0) | (before == 7))
        bad[:, :ONSET] = False
        return allowed & ~bad

    def update(self, v: int, token: torch.Tensor) -> None:
        """Voice v chose `token` (N,) at this step."""
        pitch = torch.where(token >= ONSET, token + self.config.low - ONSET, self.before[:, v])
        self.now[:, v] = torch.where(token == REST, torch.full_like(pitch, -1), pitch)

    def next_step(self) -> None:
        self.before = self.now.clone()


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
                   root_classes: frozenset[int] | None = None, no_parallels: bool = False,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Voices (count, R, T) and chords (count, beats) for the melody row of
    `melody` (its voices and chords are not read; config.voices names the rows).
    `progress(step, steps)` is
    called now and then; `should_stop()` True raises Cancelled."""
    model.eval()
    c, device = model.config, next(model.parameters()).device
    T, R, spb = melody.steps, c.voices, c.steps_per_beat
    batch = collate([melody], R).to(device)
    memory = model.encode(batch.melody, batch.positions, batch.lengths).expand(count, -1, -1)   # (N, T, E)
    chord_ok = chord_mask(root_classes).to(device)[None, :]                  # (1, CHORDS)
    onset_ok = pitch_mask(config, pitch_classes).to(device)                  # (V,)
    sample = _Draws(seed, count, cfg)
    lines = _VoiceLeading(melody, config, tuple(config.voices), count, device) if no_parallels else None
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
            if lines is not None:
                allowed = lines.mask(t, v, allowed)
            token = sample(model.voice_logits(v, h, chord, chosen), allowed)
            chosen.append(token)
            if lines is not None:
                lines.update(v, token)
            voices[:, v, t] = token
        prev_chord = chord
        prev = torch.stack(chosen, dim=1) if R else prev
        if lines is not None:
            lines.next_step()
        if progress is not None and (t % 32 == 0 or t == T - 1):
            progress(t + 1, T)
    return voices.cpu().numpy().astype(np.int16), chords.cpu().numpy().astype(np.int16)
