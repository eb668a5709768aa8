"""The exact frame likelihood of the polyphonic benchmarks (benchmarks/polyphonic.py).

A frame's probability is the product of the probabilities of its tokens
(its pitches in ascending order, then the end-of-frame token), each given
everything before it. Tokens the frame grammar rules out (a pitch not above
the previous one, <eos> while frames remain, <pad>, <bos>) get probability 0
and the rest is renormalised, so each frame's distribution is a proper one
over all 2^88 frames ("masked", the number reported). The unmasked number,
which counts the probability of impossible tokens as lost, is also given.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from composer.model.network import MusicRNN
from composer.representations.base import BOS, PAD
from composer.representations.frames import FramesTokenizer, following_pitches


def allowed_after(tok: FramesTokenizer) -> torch.Tensor:
    """(V, V) bool: row x = the tokens the frame grammar allows right after
    token x when more frames follow (no <eos>, pitches in the frame order)."""
    V = tok.vocab_size
    follow = following_pitches(tok)                      # (P + 1, P): row 0 = a frame start
    table = torch.ones(V, V, dtype=torch.bool)
    rows = torch.zeros(tok.n_pitches + 1, V, dtype=torch.bool)
    rows[:, tok.pitch_base:tok.end_of_frame] = follow
    rows[:, tok.end_of_frame] = True
    table[BOS] = rows[0]
    table[tok.end_of_frame] = rows[0]
    table[tok.pitch_base:tok.end_of_frame] = rows[1:]
    return table


@dataclass
class FrameNLL:
    """Sums over a split: NLL (nats) of the predicted frames and their count."""

    nats: float = 0.0           # masked (grammar-renormalised), the reported number
    raw_nats: float = 0.0       # unmasked: impossible tokens' probability counted as lost
    frames: int = 0
    pieces: int = 0

    @property
    def nats_per_frame(self) -> float:
        return self.nats / self.frames if self.frames else float("nan")

    @property
    def raw_nats_per_frame(self) -> float:
        return self.raw_nats / self.frames if self.frames else float("nan")

    def to_dict(self) -> dict:
        return {"nats_per_frame": self.nats_per_frame, "raw_nats_per_frame": self.raw_nats_per_frame,
                "nats": self.nats, "raw_nats": self.raw_nats, "frames": self.frames, "pieces": self.pieces}


def counted_targets(tok: FramesTokenizer, tokens: Sequence[int]) -> list[int]:
    """Indices (into `tokens`) of the tokens whose log-probability a piece's
    NLL sums: every token of frames 2, 3, ... (the first frame is given)."""
    out = []
    for first, last in tok.frame_spans(tokens)[1:]:
        out.extend(range(first, last + 1))
    return out


@torch.no_grad()
def frame_nll(model: MusicRNN | Sequence[MusicRNN], tok: FramesTokenizer, sequences: Sequence[Sequence[int]], *,
              device: torch.device | str = "cpu", batch_size: int = 16, window: int = 1024) -> FrameNLL:
    """The benchmark NLL of whole pieces (tokens from <bos>, one per piece),
    run in `window`-token pieces with the recurrent state carried over.
    Several models: an ensemble, each token's probability the mean of theirs."""
    models = [model] if isinstance(model, torch.nn.Module) else list(model)
    for m in models:
        m.eval()
    use_pos = any(m.pos_embed is not None for m in models)
    device = torch.device(device)
    table = allowed_after(tok).to(device)
    total = FrameNLL()
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for b0 in range(0, len(order), batch_size):
        idx = order[b0:b0 + batch_size]
        length = max(len(sequences[i]) for i in idx)
        tokens = torch.full((len(idx), length), PAD, dtype=torch.long)
        positions = torch.zeros((len(idx), length), dtype=torch.long)
        weight = torch.zeros((len(idx), length), dtype=torch.float64)   # 1 where a target counts
        for row, i in enumerate(idx):
            seq = [int(t) for t in sequences[i]]
            tokens[row, :len(seq)] = torch.tensor(seq)
            if use_pos:
                positions[row, :len(seq)] = torch.tensor(tok.positions(seq))
            weight[row, counted_targets(tok, seq)] = 1.0
            total.frames += max(0, len(tok.frame_spans(seq)) - 1)
        tokens, weight, positions = tokens.to(device), weight.to(device), positions.to(device)
        states = [None] * len(models)
        for t0 in range(0, length - 1, window):
            t1 = min(t0 + window, length - 1)
            x, y = tokens[:, t0:t1], tokens[:, t0 + 1:t1 + 1]                    # (B, W)
            raws, maskeds = [], []
            for k, m in enumerate(models):
                pos = positions[:, t0:t1] if m.pos_embed is not None else None
                logits, states[k] = m(x, states[k], positions=pos)                  # (B, W, V)
                logits = logits.double()
                raws.append(torch.log_softmax(logits, dim=-1).gather(-1, y[..., None])[..., 0])
                masked = torch.log_softmax(logits.masked_fill(~table[x], -math.inf), dim=-1)
                maskeds.append(masked.gather(-1, y[..., None])[..., 0])              # (B, W)
            raw = torch.logsumexp(torch.stack(raws), dim=0) - math.log(len(models))
            masked = torch.logsumexp(torch.stack(maskeds), dim=0) - math.log(len(models))
            w = weight[:, t0 + 1:t1 + 1]
            total.raw_nats -= float((raw * w).sum())
            total.nats -= float((masked.masked_fill(w == 0, 0.0) * w).sum())
        total.pieces += len(idx)
    return total
