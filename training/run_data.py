"""The data of a training run: the scanned folder (or the sequences given),
its split into training and validation pieces, the batches, and how many
steps the run takes (steps, epochs or a time budget)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from composer.corpus.split import split_files
from composer.errors import ComposerError
from training import distributed as D
from training.checkpoint import load_checkpoint
from training.config import DEFAULT_EPOCHS, DEFAULT_MIN_STEPS
from training.data import ChunkSampler, StreamSampler
from training.infill_data import SpanSampler


def scan_corpus(config, tokenizer, info, emit, should_stop, given=None):
    """The corpus of the run: `given[0]` when given, else a scan of
    `config.folder` (rank 0 first, filling the cache the others read).
    Raises ComposerError when the folder holds nothing usable."""
    from composer.corpus.ingest import no_usable_files, scan_folder
    from composer.music.midifile import ReadLimits
    if given is not None:
        corpus = given[0]
        emit(report=corpus.report, message=f"{len(corpus.sequences)} sequence(s) given")
        return corpus
    folder = Path(config.folder)
    if not folder.is_dir():
        raise ComposerError(f"{folder}: no such folder")
    emit(phase="scanning", message=f"scanning {folder}")

    def on_file(p):
        emit(files_done=p.done, files_total=p.total, message=f"scanning {p.message}")

    corpus = None
    for turn in ((0,) if not info.enabled else (0, 1)):   # rank 0 fills the cache first
        if (turn == 0) == info.is_main:
            corpus = scan_folder(folder, tokenizer, cache_dir=config.cache_dir, workers=config.workers,
                                 limits=ReadLimits(salvage=not config.strict_midi), progress=on_file,
                                 should_stop=should_stop)
        D.barrier(info)
    report = corpus.report
    if config.report and info.is_main:
        report.save_json(config.report)
    emit(report=report, message=f"scanned {len(report.files)} file(s)")
    if not corpus.sequences:
        raise no_usable_files(folder, len(report.files))
    return corpus


def split_corpus(config, corpus, last_checkpoint: Path, given=None):
    """(training sequences, validation sequences, {"train": names, "val": names}):
    a resumed run's split from its checkpoint, the validation names given,
    or a random split by file."""
    names = sorted(corpus.sequences)
    if config.resume:
        meta = load_checkpoint(last_checkpoint).meta
        train_names, val_names = meta["split"]["train"], meta["split"]["val"]
        missing = [n for n in train_names + val_names if n not in corpus.sequences]
        if missing:
            raise ComposerError(f"cannot resume: {len(missing)} file(s) of the checkpointed run are no longer "
                                f"usable in {config.folder}, e.g. {missing[0]}")
    elif given is not None:
        val_names = sorted(n for n in names if n in given[1])
        train_names = [n for n in names if n not in given[1]]
    else:
        train_names, val_names = split_files(names, config.val_share, config.seed)
    split_names = {"train": list(train_names), "val": list(val_names)}
    return [corpus.sequences[n] for n in train_names], [corpus.sequences[n] for n in val_names], split_names


def make_sampler(config, tokenizer, model_config, train_seqs, info, *, infill: bool):
    """The batches of this process's share of `train_seqs`: spans of bars for
    infill, else chunks (or streams for batching="tbptt")."""
    c = config
    if c.objective == "accompany":
        from training.accompany_data import ArrangementSampler
        return ArrangementSampler(tokenizer, D.shard(train_seqs, info), batch=c.batch, seq_len=c.seq_len,
                                  transpose=c.transpose_range, seed=c.seed, rank=info.rank)
    if infill:
        return SpanSampler(tokenizer, D.shard(train_seqs, info), batch=c.batch,
                           span_bars=tuple(c.infill_bars), context_bars=c.infill_context,
                           transpose=c.transpose_range, seed=c.seed, rank=info.rank,
                           use_positions=model_config.position_classes > 1)
    sampler_cls = StreamSampler if c.batching == "tbptt" else ChunkSampler
    return sampler_cls(tokenizer, D.shard(train_seqs, info), batch=c.batch, seq_len=c.seq_len,
                       transpose=c.transpose_range, seed=c.seed, rank=info.rank,
                       use_positions=model_config.position_classes > 1,
                       lookback=model_config.lookback)


@dataclass(frozen=True)
class Schedule:
    """How long a run trains: `total_steps` (None: only a time budget),
    `budget_s` (None: no time limit) and the learning-rate warm-up in steps."""
    total_steps: int | None
    budget_s: float | None
    warmup: int

    @classmethod
    def of(cls, config, steps_per_epoch: int) -> Schedule:
        c = config
        totals = [c.steps] if c.steps else []
        if c.epochs:
            totals.append(max(1, math.ceil(c.epochs * steps_per_epoch)))
        if not totals and not c.minutes:
            totals.append(max(DEFAULT_EPOCHS * steps_per_epoch, DEFAULT_MIN_STEPS))
        total_steps = min(totals) if totals else None
        budget_s = c.minutes * 60.0 if c.minutes else None
        # a short run must not spend itself warming up: at most a tenth of its steps
        warmup = min(c.warmup_steps, total_steps // 10) if total_steps else c.warmup_steps
        return cls(total_steps, budget_s, warmup)
