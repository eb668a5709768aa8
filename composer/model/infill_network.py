"""The infill model: rewrite a span of whole bars given the music on both sides.

    right context (after the span), read in reverse by a backward RNN -> summary (B, H)
    [<bos> ts] + left context + span, read by a forward RNN, teacher-forced;
    every step's input is the sum of: token + position in the bar + bars still
    to come until the span ends + "the next token is in the span" flag + a
    projection of the summary -> forward RNN -> head -> logits of the next token

The forward RNN writes the span left to right like the plain model, so the
sampling grammar (exact bar count, key, range) applies unchanged; the summary
tells it where the music has to land, the bars-remaining input how far away
that is. Both RNNs use the same cell family as the plain model (CELLS: LSTM,
GRU, tanh RNN).

The forward part has the plain model's shapes (embedding, position embedding,
RNN, head) and the conditioning inputs start at zero, so a new infill model can
start as a trained left-to-right model (`init_from_plain`) and learn to use the
right context from there.

The layout of one example (`span_example`) is shared by training, evaluation
and `composer.services.infill`, so the model sees the same thing in all three.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from composer.config import ConfigMixin
from composer.model.network import CELLS
from composer.representations.base import BOS, EOS
from composer.representations.melody import BAR

ARCHITECTURE = "infill"


@dataclass(frozen=True)
class InfillConfig(ConfigMixin):
    vocab_size: int
    architecture: str = ARCHITECTURE     # tells a model file's loader which class to build
    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    position_classes: int = 0            # > 1: learned embedding of the position in the bar
    remaining_classes: int = 33          # bars-until-span-end input: 0 .. remaining_classes-1 (clamped)
    context_bars: int = 8                # bars of music read on each side of the span
    attention: bool = False              # each forward step also attends over the backward RNN's outputs

    def __post_init__(self):
        if self.architecture != ARCHITECTURE:
            raise ValueError(f"architecture must be {ARCHITECTURE!r}, got {self.architecture!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers", "remaining_classes", "context_bars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class RightContext:
    """The encoded right context of a batch."""

    summary: torch.Tensor                    # (B, H)
    memory: torch.Tensor | None = None       # (B, R, H) backward RNN outputs (attention only)
    mask: torch.Tensor | None = None         # (B, R) True = a real token

    def expand(self, batch: int) -> RightContext:
        """One context (batch 1) repeated for `batch` samples."""
        widen = lambda t: None if t is None else t.expand(batch, *t.shape[1:])
        return RightContext(widen(self.summary), widen(self.memory), widen(self.mask))


class InfillRNN(nn.Module):
    def __init__(self, config: InfillConfig):
        super().__init__()
        self.config = c = config
        rnn = CELLS[c.cell]
        drop = c.dropout if c.num_layers > 1 else 0.0
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.pos_embed = nn.Embedding(c.position_classes, c.embed_dim) if c.position_classes > 1 else None
        self.remaining_embed = nn.Embedding(c.remaining_classes, c.embed_dim)
        self.span_embed = nn.Embedding(2, c.embed_dim)
        self.backward_rnn = rnn(c.embed_dim, c.hidden_size, num_layers=c.num_layers, dropout=drop, batch_first=True)
        self.summary_proj = nn.Linear(c.hidden_size, c.embed_dim)
        self.forward_rnn = rnn(c.embed_dim, c.hidden_size, num_layers=c.num_layers, dropout=drop, batch_first=True)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        self.attn_query = nn.Linear(c.hidden_size, c.hidden_size, bias=False) if c.attention else None
        self.attn_out = nn.Linear(c.hidden_size, c.hidden_size) if c.attention else None
        zeroed = [self.remaining_embed, self.span_embed, self.summary_proj] + ([self.attn_out] if c.attention else [])
        for layer in zeroed:                     # the conditioning starts at zero: a new model acts as a plain one
            nn.init.zeros_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)

    def _tokens(self, tokens: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        x = self.embed(tokens)                                   # (B, T, E)
        if self.pos_embed is not None:
            if positions is None:
                raise ValueError("this model needs token positions (config.position_classes > 1)")
            x = x + self.pos_embed(positions)
        return x

    def encode_right(self, tokens: torch.Tensor, positions: torch.Tensor | None,
                     lengths: torch.Tensor) -> RightContext:
        """The reversed right contexts (B, R) with their real lengths (B,) ->
        the backward RNN's top-layer state after its last real token (B, H),
        and with attention its outputs (B, R, H)."""
        x = self.drop(self._tokens(tokens, positions))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.backward_rnn(packed)
        h = state[0] if isinstance(state, tuple) else state     # (L, B, H)
        if self.attn_query is None:
            return RightContext(h[-1])
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])   # (B, R, H)
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths.to(tokens.device)[:, None]
        return RightContext(h[-1], memory, mask)

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor | None, remaining: torch.Tensor,
               in_span: torch.Tensor, right: RightContext, state=None):
        """The forward stream (B, T) with its per-step inputs (B, T) and the
        encoded right context -> logits (B, T, V), new state."""
        x = self._tokens(tokens, positions)                                  # (B, T, E)
        x = x + self.remaining_embed(remaining.clamp(0, self.config.remaining_classes - 1)) + self.span_embed(in_span)
        x = x + self.summary_proj(self.drop(right.summary))[:, None, :]      # (B, 1, E) broadcast over T
        h, state = self.forward_rnn(self.drop(x), state)                     # (B, T, H)
        if self.attn_query is not None:
            scores = self.attn_query(h) @ right.memory.transpose(1, 2)       # (B, T, R)
            scores = scores.masked_fill(~right.mask[:, None, :], float("-inf")) / self.config.hidden_size ** 0.5
            h = h + self.attn_out(torch.softmax(scores, dim=-1) @ right.memory)   # (B, T, H)
        return self.head(self.drop(h)), state                                # (B, T, V)

    def forward(self, tokens, positions, remaining, in_span, right_tokens, right_positions, right_lengths):
        """Teacher-forced logits (B, T, V) of a batch of examples (training, evaluation)."""
        right = self.encode_right(right_tokens, right_positions, right_lengths)
        logits, _ = self.decode(tokens, positions, remaining, in_span, right)
        return logits

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def init_from_plain(self, plain: nn.Module) -> None:
        """Copy a plain left-to-right MusicRNN's embedding, position embedding,
        RNN and head into the forward part (same sizes needed; the backward RNN
        and the conditioning inputs keep their initial values)."""
        c, p = self.config, plain.config
        mine = (c.vocab_size, c.cell, c.embed_dim, c.hidden_size, c.num_layers, c.position_classes)
        theirs = (p.vocab_size, p.cell, p.embed_dim, p.hidden_size, p.num_layers, p.position_classes)
        if mine != theirs or getattr(p, "tie_weights", False) or getattr(p, "lookback", ()):
            raise ValueError(f"cannot start from a model of another shape: (vocabulary, cell, embedding, hidden, "
                             f"layers, positions) {theirs} != {mine}" + (" (tied head)" if p.tie_weights else "")
                             + (" (lookback inputs)" if getattr(p, "lookback", ()) else ""))
        with torch.no_grad():
            self.embed.load_state_dict(plain.embed.state_dict())
            if self.pos_embed is not None:
                self.pos_embed.load_state_dict(plain.pos_embed.state_dict())
            self.forward_rnn.load_state_dict(plain.rnn.state_dict())
            self.head.load_state_dict(plain.head.state_dict())


def is_infill_config(model_config: dict) -> bool:
    """True when a model file's "model" metadata describes an InfillRNN."""
    return isinstance(model_config, dict) and model_config.get("architecture") == ARCHITECTURE


