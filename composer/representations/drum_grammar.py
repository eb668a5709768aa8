"""The drum sampling grammar: a piece of exactly the bars and meters asked for."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from composer.representations.base import BOS, EOS, PAD, Grammar

if TYPE_CHECKING:
    from composer.representations.drums import DrumsTokenizer


class DrumGrammar(Grammar):
    """<bos>, then for each bar of `meters` (one meter per bar): its meter's two
    tokens when it differs from the bar before, `bar`, and one step token per
    grid step; then <eos>. Everything but the step tokens is fixed by the
    meters, so a sequence's state is one number, how far along this script it
    is, and every sequence ends after exactly len(meters) bars.

    `allowed_steps` (a bool array over the 512 class masks, default all) keeps
    some step tokens out, e.g. the crash off every step."""

    row_state = ("at",)

    def __init__(self, tok: DrumsTokenizer, batch: int, meters: list[tuple[int, int]], device,
                 allowed_steps: np.ndarray | None = None):
        if not meters:
            raise ValueError("drum sampling needs at least one bar")
        V = tok.vocab_size
        script, positions, bars_before = [BOS], [0], [0]      # token or -1 (any step), position after it
        previous = None
        for k, ts in enumerate(meters):
            ts = tuple(ts)
            meter = tok.meter_tokens(ts) if ts != previous else []     # (ValueError naming a meter it cannot hold)
            previous = ts
            spb = tok.config.steps_per_bar(ts)
            script += meter + [tok.index["bar"]] + [-1] * spb
            positions += [0] * (len(meter) + 1) + [(i + 1) % spb for i in range(spb)]
            bars_before += [k] * (len(meter) + 1 + spb)
        script.append(EOS)
        positions.append(0)
        bars_before.append(len(meters))
        self.tok, self.device, self.bars_wanted = tok, device, len(meters)
        self.script = np.array(script + [PAD], dtype=np.int64)            # the last entry: after the end
        self._positions = np.array([0] + positions, dtype=np.int64)        # [at]: after the token before `at`
        self._bars = np.array(bars_before + [len(meters)], dtype=np.float32)
        steps = np.ones(V - tok.step_base, dtype=bool) if allowed_steps is None else np.asarray(allowed_steps, bool)
        if not steps.any():
            raise ValueError("no drum step is allowed")
        self._rows = np.eye(V + 1, V, dtype=bool)                         # row t: only token t
        self._rows[V, tok.step_base:] = steps                             # row V: the allowed steps
        self._code = np.where(self.script >= 0, self.script, V)
        self.at = np.zeros(batch, dtype=np.int64)                          # the script index of the next token

    @property
    def done(self) -> torch.Tensor:
        return torch.from_numpy(self.at >= len(self.script) - 1)          # (B,) bool

    def max_steps(self) -> int:
        return len(self.script)

    def mask(self) -> torch.Tensor:
        return torch.from_numpy(self._rows[self._code[self.at]]).to(self.device)    # (B, V)

    def update(self, tokens: torch.Tensor) -> None:
        self.at = np.minimum(self.at + 1, len(self.script) - 1)

    def positions(self) -> torch.Tensor:
        return torch.from_numpy(self._positions[self.at])                  # (B,) long

    def progress_rows(self) -> np.ndarray:
        return self._bars[self.at] / np.float32(self.bars_wanted)
