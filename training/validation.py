"""Validation during a training run: the metric on the held-out pieces, the
best score so far (saved as best.model) and early stopping's count of
evaluations without improvement."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from composer.analysis.likelihood import evaluate_bits_per_note
from composer.model.modelfile import save_model
from training import distributed as D
from training.infill_data import span_bits_per_note

MIN_IMPROVEMENT = 1e-3      # bits per note a validation score must improve by to count (early stopping)


class Validation:
    """Evaluates this process's share of the validation pieces every
    `eval_every` steps and keeps the scores a checkpoint stores."""

    def __init__(self, val_seqs: list, *, eval_every: int, infill: bool, tokenizer, info, device,
                 best_path: Path, emit: Callable[..., None]):
        self.val_seqs = D.shard(val_seqs, info, fallback=False)
        self.n_val = len(val_seqs)
        self.eval_every = eval_every
        self.infill, self.tokenizer, self.info, self.device = infill, tokenizer, info, device
        self.best_path, self.emit = best_path, emit
        self.best_val: float | None = None
        self.best_step = 0
        self.bad_evals = 0
        self.last_val: float | None = None

    def due(self, step: int) -> bool:
        return bool(step % self.eval_every == 0 and self.n_val)

    def stop_early(self, patience: int) -> bool:
        return bool(patience and self.bad_evals >= patience)

    def scores(self) -> dict:
        """What a checkpoint stores of the validation so far."""
        return {"best_val": self.best_val, "best_step": self.best_step, "bad_evals": self.bad_evals,
                "last_val": self.last_val}

    def restore(self, meta: dict) -> None:
        """The scores of a resumed run, from its checkpoint's meta."""
        self.best_val, self.best_step = meta["best_val"], meta["best_step"]
        self.bad_evals, self.last_val = meta["bad_evals"], meta.get("last_val")

    def evaluate(self, model, ema, step: int) -> float | None:
        """Validation (with the averaged weights when `ema` is on); a new
        best is saved as best.model."""
        if ema is None:
            return self._evaluate(model, step)
        with ema.swapped_in():
            return self._evaluate(model, step)

    def _evaluate(self, model, step: int) -> float | None:
        self.emit(phase="validating")
        if self.infill:     # span bits per note on deterministic spans, given both sides
            metric = span_bits_per_note(model, self.tokenizer, self.val_seqs, device=self.device)
        else:
            metric = evaluate_bits_per_note(model, self.tokenizer, self.val_seqs, device=self.device)
        metric = D.all_reduce_metric(self.info, metric, self.device)
        self.emit(phase="training")
        if not metric.notes:
            return None
        value = metric.bits_per_note
        self.last_val = value
        if self.best_val is None or value < self.best_val - MIN_IMPROVEMENT:
            self.best_val, self.best_step, self.bad_evals = value, step, 0
            if self.info.is_main:
                save_model(self.best_path, model, self.tokenizer, {"step": step, "val_bits_per_note": value})
        else:
            self.bad_evals += 1
        return value
