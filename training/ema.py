"""The weight average of `TrainConfig.ema` (`--ema D`): validation, best.model
and the model file use it; it is saved in the checkpoint so a resumed run
continues it exactly."""
from __future__ import annotations

from contextlib import contextmanager

import torch

from composer.errors import ComposerError


class WeightAverage:
    """An exponential moving average of a model's parameters (Polyak
    averaging): after optimizer step k, avg = d * avg + (1 - d) * weights with
    d = min(decay, (1 + k) / (10 + k)), so the first steps are not frozen in.
    Used for validation, best.model and the model file; checkpointed."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = model, decay
        self.names = [n for n, _ in model.named_parameters()]
        self.params = [p for _, p in model.named_parameters()]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - d)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"ema.{n}": t for n, t in zip(self.names, self.average)}

    @torch.no_grad()
    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        missing = [n for n in self.names if f"ema.{n}" not in tensors]
        if missing:
            raise ComposerError(f"cannot resume with ema: the checkpoint holds no average of {missing[0]!r} "
                                "(was it written without ema?)")
        for name, avg in zip(self.names, self.average):
            avg.copy_(tensors[f"ema.{name}"])

    @contextmanager
    def swapped_in(self):
        """The averaged weights in the model for the duration, then the trained ones back."""
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for p, avg in zip(self.params, self.average):
                p.copy_(avg)
        try:
            yield self.model
        finally:
            with torch.no_grad():
                for p, t in zip(self.params, trained):
                    p.copy_(t)
