"""train(config, progress, should_stop): the one training function that the
`train` command and the GUI's training tab both call.

scan the folder (composer.corpus.ingest) -> split by file -> random chunks with
on-the-fly transposition -> AdamW with warm-up + cosine decay, clipping and
mixed precision on CUDA -> bits-per-note validation, early stopping ->
checkpoints (last + best, safetensors + JSON, atomic) -> a model file.
Runs unchanged under `torchrun` (see training/distributed.py).

`objective="infill"` swaps three parts and keeps the rest of the loop: the
model (composer.model.infill_network.InfillRNN), the batches (random spans of bars
with context on both sides, training/infill_data.py) and the validation
metric (span bits per note on deterministic spans of the validation pieces).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from composer.analysis.likelihood import evaluate_bits_per_note
from composer.corpus.split import split_files
from composer.errors import ComposerError, OutputExistsError
from composer.model.copyindex import CopyIndex
from composer.model.device import choose_device
from composer.model.infill_network import InfillRNN
from composer.model.modelfile import load_model, save_model
from composer.model.network import MusicRNN
from composer.representations.base import PAD
from composer.safe_write import check_folder_target, check_target
from composer.tasks import ProgressFn, ShouldStop
from training import distributed as D
from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import (
    DEFAULT_EPOCHS,
    DEFAULT_MIN_STEPS,
    TrainConfig,
    TrainProgress,
    TrainResult,
    model_config,
)
from training.data import ChunkSampler, StreamSampler
from training.ema import WeightAverage
from training.infill_data import SpanSampler, span_bits_per_note
from training.optim import amp_setup, is_oom, lr_factor, oom_message
from training.run_lock import LOCK_NAME, RunLock, RunLocked, take_run_lock

__all__ = [
    "NonFiniteLoss",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "amp_setup",
    "lr_factor",
    "oom_message",
    "train",
    "train_sequences",
]

log = logging.getLogger(__name__)
LAST, BEST, METRICS = "last.ckpt", "best.model", "metrics.jsonl"
MIN_IMPROVEMENT = 1e-3      # bits per note a validation score must improve by to count (early stopping)


class NonFiniteLoss(ComposerError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def _step_seed(seed: int, rank: int, step: int) -> int:
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % (2**63 - 1)


def _plain(value):
    """`value` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def train(config: TrainConfig, progress: ProgressFn | None = None, should_stop: ShouldStop | None = None, *,
          after_step: Callable[[int, MusicRNN], None] | None = None) -> TrainResult:
    """Train a model on the MIDI files in `config.folder` and write `config.out`.

    `progress(Progress)` is called often (its `info`: a TrainProgress); `should_stop()` returning True
    ends the run after a checkpoint (stopped_reason "cancelled", the model file
    is still written). `after_step(step, model)` runs after every optimizer
    step (for experiments and tests). Raises ComposerError when the folder
    holds nothing usable, naming the folder.
    """
    return _launch(config, progress, should_stop, after_step)


def train_sequences(config: TrainConfig, corpus, val_names, progress: ProgressFn | None = None,
                    should_stop: ShouldStop | None = None, *, tokenizer=None,
                    after_step: Callable[[int, MusicRNN], None] | None = None) -> TrainResult:
    """Train like `train`, on token sequences made elsewhere instead of a scan
    of `config.folder` (e.g. the piano-roll benchmarks, benchmarks/polyphonic.py).

    `corpus` is a composer.corpus.ingest.Corpus (sequences by name + its report);
    the names in `val_names` are the validation pieces (selection and early
    stopping), every other sequence trains; this replaces the random split
    by file. `tokenizer` (default: config.make_tokenizer()) must be the one
    that made the sequences. `config.folder` only names the data in the
    summary."""
    missing = [n for n in val_names if n not in corpus.sequences]
    if missing:
        raise ComposerError(f"validation piece {missing[0]!r} is not in the corpus")
    return _launch(config, progress, should_stop, after_step, given=(corpus, set(val_names)), tokenizer=tokenizer)


