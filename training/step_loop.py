"""The steps of a training run, from its first (or resumed) step to the model
file: learning-rate schedule, optimizer steps, progress and the metrics log,
validation and checkpoints on their intervals, the stop conditions, then the
final evaluation and the model file."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from composer.errors import ComposerError
from composer.model.copyindex import CopyIndex
from composer.model.modelfile import load_model, save_model
from training import distributed as D
from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import TrainResult
from training.optim import WARMUP_BUDGET_SHARE, lr_factor
from training.run_model import NonFiniteLoss
from training.scrub import shareable_summary

log = logging.getLogger(__name__)


def _plain(value):
    """`value` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


class StepLoop:
    """Trains `parts` (a RunModel) on `sampler`'s batches for `schedule`,
    validating with `validation` and writing to `files` (a RunFiles);
    `hooks` are the caller's progress, stop request and after-step hook."""

    def __init__(self, config, *, info, device, reason: str, hooks, files, tokenizer, corpus, split_names: dict,
                 n_train: int, parts, sampler, schedule, validation):
        self.c, self.info, self.device, self.reason = config, info, device, reason
        self.hooks, self.files, self.tokenizer = hooks, files, tokenizer
        self.corpus, self.split_names, self.n_train = corpus, split_names, n_train
        self.parts, self.sampler, self.schedule, self.validation = parts, sampler, schedule, validation
        self.elapsed_before = 0.0       # seconds trained before a resume
        self.elapsed = 0.0
        self.resume_note = ""
        self.last_eval_step = -1
        self.window = [time.monotonic(), 0, 0.0, 0]      # start time, tokens, loss sum, steps

    def resume(self) -> int:
        """Load the last checkpoint into the run; returns its step."""
        ckpt = load_checkpoint(self.files.last)
        meta = ckpt.meta
        if meta["model_config"] != _plain(self.parts.model_config.to_dict()):
            raise ComposerError(f"cannot resume: the checkpoint's model ({meta['model_config']}) differs from "
                                "the requested one; use the same --cell/--layers/--hidden/--embed options")
        if meta["representation"] != _plain({"kind": self.tokenizer.kind, "config": self.tokenizer.config.to_dict()}):
            raise ComposerError("cannot resume: the checkpoint was trained with another representation config")
        saved = int(meta.get("world_size", 1))
        if saved != self.info.world_size:       # each process's files and the global batch would change
            raise ComposerError(f"cannot resume: the checkpoint was written by {saved} process(es) and this run has "
                                f"{self.info.world_size}; resume with the same number"
                                + (f" (torchrun --nproc-per-node ... for {saved} in all)" if saved > 1 else
                                   " (without torchrun)"))
        self.parts.load(ckpt)
        self.validation.restore(meta)
        self.elapsed_before = float(meta["elapsed_s"])
        self.resume_note = f"resumed from {self.files.last} at step {meta['step']}"
        self.hooks.emit(message=self.resume_note)
        return int(meta["step"])

    def run(self, start_step: int) -> TrainResult:
        self.files.open_metrics(start_step)
        try:
            reason, step = self.loop(start_step)
        except NonFiniteLoss as exc:
            return self.after_nonfinite(exc)
        return self.finish(reason, step)

    # ---- the steps ----------------------------------------------------------------
    def loop(self, step: int) -> tuple[str, int]:
        """Train from `step` until a limit, a stop request or early stopping.
        Returns (stopped_reason, steps done)."""
        c, total, budget = self.c, self.schedule.total_steps, self.schedule.budget_s
        t0 = time.monotonic()
        self.window = [time.monotonic(), 0, 0.0, 0]
        self.last_eval_step = step if c.resume else -1
        note = self.resume_note
        self.hooks.emit(phase="training", step=step, total_steps=total,
                        message=(note + "; " if note else "") + f"training on {self.reason}")
        while True:
            elapsed = self.elapsed_before + time.monotonic() - t0
            stop, over_time, elapsed = D.sync_max(
                self.info, [self.hooks.stop_requested(), bool(budget and elapsed >= budget), elapsed], self.device)
            self.elapsed = elapsed
            if stop:
                self.checkpoint(step, elapsed)
                return "cancelled", step
            if total is not None and step >= total:
                return ("steps" if c.steps and total == c.steps else "epochs"), step
            if over_time:
                return "minutes", step
            fraction = max(step / total if total else 0.0, elapsed / budget if budget else 0.0)
            lr = c.lr * lr_factor(step, warmup_steps=self.schedule.warmup, fraction_done=fraction,
                                  min_ratio=c.min_lr_ratio, decay_share=c.decay_share,
                                  warmup_time=elapsed / (WARMUP_BUDGET_SHARE * budget) if budget else 0.0)
            self.parts.set_lr(lr)
            stepped_at = time.monotonic()
            loss, n_tokens = self.parts.train_step(self.sampler, step)
            step += 1
            if self.hooks.after_step is not None:
                self.hooks.after_step(step, self.parts.model)
            # the time up to the end of this step: the ETA's pace (from the start of the
            # step, step 1 reported ~0 s and an ETA of 0:00)
            if self.after(step, loss, n_tokens, lr, elapsed + time.monotonic() - stepped_at):
                return "early stopping", step

    def after(self, step: int, loss: float, n_tokens: int, lr: float, elapsed: float) -> bool:
        """Progress, metrics log, evaluation, checkpoint; True = stop early."""
        c, w, v = self.c, self.window, self.validation
        w[1] += n_tokens
        w[2] += loss
        w[3] += 1
        now = time.monotonic()
        speed = w[1] * self.info.world_size / max(now - w[0], 1e-9)
        val = None
        if v.due(step):
            val = v.evaluate(self.parts.model, self.parts.ema, step)
            self.last_eval_step = step
        stop_early = v.stop_early(c.patience)
        if step % c.log_every == 0 or val is not None or stop_early:
            self.files.log_metrics({"step": step, "epoch": round(step / self.sampler.steps_per_epoch, 4),
                                    "loss": w[2] / w[3], "val_bits_per_note": val, "lr": lr,
                                    "tokens_per_s": round(speed, 1), "elapsed": round(elapsed, 3)})
            self.window = [now, 0, 0.0, 0]
        if step % c.checkpoint_every == 0 or stop_early:
            self.checkpoint(step, elapsed)
        self.hooks.emit(step=step, epoch=step / self.sampler.steps_per_epoch, train_loss=w[2] / max(w[3], 1),
                        val_bits_per_note=v.last_val, best_val_bits_per_note=v.best_val, tokens_per_s=speed,
                        elapsed_s=elapsed, eta_s=self.eta(step, elapsed))
        return stop_early

    def eta(self, step: int, elapsed: float) -> float | None:
        """Seconds left: by steps at the average pace so far, or by the time budget."""
        etas = []
        total, budget = self.schedule.total_steps, self.schedule.budget_s
        if total and step:
            etas.append((total - step) * elapsed / step)
        if budget:
            etas.append(budget - elapsed)
        return max(0.0, min(etas)) if etas else None

    def checkpoint(self, step: int, elapsed: float) -> None:
        if not self.info.is_main:
            return
        meta = {"step": step, "elapsed_s": elapsed, **self.validation.scores(), "split": self.split_names,
                "config": self.c.to_dict(), "model_config": self.parts.model_config.to_dict(),
                "representation": {"kind": self.tokenizer.kind, "config": self.tokenizer.config.to_dict()},
                "world_size": self.info.world_size, "scaler": self.parts.scaler_state()}
        save_checkpoint(self.files.last, self.parts.model.state_dict(), self.parts.optimizer.state_dict(), meta,
                        extra=self.parts.checkpoint_extra())

    # ---- the end -----------------------------------------------------------------
    def finish(self, reason: str, step: int) -> TrainResult:
        """Final evaluation, then the model file: best-by-validation weights
        (or the last ones when nothing was held out)."""
        v = self.validation
        if reason != "cancelled" and v.n_val and self.last_eval_step != step:
            val = v.evaluate(self.parts.model, self.parts.ema, step)
            self.files.log_metrics({"step": step, "epoch": round(step / self.sampler.steps_per_epoch, 4),
                                    "loss": None, "val_bits_per_note": val, "lr": None, "tokens_per_s": None,
                                    "elapsed": round(self.elapsed, 3)})
        if reason != "cancelled":
            self.checkpoint(step, self.elapsed)
        return self.write_model(reason, step)

    def after_nonfinite(self, exc: NonFiniteLoss) -> TrainResult:
        """Keep the last good checkpoint (untouched) and write the model file
        from the best or last good weights; with none, re-raise."""
        log.warning("%s; stopping (last good checkpoint kept)", exc)
        step = 0
        if self.info.is_main:
            last = self.files.last
            if not last.exists() and self.validation.best_val is None:
                raise NonFiniteLoss(f"{exc}; no good checkpoint was written yet, so no model file was written "
                                    f"(try a lower --lr than {self.c.lr})") from None
            good = load_checkpoint(last) if last.exists() else None
            if good is not None:
                self.parts.load_good_weights(good)
            step = int(good.meta["step"]) if good is not None else self.validation.best_step
        reason = f"non-finite loss ({exc}); kept the checkpoint of step {step}"
        return self.write_model(reason, step)

    def write_model(self, reason: str, step: int) -> TrainResult:
        corpus, files, parts = self.corpus, self.files, self.parts
        summary = self.summary(reason, step)
        out = files.out
        if self.info.is_main:
            index = self.copy_index()
            if files.best.exists() and self.validation.best_val is not None:
                save_model(out, load_model(files.best, "cpu").model, self.tokenizer, summary, force=True,
                           copy_index=index)
            elif parts.ema is not None:
                with parts.ema.swapped_in():
                    save_model(out, parts.model, self.tokenizer, summary, force=True, copy_index=index)
            else:
                save_model(out, parts.model, self.tokenizer, summary, force=True, copy_index=index)
        D.barrier(self.info)
        self.hooks.emit(phase="done", step=step, message=f"stopped: {reason}; wrote {out}")
        return TrainResult(model_path=out, best_val_bits_per_note=self.validation.best_val, steps=step,
                           stopped_reason=reason, report=corpus.report, metrics_path=files.metrics_path,
                           checkpoint_dir=files.ckpt_dir, summary=summary)

    def copy_index(self):
        """The copy index of every usable file (training and validation), for
        the model file; None when `copy_index` is off (about 1 s per 100,000
        notes, once, after training)."""
        if not self.c.copy_index or self.c.private or self.tokenizer.kind == "drums" or self.parts.accompany:
            return None
        sequences = self.corpus.sequences
        self.hooks.emit(message=f"indexing the notes of {len(sequences)} file(s) for the copy meter")
        try:
            return CopyIndex.from_corpus(sequences, self.tokenizer)
        except Exception as exc:            # never lose a trained model to the index
            self.hooks.emit(message=f"no copy index stored: {exc}")
            return None

    def summary(self, reason: str, step: int) -> dict:
        """The training summary stored in the model file."""
        v, report = self.validation, self.corpus.report
        used = report.used()
        folder = Path(self.c.folder)
        corpus = {"name": folder.resolve().name, "folder": self.c.folder, "files_used": len(used),
                  "files_skipped": len(report.skipped()), "notes": sum(f.n_notes for f in used),
                  "tokens": sum(f.n_tokens for f in used), "train_files": self.n_train, "val_files": v.n_val}
        metric = {"infill": "span bits per note", "accompany": "bits per beat (chords and voices)"}
        summary = {"corpus": corpus, "objective": self.c.objective,
                "val_metric": metric.get(self.c.objective, "bits per note"), "steps": step,
                "epochs": round(step / self.sampler.steps_per_epoch, 3),
                "val_bits_per_note": v.best_val, "best_step": v.best_step if v.best_val is not None else None,
                "last_val_bits_per_note": v.last_val, "stopped_reason": reason,
                "minutes": round(self.elapsed / 60.0, 2), "device": self.reason,
                "processes": self.info.world_size, "parameters": self.parts.model.num_parameters(),
                "eval_every": v.eval_every,
                "transpose": list(self.c.transpose_range),
                "train_config": self.c.to_dict()}
        if self.parts.accompany:
            from training.accompany_data import folder_style
            summary.update(v.summary_fields())
            train = [self.corpus.sequences[n] for n in self.split_names["train"]]
            summary["folder_style"] = folder_style(train, self.tokenizer.config)
        # no paths of this machine in a file that may be shared (training/scrub.py)
        return shareable_summary(summary, self.files.out, private=self.c.private)