# ---- the layout of one example ------------------------------------------------------

@dataclass
class SpanExample:
    """What the model reads for the span of bars [first_bar, first_bar + n_bars)."""

    forward: list[int]            # [<bos> ts] + left context + span (span empty when sampling)
    forward_positions: list[int]
    remaining: list[int]          # after each forward token: bar lines still to come before the span ends
    in_span: list[int]            # after each forward token: 1 if the next token belongs to the span
    span_start: int               # index in `forward` of the span's first token (its bar token)
    right: list[int]              # the right context, reversed (the backward RNN reads it first to last)
    right_positions: list[int]


def bar_indices(tokens) -> list[int]:
    return [i for i, t in enumerate(tokens) if int(t) == BAR]


def span_bounds(tokens, bars: list[int], first_bar: int, n_bars: int) -> tuple[int, int]:
    """Token indices [start, end) of the span: from its first bar token to the
    next bar token after it (or to <eos> / the end)."""
    start = bars[first_bar]
    if first_bar + n_bars < len(bars):
        return start, bars[first_bar + n_bars]
    end = len(tokens)
    while end > start and int(tokens[end - 1]) == EOS:
        end -= 1
    return start, end


def span_example(tokens, positions, first_bar: int, n_bars: int, context_bars: int, *,
                 include_span: bool = True) -> SpanExample:
    """Cut a whole piece (<bos> ts bar ... [<eos>]) around a span of whole bars.

    `positions` are the tokenizer's positions of `tokens`. With `include_span`
    False (sampling) the forward stream stops where the span begins."""
    tokens, positions = list(tokens), list(positions)
    if len(tokens) < 3 or tokens[0] != BOS:
        raise ValueError("a piece must start with <bos> and its meter")
    bars = bar_indices(tokens)
    if not (0 <= first_bar and n_bars >= 1 and first_bar + n_bars <= len(bars)):
        raise ValueError(f"span of {n_bars} bar(s) from bar {first_bar + 1} is outside the piece ({len(bars)} bars)")
    start, end = span_bounds(tokens, bars, first_bar, n_bars)
    left = bars[max(0, first_bar - context_bars)]
    stop = end if include_span else start
    head = bars[0] if bars else 2                   # <bos> and the meter's one or two tokens
    forward = tokens[:head] + tokens[left:stop]
    forward_positions = positions[:head] + positions[left:stop]
    span_at = head + start - left
    remaining, in_span = [], []
    left_bars_after = sum(1 for t in forward[:span_at] if t == BAR)    # bar tokens of the left context after token i
    span_bars_seen = 0
    for i, tok in enumerate(forward):
        if i < span_at:
            left_bars_after -= tok == BAR
            remaining.append(left_bars_after + n_bars)
        else:
            span_bars_seen += tok == BAR
            remaining.append(n_bars - span_bars_seen)
        in_span.append(1 if i >= span_at - 1 else 0)
    right_bar = first_bar + n_bars + context_bars
    right_stop = bars[right_bar] if right_bar < len(bars) else len(tokens)
    right, right_positions = tokens[end:right_stop][::-1], positions[end:right_stop][::-1]
    if not right:
        right, right_positions = [EOS], [0]
    return SpanExample(forward, forward_positions, remaining, in_span, span_at, right, right_positions)
