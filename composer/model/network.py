"""The sequence model: embedding -> nn.LSTM / nn.GRU / nn.RNN (fused kernels) -> head.

The three recurrent families the field teaches: LSTM, GRU and the plain
(Elman, tanh) RNN, so users can compare them on their own music."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from composer.config import ConfigMixin

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}   # nn.RNN: tanh nonlinearity (its default)
LOOKBACK_MAX = 4    # distances; their repeat flags are one input class of 2**N


@dataclass(frozen=True)
class ModelConfig(ConfigMixin):
    vocab_size: int
    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = False   # head shares the embedding matrix (via a projection)
    position_classes: int = 0   # > 1: a learned embedding of the tokenizer's position (e.g. step in bar) is added
    weight_drop: float = 0.0    # training only: DropConnect on the hidden-to-hidden weights (AWD-LSTM), 0 = off
    locked_dropout: bool = False  # training only: one dropout mask per sequence for the RNN's input and output
    lookback: tuple = ()        # (melody) distances in bars, e.g. (1, 2, 4, 8): inputs of the events that far back
                                # at the same place in the bar, and repeat flags (composer.model.lookback); () = off
    lookback_copy: bool = False  # with lookback: a learned gate per distance adds to those events' logits

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.weight_drop < 1:
            raise ValueError(f"weight_drop must be in [0, 1), got {self.weight_drop}")
        check_lookback(self.lookback)
        if self.lookback_copy and not self.lookback:
            raise ValueError("lookback_copy needs lookback distances (it copies the events those inputs name)")


class MusicRNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.pos_embed = nn.Embedding(c.position_classes, c.embed_dim) if c.position_classes > 1 else None
        k = len(c.lookback)
        # one table of k x V rows (distance j's tokens at offset (j-1) V) and one of the 2**k repeat-flag classes
        self.lookback_embed = nn.Embedding(k * c.vocab_size, c.embed_dim) if k else None
        self.repeat_embed = nn.Embedding(2 ** k, c.embed_dim) if k else None
        self.rnn = CELLS[c.cell](c.embed_dim, c.hidden_size, num_layers=c.num_layers,
                                 dropout=c.dropout if c.num_layers > 1 else 0.0, batch_first=True)
        self.drop = nn.Dropout(c.dropout)
        if c.tie_weights:
            self.proj = nn.Linear(c.hidden_size, c.embed_dim)
            self.head = nn.Linear(c.embed_dim, c.vocab_size)
            self.head.weight = self.embed.weight
        else:
            self.proj = None
            self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.lookback_copy:     # starts at 0: no bonus until training finds copying pays
            self.copy_gate = nn.Linear(c.hidden_size, k)
            nn.init.zeros_(self.copy_gate.weight)
            nn.init.zeros_(self.copy_gate.bias)
        else:
            self.copy_gate = None

    def forward(self, tokens: torch.Tensor, state=None, positions: torch.Tensor | None = None,
                lookback: torch.Tensor | None = None):
        """tokens (B, T) [+ positions (B, T)] [+ lookback (B, T, N + 1) from composer.model.lookback]
        -> logits (B, T, V), new recurrent state."""
        x = self.embed(tokens)                   # (B, T, E)
        if self.pos_embed is not None:
            if positions is None:
                raise ValueError("this model needs token positions (config.position_classes > 1)")
            x = x + self.pos_embed(positions)
        k = len(self.config.lookback)
        if k:
            if lookback is None or lookback.shape[-1] != k + 1:
                raise ValueError(f"this model needs lookback features (B, T, {k + 1}) (config.lookback = "
                                 f"{self.config.lookback})")
            offsets = torch.arange(k, device=tokens.device) * self.config.vocab_size
            x = x + self.lookback_embed(lookback[..., :k] + offsets).sum(-2) + self.repeat_embed(lookback[..., k])
        x = self._dropout(x)
        h, state = self._recur(x, state)         # (B, T, H)
        h = self._dropout(h)
        out = self.head(self.proj(h) if self.proj is not None else h)   # (B, T, V)
        if self.copy_gate is not None:
            out = out + copy_bonus(self.copy_gate(h), lookback[..., :k], self.config.vocab_size)
        return out, state

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout of (B, T, C) features; with `locked_dropout` the same
        features are dropped at every time step of a sequence (variational
        dropout, as in AWD-LSTM)."""
        p = self.config.dropout
        if not (self.config.locked_dropout and self.training and p > 0):
            return self.drop(x)
        keep = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1.0 - p) / (1.0 - p)   # (B, 1, C)
        return x * keep

    def _recur(self, x: torch.Tensor, state):
        """The recurrent layers; in training with `weight_drop` > 0 each
        hidden-to-hidden matrix gets one DropConnect mask per forward pass
        (the same mask at every time step, as in AWD-LSTM). The parameters
        keep their names, so a model file does not depend on the option."""
        p = self.config.weight_drop
        if not (self.training and p > 0):
            return self.rnn(x, state)
        dropped = {name: F.dropout(weight, p, training=True) for name, weight in self.rnn.named_parameters()
                   if name.startswith("weight_hh")}
        return functional_call(self.rnn, dropped, (x, state), strict=False)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def check_lookback(distances) -> None:
    """Raise ValueError unless `distances` is a tuple of at most LOOKBACK_MAX
    increasing bar counts in 1..64 (empty: no lookback)."""
    if not isinstance(distances, tuple) or not all(isinstance(d, int) and 1 <= d <= 64 for d in distances):
        raise ValueError(f"lookback must be distances in bars, each 1..64, e.g. (1, 2, 4, 8), got {distances!r}")
    if len(distances) > LOOKBACK_MAX or list(distances) != sorted(set(distances)):
        raise ValueError(f"lookback must be at most {LOOKBACK_MAX} different distances in increasing order, "
                         f"got {distances!r}")


def copy_bonus(gate: torch.Tensor, lookback_tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """gate (..., N) and the lookback tokens (..., N) -> (..., V): each distance's gate
    added to the logit of the token it names ("none" = <pad>, id 0, gets nothing).
    A comparison with arange rather than a scatter, so the ONNX step graph has it too."""
    vocab = torch.arange(vocab_size, device=gate.device)
    hit = (lookback_tokens.unsqueeze(-1) == vocab) & (lookback_tokens.unsqueeze(-1) != 0)   # (..., N, V)
    return (gate.unsqueeze(-1) * hit.to(gate.dtype)).sum(-2)
