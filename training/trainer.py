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
`objective="accompany"` swaps the same three: the harmoniser
(composer.model.harmonizer_network), windows of Arrangements read from the
folder (training/accompany_data.py) and bits per beat of chords and voices.

The parts, by job: training/run_files.py (outputs, lock, metrics log),
training/run_data.py (corpus, split, batches, schedule), training/run_model.py
(model, optimizer, one step), training/validation.py (validation, early
stopping), training/step_loop.py (the steps, checkpoints, the model file).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from composer.errors import ComposerError
from composer.model.device import choose_device
from composer.model.network import MusicRNN
from composer.representations.melody import MelodyTokenizer
from composer.tasks import ProgressFn, ShouldStop
from training import distributed as D
from training.accompany_data import AccompanyValidation, eval_steps, scan_arrangement_corpus
from training.checkpoint import stored_representation
from training.config import TrainConfig, TrainProgress, TrainResult
from training.optim import amp_setup, lr_factor, oom_message
from training.run_data import Schedule, make_sampler, scan_corpus, split_corpus
from training.run_files import RunFiles
from training.run_model import NonFiniteLoss, RunModel
from training.sizing import resolve
from training.step_loop import StepLoop
from training.validation import Validation

__all__ = [
    "NonFiniteLoss",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "amp_setup",
    "lr_factor",
    "oom_message",
    "train",
    "train_arrangements",
    "train_sequences",
]

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


def train_arrangements(config: TrainConfig, arrangements, val_names, progress: ProgressFn | None = None,
                       should_stop: ShouldStop | None = None) -> TrainResult:
    """Train an accompaniment model (`config.objective` "accompany") like
    `train`, on Arrangements made elsewhere instead of a scan of
    `config.folder`; the names in `val_names` are the validation pieces."""
    from composer.corpus.ingest import Corpus, FileResult, IngestReport
    if config.objective != "accompany":
        raise ComposerError(f"train_arrangements trains objective accompany, not {config.objective!r}")
    files = [FileResult(path=a.name, status="used", n_notes=int((a.melody >= 2).sum()), n_tokens=a.steps)
             for a in arrangements]
    corpus = Corpus(report=IngestReport(folder=str(config.folder), representation="accompany", files=files),
                    sequences={a.name: a for a in arrangements})
    return train_sequences(config, corpus, val_names, progress, should_stop)


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


class _Hooks:
    """The caller's hooks: progress (rank 0 only) with the state it reports,
    the stop request and the after-step hook."""

    def __init__(self, progress, should_stop, after_step, info, state: TrainProgress):
        self._progress, self.should_stop, self.after_step = progress, should_stop, after_step
        self.info, self.state = info, state

    def emit(self, **changes) -> None:
        self.state = dataclasses.replace(self.state, **changes)
        if self._progress is not None and self.info.is_main:
            self._progress(self.state.as_progress())

    def stop_requested(self) -> bool:
        return bool(self.should_stop and self.should_stop())


def _launch(config, progress, should_stop, after_step, given=None, tokenizer=None) -> TrainResult:
    """Join the process group (under torchrun), check the outputs, take the
    run lock, then train. `given`: (Corpus, validation names) instead of a scan."""
    info, device, reason = process_device(config.device)
    created = D.setup(info, device)             # (already joined, e.g. by compare_cells: created is False)
    try:
        hooks = _Hooks(progress, should_stop, after_step, info,
                       TrainProgress(device=str(device), device_reason=reason, cell=config.cell))
        files = RunFiles(config, info)
        tokenizer = tokenizer if tokenizer is not None else _tokenizer_for(config, files)
        files.check_paths()
        lock = files.take_lock(hooks.emit)
        try:
            files.check_earlier_run()
            steps = _set_up(config, info, device, reason, hooks, files, tokenizer, given)
            return steps.run(steps.resume() if config.resume else 0)
        finally:
            if lock is not None:
                lock.release()
    finally:
        D.teardown(created)


def _tokenizer_for(config, files):
    """The run's tokenizer; resuming a melody run started with the listed-meter vocabulary
    (before any meter) keeps that vocabulary, so the checkpoint's weights still fit."""
    tokenizer = config.make_tokenizer()
    stored = stored_representation(files.last) if config.resume and files.last.exists() else None
    if stored and stored.get("kind") == "melody" == tokenizer.kind and stored["config"].get("time_signatures"):
        meters = tuple(tuple(ts) for ts in stored["config"]["time_signatures"])
        tokenizer = MelodyTokenizer(dataclasses.replace(tokenizer.config, time_signatures=meters))
    return tokenizer


def _set_up(config, info, device, reason, hooks, files, tokenizer, given) -> StepLoop:
    """The data, the model and the validation of a run, ready to train."""
    if config.objective == "accompany" and given is None:
        corpus = scan_arrangement_corpus(config, tokenizer, info, hooks.emit, hooks.should_stop)
    else:
        corpus = scan_corpus(config, tokenizer, info, hooks.emit, hooks.should_stop, given)
    config, sizing = resolve(config, corpus.report, device.type)
    if sizing is not None:
        hooks.emit(chosen=tuple(sizing.lines()))
    train_seqs, val_seqs, split_names = split_corpus(config, corpus, files.last, given)
    parts = RunModel(config, tokenizer, info, device)
    sampler = make_sampler(config, tokenizer, parts.model_config, train_seqs, info, infill=parts.infill)
    common = dict(tokenizer=tokenizer, info=info, device=device, best_path=files.best, emit=hooks.emit)
    if parts.accompany:
        validation = AccompanyValidation(val_seqs, eval_every=config.eval_interval(eval_steps(val_seqs),
                                                                                    info.world_size), **common)
    else:
        validation = Validation(val_seqs, eval_every=config.eval_interval(sum(len(s) for s in val_seqs),
                                                                          info.world_size),
                                infill=parts.infill, **common)
    return StepLoop(config, info=info, device=device, reason=reason, hooks=hooks, files=files,
                    tokenizer=tokenizer, corpus=corpus, split_names=split_names, n_train=len(train_seqs),
                    parts=parts, sampler=sampler, schedule=Schedule.of(config, sampler.steps_per_epoch),
                    validation=validation)
