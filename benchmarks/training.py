"""Training throughput, side by side in one process (issue 6, part 1).

    python -m benchmarks.training [--cells lstm,gru] [--steps N] [--chunk 10] [--folder DIR] [--json PATH]

The project's trainer (`training.trainer.train`, every default: scan with the
ingest cache, split by file, random 256-token windows with on-the-fly
transposition, position input, dropout, AdamW + warm-up/cosine schedule,
clipping, a metrics line every 10 steps, validation every
`auto_eval_every` steps (60 for the folk tunes: 90 held out), a checkpoint
every 100) against a raw loop written here: embedding (+ position embedding)
-> nn.LSTM / nn.GRU -> linear head -> cross-entropy -> AdamW, of exactly the
same shape (vocabulary, embedding, hidden, layers, dropout, batch, sequence
length), fed random token batches that are already tensors.

Interleaved A B A B in one process so that load from other jobs hits both:
the trainer's `after_step` hook runs `chunk` raw steps after every `chunk`
trainer steps (the raw steps of a last partial chunk right after the run)
and the raw time is taken out of the trainer's; `steps` must time at least
one chunk (steps >= warm-up + chunk). A trainer
step's time is from the end of one hook to the start of the next, so it
holds its batch, forward/backward/optimizer and the bookkeeping of the step
before (progress, metrics log, validation, checkpoint). Steps 1..3 are
warm-up (first calls are slow on both sides); the default `steps` = 3 + two
validation intervals times the bookkeeping of steps 3..122 for the folk
tunes: 2 validations, 1 checkpoint, 12 log lines, which is the default run's
steady state (a window that is not a whole number of intervals would hold
too many or too few validations). The time
before the first step (scan, build) and after the last (final validation,
checkpoint, model file) is reported separately: it is paid once per run.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.__main__ import (
    CLI_ERRORS,
    Parser,
    existing_dir,
    fail,
    json_path,
    positive_int,
    training_data,
    write_json,
)
from benchmarks.folk import DEFAULT_FOLDER
from composer.corpus.split import split_files
from training.config import TrainConfig
from training.data import ChunkSampler
from training.trainer import train

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.9
CELLS = ("lstm", "gru")
WARMUP = 3          # trainer steps (and raw steps) not timed: first calls are slow (allocator, kernel selection)


class RawModel(nn.Module):
    """The textbook model: embedding (+ position embedding) -> RNN -> linear, dropout between."""

    def __init__(self, cell: str, vocab: int, positions: int, embed: int, hidden: int, layers: int,
                 dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.pos_embed = nn.Embedding(positions, embed) if positions > 1 else None
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(embed, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, pos):
        e = self.embed(x)                                   # (B, T, E)
        if self.pos_embed is not None:
            e = e + self.pos_embed(pos)
        h, _ = self.rnn(self.drop(e))                       # (B, T, H)
        return self.head(self.drop(h))                      # (B, T, V)


class RawLoop:
    """A plain training loop over pre-made random batches."""

    def __init__(self, config: TrainConfig, vocab: int, positions: int, seed: int = 0):
        c = config
        torch.manual_seed(seed)
        self.model = RawModel(c.cell, vocab, positions, c.embed, c.hidden, c.layers, c.dropout)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=c.weight_decay)
        self.clip = c.clip
        self.batches = [(torch.randint(4, vocab, (c.batch, c.seq_len + 1)),
                         torch.randint(0, max(positions, 1), (c.batch, c.seq_len))) for _ in range(4)]
        self.tokens_per_step = c.batch * c.seq_len
        self.done = 0

    def step(self) -> float:
        tokens, pos = self.batches[self.done % len(self.batches)]
        self.done += 1
        x, y = tokens[:, :-1], tokens[:, 1:]
        self.model.train()
        logits = self.model(x, pos)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        return float(loss.item())


class Interleaver:
    """The trainer's `after_step` hook: times trainer steps and runs raw steps in between."""

    def __init__(self, raw: RawLoop, chunk: int, warmup: int):
        self.raw, self.chunk, self.warmup = raw, chunk, warmup
        self.mark: float | None = None      # end of the previous hook
        self.trainer_s, self.trainer_steps = 0.0, []   # timed trainer steps (1-based hook numbers)
        self.step_seconds: list[float] = []             # each timed trainer step
        self.raw_s, self.raw_steps = 0.0, 0
        self.first_step_at: float | None = None
        self.last_hook_end = 0.0
        self.pending = 0
        self.window_start = float("inf")        # the end of the hook of the last warm-up step
        self.validating_since: float | None = None
        self.validations: list[tuple[float, float]] = []

    def __call__(self, step: int, model) -> None:
        now = time.perf_counter()
        if self.mark is None:
            self.first_step_at = now
        elif step > self.warmup:
            self.trainer_s += now - self.mark
            self.trainer_steps.append(step)
            self.step_seconds.append(now - self.mark)
            self.pending += 1
        if self.pending >= self.chunk:
            self.run_pending()
        self.mark = self.last_hook_end = time.perf_counter()
        if step == self.warmup:
            self.window_start = self.mark

    def run_pending(self) -> None:
        """Raw steps for the trainer steps timed since the last ones (after the run: the last partial chunk)."""
        start = time.perf_counter()
        for _ in range(self.pending):
            self.raw.step()
        self.raw_s += time.perf_counter() - start
        self.raw_steps += self.pending
        self.pending = 0

    def progress(self, progress) -> None:
        """The trainer's progress hook: notes when validation passes start and end."""
        state = progress.info
        if state.phase == "validating" and self.validating_since is None:
            self.validating_since = time.perf_counter()
        elif state.phase != "validating" and self.validating_since is not None:
            self.validations.append((self.validating_since, time.perf_counter()))
            self.validating_since = None

    def timed_validations(self) -> list[tuple[float, float]]:
        return [(a, b) for a, b in self.validations if a >= self.window_start and b <= self.last_hook_end]

    def validation_s(self) -> float:
        """Seconds of validation inside the timed trainer steps."""
        return sum(b - a for a, b in self.timed_validations())