def process_device(device_name: str):
    """(DistInfo, device, reason) of this process: under torchrun each process
    takes the GPU of its local rank."""
    info = D.dist_info_from_env()
    device, reason = choose_device(device_name)
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
        reason += f" (rank {info.rank} of {info.world_size}, local GPU {info.local_rank})"
    return info, device, reason


def _launch(config, progress, should_stop, after_step, given=None, tokenizer=None) -> TrainResult:
    info, device, reason = process_device(config.device)
    created = D.setup(info, device)             # (already joined, e.g. by compare_cells: created is False)
    try:
        run = _Run(config, info, device, reason, progress, should_stop, after_step)
        run.given = given
        if tokenizer is not None:
            run.tokenizer = tokenizer
        return run.run()
    finally:
        D.teardown(created)


class _Run:
    def __init__(self, config, info, device, reason, progress, should_stop, after_step):
        self.c, self.info, self.device, self.reason = config, info, device, reason
        self._progress, self._should_stop, self.after_step = progress, should_stop, after_step
        self.tokenizer = config.make_tokenizer()
        self.ckpt_dir = config.checkpoint_path
        self.state = TrainProgress(device=str(device), device_reason=reason, cell=config.cell)
        self.best_val: float | None = None
        self.best_step = 0
        self.bad_evals = 0
        self.last_val: float | None = None
        self.elapsed_before = 0.0
        self.given = None           # (Corpus, validation names) from train_sequences, instead of a scan

    # ---- hooks ----------------------------------------------------------------
    def emit(self, **changes) -> None:
        self.state = dataclasses.replace(self.state, **changes)
        if self._progress is not None and self.info.is_main:
            self._progress(self.state.as_progress())

    def stop_requested(self) -> bool:
        return bool(self._should_stop and self._should_stop())

    # ---- the run ----------------------------------------------------------------
    def run(self) -> TrainResult:
        self.check_paths()
        lock = self.take_lock()
        try:
            self.check_earlier_run()
            return self._run()
        finally:
            if lock is not None:
                lock.release()

    def _run(self) -> TrainResult:
        corpus = self.scan()
        train_seqs, val_seqs = self.split(corpus)
        self.build(train_seqs)
        start_step = self.resume() if self.c.resume else 0
        self.open_metrics(start_step)
        self.val_seqs = D.shard(val_seqs, self.info, fallback=False)
        self.n_val = len(val_seqs)
        self.eval_every = self.c.eval_interval(sum(len(s) for s in val_seqs), self.info.world_size)
        try:
            reason, step = self.loop(start_step)
        except NonFiniteLoss as exc:
            return self.after_nonfinite(corpus, exc, len(train_seqs), len(val_seqs))
        return self.finish(corpus, reason, step, len(train_seqs), len(val_seqs))

    def after_nonfinite(self, corpus, exc: NonFiniteLoss, n_train: int, n_val: int) -> TrainResult:
        """Keep the last good checkpoint (untouched) and write the model file
        from the best or last good weights; with none, re-raise."""
        log.warning("%s; stopping (last good checkpoint kept)", exc)
        step = 0
        if self.info.is_main:
            last = self.ckpt_dir / LAST
            if not last.exists() and self.best_val is None:
                raise NonFiniteLoss(f"{exc}; no good checkpoint was written yet, so no model file was written "
                                    f"(try a lower --lr than {self.c.lr})") from None
            good = load_checkpoint(last) if last.exists() else None
            if good is not None:
                self.model.load_state_dict(good.model_state)
                if self.ema is not None:
                    self.ema.load(good.extra or {})
            step = int(good.meta["step"]) if good is not None else self.best_step
        reason = f"non-finite loss ({exc}); kept the checkpoint of step {step}"
        return self.write_model(corpus, reason, step, n_train, n_val)

    def check_paths(self) -> None:
        """Before any work: every output is a file (or nothing) in a folder that
        exists; a device node, FIFO, socket or folder is refused, --force or not."""
        c = self.c
        out = Path(c.out)
        if not out.parent.exists():
            raise ComposerError(f"output folder {out.parent} does not exist")
        check_target(out, "--out")
        check_folder_target(self.ckpt_dir, "--out")
        for name in (LAST, BEST, METRICS):
            check_target(self.ckpt_dir / name, "--out")
        if c.report:
            check_target(c.report, "--report")

    def take_lock(self) -> RunLock | None:
        """The output's lock (rank 0 takes it; every rank learns whether it could,
        before any other collective work). Raises RunLocked while another run
        writes the same output."""
        lock, refusal = None, None
        if self.info.is_main:
            try:
                lock = take_run_lock(self.ckpt_dir, self.c.out)
            except RunLocked as exc:
                refusal = str(exc)
            except OSError as exc:      # e.g. a read-only folder: the other ranks must hear of it, not wait
                refusal = f"cannot take the lock {self.ckpt_dir / LOCK_NAME}: {exc.strerror or exc}"
        refusal = D.broadcast_text(self.info, refusal)
        if refusal is not None:
            raise RunLocked(refusal)
        if lock is not None and lock.note:
            log.warning("%s", lock.note)
            self.emit(message=lock.note)
        return lock

    def check_earlier_run(self) -> None:
        c = self.c
        out = Path(c.out)
        if not c.resume and not c.force:
            if out.exists():
                raise OutputExistsError(f"{out} already exists (use --force to overwrite, or --resume)")
            if (self.ckpt_dir / LAST).exists():
                raise OutputExistsError(f"an earlier run's checkpoint is in {self.ckpt_dir}; use --resume to "
                                        "continue it or --force to start over")
        if c.resume and not (self.ckpt_dir / LAST).exists():
            raise ComposerError(f"nothing to resume: no checkpoint {self.ckpt_dir / LAST}")

    def scan(self):
        from composer.corpus.ingest import scan_folder
        if self.given is not None:
            corpus = self.given[0]
            self.emit(report=corpus.report, message=f"{len(corpus.sequences)} sequence(s) given")
            return corpus
        folder = Path(self.c.folder)
        if not folder.is_dir():
            raise ComposerError(f"{folder}: no such folder")
        self.emit(phase="scanning", message=f"scanning {folder}")

        def on_file(p):
            self.emit(files_done=p.done, files_total=p.total, message=f"scanning {p.message}")

        corpus = None
        for turn in ((0,) if not self.info.enabled else (0, 1)):   # rank 0 fills the cache first
            if (turn == 0) == self.info.is_main:
                corpus = scan_folder(folder, self.tokenizer, cache_dir=self.c.cache_dir, workers=self.c.workers,
                                     progress=on_file, should_stop=self._should_stop)
            D.barrier(self.info)
        report = corpus.report
        if self.c.report and self.info.is_main:
            report.save_json(self.c.report)
        self.emit(report=report, message=f"scanned {len(report.files)} file(s)")
        if not corpus.sequences:
            scanned = len(report.files)
            raise ComposerError(f"{folder}: no usable MIDI files" + (
                f" ({scanned} file(s) scanned, all skipped; see the reasons above)" if scanned
                else " (no .mid/.midi files found)"))
        return corpus

    def split(self, corpus):
        names = sorted(corpus.sequences)
        if self.c.resume:
            meta = load_checkpoint(self.ckpt_dir / LAST).meta
            train_names, val_names = meta["split"]["train"], meta["split"]["val"]
            missing = [n for n in train_names + val_names if n not in corpus.sequences]
            if missing:
                raise ComposerError(f"cannot resume: {len(missing)} file(s) of the checkpointed run are no longer "
                                    f"usable in {self.c.folder}, e.g. {missing[0]}")
        elif self.given is not None:
            val_names = sorted(n for n in names if n in self.given[1])
            train_names = [n for n in names if n not in self.given[1]]
        else:
            train_names, val_names = split_files(names, self.c.val_share, self.c.seed)
        self.split_names = {"train": list(train_names), "val": list(val_names)}
        return ([corpus.sequences[n] for n in train_names], [corpus.sequences[n] for n in val_names])

    def build(self, train_seqs) -> None:
        c, tok = self.c, self.tokenizer
        self.infill = c.objective == "infill"
        self.model_config = model_config(c, tok)
        torch.manual_seed(c.seed)
        self.model = (InfillRNN if self.infill else MusicRNN)(self.model_config)
        if self.infill and c.init_from and not c.resume:
            try:
                self.model.init_from_plain(load_model(c.init_from, "cpu").model)
            except ValueError as exc:
                raise ComposerError(f"--init-from {c.init_from}: {exc}") from None
        self.model.to(self.device)
        self.net = self.model
        if self.info.enabled:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        self.precision, self.scaler = amp_setup(self.device)
        self.rnn_state = None       # carried between steps with batching="tbptt"
        self.ema = WeightAverage(self.model, c.ema) if c.ema else None
        if self.infill:
            self.sampler = SpanSampler(tok, D.shard(train_seqs, self.info), batch=c.batch,
                                       span_bars=tuple(c.infill_bars), context_bars=c.infill_context,
                                       transpose=c.transpose_range, seed=c.seed, rank=self.info.rank,
                                       use_positions=self.model_config.position_classes > 1)
        else:
            sampler_cls = StreamSampler if c.batching == "tbptt" else ChunkSampler
            self.sampler = sampler_cls(tok, D.shard(train_seqs, self.info), batch=c.batch, seq_len=c.seq_len,
                                        transpose=c.transpose_range, seed=c.seed, rank=self.info.rank,
                                        use_positions=self.model_config.position_classes > 1,
                                        lookback=self.model_config.lookback)
        spe = self.sampler.steps_per_epoch
        totals = [c.steps] if c.steps else []
        if c.epochs:
            totals.append(max(1, math.ceil(c.epochs * spe)))
        if not totals and not c.minutes:
            totals.append(max(DEFAULT_EPOCHS * spe, DEFAULT_MIN_STEPS))
        self.total_steps = min(totals) if totals else None
        self.budget_s = c.minutes * 60.0 if c.minutes else None
        # a short run must not spend itself warming up: at most a tenth of its steps
        self.warmup = min(c.warmup_steps, self.total_steps // 10) if self.total_steps else c.warmup_steps

    def resume(self) -> int:
        ckpt = load_checkpoint(self.ckpt_dir / LAST)
        meta = ckpt.meta
        if meta["model_config"] != _plain(self.model_config.to_dict()):
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
        self.model.load_state_dict(ckpt.model_state)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        extra = ckpt.extra or {}
        n_state = sum(1 for k in extra if k.startswith("rnn_state."))
        if n_state:
            parts = [extra[f"rnn_state.{i}"].to(self.device) for i in range(n_state)]
            self.rnn_state = tuple(parts) if self.model_config.cell == "lstm" else parts[0]
        if self.ema is not None:
            self.ema.load(extra)
        if self.scaler is not None and meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        self.best_val, self.best_step = meta["best_val"], meta["best_step"]
        self.bad_evals, self.last_val = meta["bad_evals"], meta.get("last_val")
        self.elapsed_before = float(meta["elapsed_s"])
        self.resume_note = f"resumed from {self.ckpt_dir / LAST} at step {meta['step']}"
        self.emit(message=self.resume_note)
        return int(meta["step"])

    # ---- bookkeeping ------------------------------------------------------------
    def open_metrics(self, start_step: int) -> None:
        self.metrics_path = self.ckpt_dir / METRICS
        if not self.info.is_main:
            return
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        if not start_step:      # a fresh run (--force): an older run's files must not stand in for this one's
            for stale in (LAST, BEST):
                (self.ckpt_dir / stale).unlink(missing_ok=True)
        kept = []
        if start_step and self.metrics_path.exists():
            for line in self.metrics_path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= start_step:
                        kept.append(line)
                except (ValueError, KeyError):
                    continue
        check_target(self.metrics_path, "--out")
        self.metrics_path.write_text("".join(line + "\n" for line in kept))

    def log_metrics(self, row: dict) -> None:
        if self.info.is_main:
            check_target(self.metrics_path, "--out")       # (a FIFO would block the run, a device take the rows)
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(row) + "\n")

    def checkpoint(self, step: int, elapsed: float) -> None:
        if not self.info.is_main:
            return
        meta = {"step": step, "elapsed_s": elapsed, "best_val": self.best_val, "best_step": self.best_step,
                "bad_evals": self.bad_evals, "last_val": self.last_val, "split": self.split_names,
                "config": self.c.to_dict(), "model_config": self.model_config.to_dict(),
                "representation": {"kind": self.tokenizer.kind, "config": self.tokenizer.config.to_dict()},
                "world_size": self.info.world_size,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}
        state = self.rnn_state
        parts = [] if state is None else (list(state) if isinstance(state, tuple) else [state])
        extra = {f"rnn_state.{i}": t for i, t in enumerate(parts)}
        if self.ema is not None:
            extra.update(self.ema.tensors())
        save_checkpoint(self.ckpt_dir / LAST, self.model.state_dict(), self.optimizer.state_dict(), meta,
                        extra=extra)

    def evaluate(self, step: int) -> float | None:
        """Validation (with the averaged weights when `ema` is on); a new
        best is saved as best.model."""
        if self.ema is None:
            return self._evaluate(step)
        with self.ema.swapped_in():
            return self._evaluate(step)

    def _evaluate(self, step: int) -> float | None:
        self.emit(phase="validating")
        if self.infill:     # span bits per note on deterministic spans, given both sides
            metric = span_bits_per_note(self.model, self.tokenizer, self.val_seqs, device=self.device)
        else:
            metric = evaluate_bits_per_note(self.model, self.tokenizer, self.val_seqs, device=self.device)
        metric = D.all_reduce_metric(self.info, metric, self.device)
        self.emit(phase="training")
        if not metric.notes:
            return None
        value = metric.bits_per_note
        self.last_val = value
        if self.best_val is None or value < self.best_val - MIN_IMPROVEMENT:
            self.best_val, self.best_step, self.bad_evals = value, step, 0
            if self.info.is_main:
                save_model(self.ckpt_dir / BEST, self.model, self.tokenizer, {"step": step, "val_bits_per_note": value})
        else:
            self.bad_evals += 1
        return value

    # ---- the training loop -------------------------------------------------------
    def loop(self, step: int) -> tuple[str, int]:
        """Train from `step` until a limit, a stop request or early stopping.
        Returns (stopped_reason, steps done)."""
        c, total, budget = self.c, self.total_steps, self.budget_s
        t0 = time.monotonic()
        self.window = [time.monotonic(), 0, 0.0, 0]      # start time, tokens, loss sum, steps
        self.last_eval_step = step if c.resume else -1
        note = getattr(self, "resume_note", "")
        self.emit(phase="training", step=step, total_steps=total,
                  message=(note + "; " if note else "") + f"training on {self.reason}")
        while True:
            elapsed = self.elapsed_before + time.monotonic() - t0
            stop, over_time, elapsed = D.sync_max(
                self.info, [self.stop_requested(), bool(budget and elapsed >= budget), elapsed], self.device)
            self.elapsed = elapsed
            if stop:
                self.checkpoint(step, elapsed)
                return "cancelled", step
            if total is not None and step >= total:
                return ("steps" if c.steps and total == c.steps else "epochs"), step
            if over_time:
                return "minutes", step
            fraction = max(step / total if total else 0.0, elapsed / budget if budget else 0.0)
            lr = c.lr * lr_factor(step, warmup_steps=self.warmup, fraction_done=fraction,
                                  min_ratio=c.min_lr_ratio)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            loss, n_tokens = self.train_step(step)
            step += 1
            if self.after_step is not None:
                self.after_step(step, self.model)
            if self.after(step, loss, n_tokens, lr, elapsed):
                return "early stopping", step

    def train_step(self, step: int) -> tuple[float, int]:
        """One optimizer step on batch `step`; returns (loss in nats/token, tokens)."""
        c = self.c
        torch.manual_seed(_step_seed(c.seed, self.info.rank, step))   # dropout: a function of the step
        batch = self.sampler.batch_at(step)
        y = batch.targets.to(self.device)                                          # (B, T)
        positions = batch.positions.to(self.device) if self.model_config.position_classes > 1 else None
        self.net.train()
        try:
            with self.precision.autocast(self.device):
                if self.infill:     # left context + span, conditioned on the right context
                    logits, state = self.net(**batch.model_inputs(self.device)), None       # (B, T, V)
                else:
                    lookback = batch.lookback.to(self.device) if batch.lookback is not None else None
                    logits, state = self.net(batch.inputs.to(self.device), self.rnn_state, positions=positions,
                                             lookback=lookback)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)
            bad = D.sync_max(self.info, [0.0 if torch.isfinite(loss).item() else 1.0], self.device)[0]
            if bad:
                raise NonFiniteLoss(f"the loss became non-finite ({loss.item()}) at step {step + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
                if c.clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                if c.clip:
                    norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
                    if not torch.isfinite(norm):
                        raise NonFiniteLoss(f"the gradients became non-finite at step {step + 1}")
                self.optimizer.step()
            if self.ema is not None:
                self.ema.update(step)
            if c.batching == "tbptt":     # keep the state, cut the graph (truncated BPTT)
                self.rnn_state = tuple(t.detach() for t in state) if isinstance(state, tuple) else state.detach()
        except RuntimeError as exc:
            if is_oom(exc):
                raise ComposerError(oom_message(c.batch, c.seq_len, self.device)) from None
            raise
        return float(loss.item()), batch.n_tokens

    def after(self, step: int, loss: float, n_tokens: int, lr: float, elapsed: float) -> bool:
        """Progress, metrics log, evaluation, checkpoint; True = stop early."""
        c, w = self.c, self.window
        w[1] += n_tokens
        w[2] += loss
        w[3] += 1
        now = time.monotonic()
        speed = w[1] * self.info.world_size / max(now - w[0], 1e-9)
        val = None
        if step % self.eval_every == 0 and self.n_val:
            val = self.evaluate(step)
            self.last_eval_step = step
        stop_early = bool(c.patience and self.bad_evals >= c.patience)
        if step % c.log_every == 0 or val is not None or stop_early:
            self.log_metrics({"step": step, "epoch": round(step / self.sampler.steps_per_epoch, 4),
                              "loss": w[2] / w[3], "val_bits_per_note": val, "lr": lr,
                              "tokens_per_s": round(speed, 1), "elapsed": round(elapsed, 3)})
            self.window = [now, 0, 0.0, 0]
        if step % c.checkpoint_every == 0 or stop_early:
            self.checkpoint(step, elapsed)
        self.emit(step=step, epoch=step / self.sampler.steps_per_epoch, train_loss=w[2] / max(w[3], 1),
                  val_bits_per_note=self.last_val, best_val_bits_per_note=self.best_val, tokens_per_s=speed,
                  elapsed_s=elapsed, eta_s=self.eta(step, elapsed))
        return stop_early

    def eta(self, step: int, elapsed: float) -> float | None:
        """Seconds left: by steps at the average pace so far, or by the time budget."""
        etas = []
        if self.total_steps and step:
            etas.append((self.total_steps - step) * elapsed / step)
        if self.budget_s:
            etas.append(self.budget_s - elapsed)
        return max(0.0, min(etas)) if etas else None

    # ---- the end -----------------------------------------------------------------
    def finish(self, corpus, reason: str, step: int, n_train: int, n_val: int) -> TrainResult:
        """Final evaluation, then the model file: best-by-validation weights
        (or the last ones when nothing was held out)."""
        if reason != "cancelled" and self.n_val and self.last_eval_step != step:
            val = self.evaluate(step)
            self.log_metrics({"step": step, "epoch": round(step / self.sampler.steps_per_epoch, 4), "loss": None,
                              "val_bits_per_note": val, "lr": None, "tokens_per_s": None,
                              "elapsed": round(self.elapsed, 3)})
        if reason != "cancelled":
            self.checkpoint(step, self.elapsed)
        return self.write_model(corpus, reason, step, n_train, n_val)

    def write_model(self, corpus, reason: str, step: int, n_train: int, n_val: int) -> TrainResult:
        summary = self.summary(corpus.report, reason, step, n_train, n_val)
        out = Path(self.c.out)
        if self.info.is_main:
            index = self.copy_index(corpus)
            if (self.ckpt_dir / BEST).exists() and self.best_val is not None:
                save_model(out, load_model(self.ckpt_dir / BEST, "cpu").model, self.tokenizer, summary, force=True,
                           copy_index=index)
            elif self.ema is not None:
                with self.ema.swapped_in():
                    save_model(out, self.model, self.tokenizer, summary, force=True, copy_index=index)
            else:
                save_model(out, self.model, self.tokenizer, summary, force=True, copy_index=index)
        D.barrier(self.info)
        self.emit(phase="done", step=step, message=f"stopped: {reason}; wrote {out}")
        return TrainResult(model_path=out, best_val_bits_per_note=self.best_val, steps=step,
                           stopped_reason=reason, report=corpus.report, metrics_path=self.metrics_path,
                           checkpoint_dir=self.ckpt_dir, summary=summary)

    def copy_index(self, corpus):
        """The copy index of every usable file (training and validation), for
        the model file; None when `copy_index` is off (about 1 s per 100,000
        notes, once, after training)."""
        if not self.c.copy_index:
            return None
        self.emit(message=f"indexing the notes of {len(corpus.sequences)} file(s) for the copy meter")
        try:
            return CopyIndex.from_corpus(corpus.sequences, self.tokenizer)
        except Exception as exc:            # never lose a trained model to the index
            self.emit(message=f"no copy index stored: {exc}")
            return None

    def summary(self, report, reason: str, step: int, n_train: int, n_val: int) -> dict:
        """The training summary stored in the model file."""
        used = report.used()
        folder = Path(self.c.folder)
        corpus = {"name": folder.resolve().name, "folder": str(folder), "files_used": len(used),
                  "files_skipped": len(report.skipped()), "notes": sum(f.n_notes for f in used),
                  "tokens": sum(f.n_tokens for f in used), "train_files": n_train, "val_files": n_val}
        return {"corpus": corpus, "objective": self.c.objective,
                "val_metric": "span bits per note" if self.infill else "bits per note", "steps": step,
                "epochs": round(step / self.sampler.steps_per_epoch, 3),
                "val_bits_per_note": self.best_val, "best_step": self.best_step if self.best_val is not None else None,
                "last_val_bits_per_note": self.last_val, "stopped_reason": reason,
                "minutes": round(self.elapsed / 60.0, 2), "device": self.reason,
                "processes": self.info.world_size, "parameters": self.model.num_parameters(),
                "eval_every": self.eval_every,
                "transpose": list(self.c.transpose_range),
                "train_config": self.c.to_dict()}
