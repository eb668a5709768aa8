"""Training data: the train/validation split by file, and random-chunk batches
with on-the-fly transposition.

Every batch is a pure function of (seed, rank, step): resuming at step N
draws exactly the batches an uninterrupted run would have drawn, with no
sampler state to save, and each process of a distributed run draws its own
chunks from its own shard of the files.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import torch

from composer.model.lookback import lookback_features, transpose_features
from composer.representations.base import PAD, Tokenizer


def transpose_tables(tokenizer: Tokenizer, low: int, high: int) -> dict[int, np.ndarray]:
    """For each shift in low..high semitones, a lookup table token -> moved
    token (-1 where the move leaves the representation's pitch range)."""
    tables = {}
    for shift in range(low, high + 1):
        table = np.empty(tokenizer.vocab_size, dtype=np.int64)
        for tok in range(tokenizer.vocab_size):
            moved = tokenizer.transpose([tok], shift)
            table[tok] = -1 if moved is None else moved[0]
        tables[shift] = table
    return tables


@dataclass
class Batch:
    inputs: torch.Tensor      # (B, T) token ids
    targets: torch.Tensor     # (B, T) next tokens, PAD where there is none
    positions: torch.Tensor   # (B, T) position classes of the inputs
    lookback: torch.Tensor | None = None   # (B, T, N + 1) lookback features of the inputs (composer.model.lookback)

    @property
    def n_tokens(self) -> int:
        return int((self.targets != PAD).sum())


class ChunkSampler:
    """Random `seq_len`-token windows of the training pieces.

    A piece is picked with probability proportional to its length (every
    token is equally likely to be trained on), a window start uniformly, and
    a transposition uniformly from `transpose` (low, high) semitones; a shift
    that would push a note out of range falls back to the next smaller one.
    """

    def __init__(self, tokenizer: Tokenizer, sequences: list[list[int]], *, batch: int, seq_len: int,
                 transpose: tuple[int, int] = (0, 0), seed: int = 0, rank: int = 0, use_positions: bool = True,
                 lookback: tuple = ()):
        if not sequences:
            raise ValueError("no training sequences")
        if batch < 1 or seq_len < 2:
            raise ValueError(f"batch must be >= 1 and seq_len >= 2, got {batch} and {seq_len}")
        low, high = transpose
        if low > 0 or high < 0:
            raise ValueError(f"transpose range must include 0, got {low}..{high}")
        self.batch, self.seq_len, self.seed, self.rank = batch, seq_len, seed, rank
        self.tokenizer = tokenizer
        self.transpose = (low, high)
        self.sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        self.positions = [np.asarray(tokenizer.positions(s) if use_positions else [0] * len(s), dtype=np.int64)
                          for s in sequences]
        # lookback features of each whole piece, so a window that starts mid-piece still sees the bars before it
        self.lookback_width = len(lookback) + 1
        self.lookback = [lookback_features(tokenizer, s, lookback) for s in sequences] if lookback else None
        lengths = np.array([max(len(s) - 1, 1) for s in self.sequences], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.tables = transpose_tables(tokenizer, low, high) if (low, high) != (0, 0) else {}
        self.n_tokens = int(sum(len(s) - 1 for s in self.sequences))

    @property
    def steps_per_epoch(self) -> int:
        """Steps after which (on average) every training token was seen once."""
        return max(1, math.ceil(self.n_tokens / (self.batch * self.seq_len)))

    def batch_at(self, step: int) -> Batch:
        """The batch of training step `step` (0-based) on this process."""
        rng = np.random.default_rng([self.seed, self.rank, step, 0x5EED])
        L = self.seq_len
        tokens = np.full((self.batch, L + 1), PAD, dtype=np.int64)
        positions = np.zeros((self.batch, L), dtype=np.int64)
        lookback = np.zeros((self.batch, L, self.lookback_width), dtype=np.int64) if self.lookback else None
        picks = rng.choice(len(self.sequences), size=self.batch, p=self.weights)
        for row, i in enumerate(picks):
            seq, pos = self.sequences[i], self.positions[i]
            start = int(rng.integers(0, max(1, len(seq) - L)))
            chunk = seq[start:start + L + 1]
            shift = int(rng.integers(self.transpose[0], self.transpose[1] + 1)) if self.tables else 0
            chunk, shift = self._moved(chunk, shift)
            tokens[row, :len(chunk)] = chunk
            p = self.tokenizer.transpose_positions(pos[start:start + L], shift)
            positions[row, :len(p)] = p
            if lookback is not None:
                f = self._moved_lookback(self.lookback[i][start:start + L], shift)
                lookback[row, :len(f)] = f
        tokens_t = torch.from_numpy(tokens)
        return Batch(inputs=tokens_t[:, :-1].clone(), targets=tokens_t[:, 1:].clone(),
                     positions=torch.from_numpy(positions),
                     lookback=torch.from_numpy(lookback) if lookback is not None else None)

    def _moved_lookback(self, features: np.ndarray, shift: int) -> np.ndarray:
        """Lookback features of tokens moved by `shift` (the shift `_moved` used)."""
        return transpose_features(features, self.tables[shift] if shift else None)

    def _moved(self, chunk: np.ndarray, shift: int) -> tuple[np.ndarray, int]:
        """The chunk transposed by `shift` semitones or the nearest smaller
        shift that keeps every note in range; returns it and the shift used."""
        while shift != 0:
            moved = self.tables[shift][chunk]
            if (moved >= 0).all():
                return moved, shift
            shift -= 1 if shift > 0 else -1
        return chunk, 0


class StreamSampler(ChunkSampler):
    """Truncated back-propagation through time: `batch` lanes, each an endless
    stream of whole pieces (<bos> ... <eos> <bos> ...), in a random order and
    transposition drawn from (seed, rank, lane). Step k reads tokens
    [k*seq_len, (k+1)*seq_len] of every lane, so the trainer can carry the
    recurrent state from one step to the next and every token is predicted
    with its whole piece before it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lanes = [_Lane(self, lane) for lane in range(self.batch)]

    def batch_at(self, step: int) -> Batch:
        """The batch of training step `step` (0-based) on this process."""
        L = self.seq_len
        tokens = np.empty((self.batch, L + 1), dtype=np.int64)
        positions = np.empty((self.batch, L), dtype=np.int64)
        lookback = np.zeros((self.batch, L, self.lookback_width), dtype=np.int64) if self.lookback else None
        for row, lane in enumerate(self.lanes):
            toks, pos, lb = lane.window(step * L, L + 1)
            tokens[row], positions[row] = toks, pos[:L]
            if lookback is not None:
                lookback[row] = lb[:L]
        tokens_t = torch.from_numpy(tokens)
        return Batch(inputs=tokens_t[:, :-1].clone(), targets=tokens_t[:, 1:].clone(),
                     positions=torch.from_numpy(positions),
                     lookback=torch.from_numpy(lookback) if lookback is not None else None)


class _Lane:
    """One stream: pieces drawn epoch by epoch (a fresh permutation each time)."""

    def __init__(self, sampler: StreamSampler, lane: int):
        self.s = sampler
        self.rng = np.random.default_rng([sampler.seed, sampler.rank, lane, 0x57EA])
        self.pieces: list[tuple[int, int, int]] = []    # (start offset in the stream, piece index, shift)
        self.offsets: list[int] = []
        self.end = 0

    def _extend(self) -> None:
        low, high = self.s.transpose
        for i in self.rng.permutation(len(self.s.sequences)):
            shift = int(self.rng.integers(low, high + 1)) if self.s.tables else 0
            self.pieces.append((self.end, int(i), shift))
            self.offsets.append(self.end)
            self.end += len(self.s.sequences[i])

    def window(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        while self.end < start + length:
            self._extend()
        toks, pos, lbs = [], [], []
        k, at = bisect.bisect_right(self.offsets, start) - 1, start
        while at < start + length:
            offset, index, shift = self.pieces[k]
            seq = self.s.sequences[index]
            a, b = at - offset, min(len(seq), start + length - offset)
            moved, used = self.s._moved(seq[a:b], shift)
            toks.append(moved)
            pos.append(self.s.tokenizer.transpose_positions(self.s.positions[index][a:b], used))
            if self.s.lookback:
                lbs.append(self.s._moved_lookback(self.s.lookback[index][a:b], used))
            at = offset + b
            k += 1
        return np.concatenate(toks), np.concatenate(pos), (np.concatenate(lbs) if lbs else None)