def _split(config: TrainConfig):
    """The tokenizer, the scanned folder and the trainer's train / validation file names."""
    from composer.corpus.ingest import scan_folder
    tok = config.make_tokenizer()
    corpus = scan_folder(config.folder, tok, cache_dir=config.cache_dir, workers=config.workers)
    train_names, val_names = split_files(sorted(corpus.sequences), config.val_share, config.seed)
    return tok, corpus, train_names, val_names


def eval_interval(config: TrainConfig) -> int:
    """The trainer's steps between validation passes for this config and folder."""
    if config.eval_every:
        return config.eval_every            # (no scan needed)
    _, corpus, _, val_names = _split(config)
    return config.eval_interval(sum(len(corpus.sequences[n]) for n in val_names))


def trainer_tokens(config: TrainConfig, steps: list[int]) -> int:
    """Tokens (non-padding targets) the trainer trained on at these 1-based steps:
    its batches are a pure function of (seed, rank, step), so they are drawn again here."""
    tok, corpus, train_names, _ = _split(config)
    sampler = ChunkSampler(tok, [corpus.sequences[n] for n in train_names], batch=config.batch,
                           seq_len=config.seq_len, transpose=config.transpose_range, seed=config.seed,
                           use_positions=config.position_input and tok.position_classes > 1)
    return sum(sampler.batch_at(s - 1).n_tokens for s in steps)


def check_steps(steps: int, chunk: int, warmup: int) -> None:
    """Refuse a run whose timed steps (`steps` - `warmup`) are fewer than one
    `chunk`: no raw step would run between trainer steps, nothing to compare."""
    if chunk < 1 or warmup < 1:
        raise ValueError(f"chunk and warmup must be >= 1, got {chunk} and {warmup}")
    if steps - warmup < chunk:
        raise ValueError(f"steps ({steps}) must be at least warmup ({warmup}) + chunk ({chunk}): "
                         "the raw loop runs once per chunk of timed steps")


def measure_cell(cell: str, *, steps: int | None = None, chunk: int = 10, warmup: int = WARMUP,
                 folder: Path = DEFAULT_FOLDER, overrides: dict | None = None) -> dict:
    """Trainer vs raw loop for one cell; `overrides` change TrainConfig fields (tests use a tiny shape).
    `steps` (default: warm-up + two validation intervals) includes the warm-up and must
    time at least one `chunk`; raw steps for a last partial chunk run after the trainer."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        config = TrainConfig(folder=str(folder), out=str(Path(tmp) / "bench.model"), cell=cell, steps=1,
                             force=True)
        config = replace(config, **(overrides or {}))
        interval = eval_interval(config)
        steps = warmup + 2 * interval if steps is None else steps
        check_steps(steps, chunk, warmup)
        config = replace(config, steps=steps)
        tok = config.make_tokenizer()
        raw = RawLoop(config, tok.vocab_size, tok.position_classes if config.position_input else 0)
        for _ in range(warmup):                             # warm-up: allocator, kernels, AdamW state
            raw.step()
        hook = Interleaver(raw, chunk, warmup)
        start = time.perf_counter()
        result = train(config, progress=hook.progress, after_step=hook)
        end = time.perf_counter()
        hook.run_pending()          # the last partial chunk: as many raw steps as trainer steps timed
        parameters = result.summary["parameters"]
    tokens = trainer_tokens(config, hook.trainer_steps)
    full = len(hook.trainer_steps) * config.batch * config.seq_len
    trainer_tps = tokens / hook.trainer_s
    validation_s = hook.validation_s()
    raw_tps = raw.tokens_per_step * hook.raw_steps / hook.raw_s
    trainer_step_s = hook.trainer_s / len(hook.trainer_steps)
    raw_step_s = hook.raw_s / hook.raw_steps
    return {
        "cell": cell, "parameters": parameters, "vocab": tok.vocab_size,
        "shape": {"embed": config.embed, "hidden": config.hidden, "layers": config.layers, "batch": config.batch,
                  "seq_len": config.seq_len, "dropout": config.dropout, "position_input": config.position_input},
        "trainer_steps_timed": len(hook.trainer_steps), "raw_steps_timed": hook.raw_steps,
        "eval_every": interval, "validations_timed": len(hook.timed_validations()),
        "trainer_tokens_per_s": trainer_tps, "raw_tokens_per_s": raw_tps,
        "ratio": trainer_tps / raw_tps,
        "trainer_step_s": trainer_step_s, "raw_step_s": raw_step_s,
        "step_time_ratio": raw_step_s / trainer_step_s,
        "padding_share": 1.0 - tokens / full,
        "trainer_step_s_median": statistics.median(hook.step_seconds),
        "validation_s": validation_s, "validation_share": validation_s / hook.trainer_s,
        "ratio_without_validation": tokens / (hook.trainer_s - validation_s) / raw_tps,
        # the steps after a validation / checkpoint: (step, seconds), slowest first
        "slowest_trainer_steps": sorted(zip(hook.trainer_steps, hook.step_seconds), key=lambda p: -p[1])[:5],
        "startup_s": hook.first_step_at - start, "finish_s": end - hook.last_hook_end,
        "target_ratio": TARGET_RATIO,
    }


def run(cells=CELLS, *, steps: int | None = None, chunk: int = 10, warmup: int = WARMUP,
        folder: Path = DEFAULT_FOLDER, overrides: dict | None = None) -> dict:
    folder = Path(folder)
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise ValueError(f"cells must be among {', '.join(CELLS)}, got {', '.join(map(repr, cells)) or 'none'}")
    if steps is not None:
        check_steps(steps, chunk, warmup)
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder {folder} does not exist (make it with "
                                "`python -m training.corpus`)")
    return {"folder": str(folder), "steps": steps, "chunk": chunk, "torch_threads": torch.get_num_threads(),
            "warmup": warmup,
            "cells": [measure_cell(c, steps=steps, chunk=chunk, warmup=warmup, folder=folder, overrides=overrides)
                      for c in cells]}


def print_result(result: dict) -> None:
    for r in result["cells"][:1]:
        print(f"{r['trainer_steps_timed']} timed steps; validation every {r['eval_every']} steps, "
              f"{r['validations_timed']} passes timed")
    print(f"{'cell':5} {'trainer tok/s':>13} {'raw tok/s':>10} {'ratio':>6} {'step ratio':>10} {'padding':>8} "
          f"{'validation':>10} {'ratio w/o val.':>14} {'startup':>8} {'finish':>7}")
    for r in result["cells"]:
        print(f"{r['cell']:5} {r['trainer_tokens_per_s']:>13.0f} {r['raw_tokens_per_s']:>10.0f} {r['ratio']:>6.3f} "
              f"{r['step_time_ratio']:>10.3f} {r['padding_share']:>8.1%} {r['validation_share']:>10.1%} "
              f"{r['ratio_without_validation']:>14.3f} {r['startup_s']:>7.1f}s "
              f"{r['finish_s']:>6.1f}s")


def _cells(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated cells, e.g. lstm,gru."""
    cells = tuple(c.strip() for c in text.split(","))
    if not all(c in CELLS for c in cells):
        raise argparse.ArgumentTypeError(f"cells must be lstm and/or gru separated by commas, got {text!r}")
    return cells


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.training", description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=_cells, default=CELLS, help="lstm, gru or lstm,gru (default)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="trainer steps, warm-up included, at least --warmup + --chunk "
                             "(default: warm-up + two validation intervals)")
    parser.add_argument("--warmup", type=positive_int, default=WARMUP, help=f"untimed first steps (default {WARMUP})")
    parser.add_argument("--chunk", type=positive_int, default=10, help="trainer steps between raw steps (default 10)")
    parser.add_argument("--folder", type=existing_dir, default=None,
                        help="MIDI files to train on (default: the folk corpus, converted on first use)")
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.steps is not None:          # before any work (the corpus may have to be built first)
            check_steps(args.steps, args.chunk, args.warmup)
        result = run(args.cells, steps=args.steps, chunk=args.chunk, warmup=args.warmup,
                     folder=training_data(args.folder))
    except CLI_ERRORS as exc:
        return fail(exc)
    print_result(result)
    if args.json:
        try:
            write_json(result, args.json)
        except OSError as exc:
            return fail(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
