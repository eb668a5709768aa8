"""Compare recurrent cells on the user's own music: the same folder, split,
settings and budget, one model per cell, and a table of their validation bits
per note (`python -m composer train FOLDER --cell lstm,gru,rnn`).

Each run is an ordinary `train()` run (its own model file, checkpoints and
metrics log); the folder is scanned once, later runs read the ingest cache.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.model.network import CELLS
from composer.music.midifile import write_atomic
from composer.tasks import ProgressFn, ShouldStop
from training.config import TrainConfig


@dataclass
class CellRun:
    cell: str
    model_path: Path | None
    val_bits_per_note: float | None
    steps: int
    minutes: float
    parameters: int
    stopped_reason: str

    def to_dict(self) -> dict:
        return run_dict(self)


def run_dict(run) -> dict:
    """A comparison's run record (CellRun, compare_form.DesignRun) as JSON-ready fields, in order."""
    d = dataclasses.asdict(run)
    d["model_path"] = str(run.model_path) if run.model_path else None
    return d


def run_fields(result) -> dict:
    """The fields every comparison's run record takes from a training.trainer.TrainResult."""
    s = result.summary or {}
    return {"model_path": result.model_path, "val_bits_per_note": result.best_val_bits_per_note,
            "steps": result.steps, "minutes": float(s.get("minutes", 0.0)),
            "parameters": int(s.get("parameters", 0)), "stopped_reason": result.stopped_reason}


def parse_choices(text: str, choices: Sequence[str], what: str) -> tuple[str, ...]:
    """'a', 'a,b' or 'all' -> those of `choices`, in order, without repeats; ValueError naming `what` else."""
    words = [p.strip().lower() for p in text.split(",") if p.strip()]
    names = list(choices) if text.strip().lower() == "all" else words
    bad = [n for n in names if n not in choices]
    if bad or not names:
        raise ValueError(f"{what} must be one of {', '.join(choices)} (or a comma list, or 'all'), got {text!r}")
    return tuple(dict.fromkeys(names))


def parse_cells(text: str) -> tuple[str, ...]:
    """'lstm', 'lstm,gru,rnn' or 'all' -> the cells, in order, without repeats."""
    return parse_choices(text, CELLS, "cell")


def out_for(out: str | Path, cell: str) -> Path:
    """my.model -> my-gru.model"""
    out = Path(out)
    return out.with_name(f"{out.stem}-{cell}{out.suffix or '.model'}")


def compare_cells(config: TrainConfig, cells: Sequence[str], progress: ProgressFn | None = None,
                  should_stop: ShouldStop | None = None) -> list[CellRun]:
    """Train one model per cell with `config` otherwise unchanged (model file
    `out_for(config.out, cell)`); `progress(Progress)` as in `train` (the
    run's cell is `progress.info.cell`).
    A stop request ends the current run (its checkpoint is kept) and skips the rest."""
    from training import distributed as D
    from training.trainer import process_device, train
    runs: list[CellRun] = []
    # under torchrun, one process group for all the cells: destroying and creating it between
    # cells could leave one rank in the old group's last barrier and the other waiting in the new
    # group's handshake (a silent hang, 2 of 5 tries with gloo)
    info, device, _ = process_device(config.device)
    created = D.setup(info, device)
    try:
        for cell in cells:
            if should_stop is not None and should_stop():
                break
            cfg = dataclasses.replace(config, cell=cell, out=str(out_for(config.out, cell)), checkpoint_dir=None)
            result = train(cfg, progress=progress, should_stop=should_stop)
            runs.append(CellRun(cell=cell, **run_fields(result)))
    finally:
        D.teardown(created)
    return runs


def finished(run: CellRun) -> bool:
    """Did the run end by its budget or early stopping (not cancelled, not a non-finite loss)?"""
    return run.stopped_reason in ("steps", "epochs", "minutes", "early stopping")


def table_lines(runs: Sequence[CellRun], not_started: Sequence[str] = ()) -> list[str]:
    """A small fixed-width table: finished runs best first (the best one is
    marked), then unfinished runs, marked with why they stopped (e.g.
    "cancelled at step 520, unfinished"), then the cells not started."""
    ranked = sorted(runs, key=lambda r: (not finished(r), r.val_bits_per_note is None, r.val_bits_per_note or 0.0))
    n_finished = sum(1 for r in runs if finished(r))
    lines = [f"{'cell':<5} {'val bits/note':>13} {'steps':>6} {'minutes':>7} {'parameters':>10}  model"]
    for i, r in enumerate(ranked):
        val = f"{r.val_bits_per_note:.3f}" if r.val_bits_per_note is not None else "-"
        if not finished(r):
            mark = (f"  ({r.stopped_reason} at step {r.steps}, unfinished)" if r.stopped_reason == "cancelled"
                    else f"  ({r.stopped_reason.split(' (')[0]}, unfinished)")
        else:
            mark = "  <- best" if i == 0 and r.val_bits_per_note is not None and n_finished > 1 else ""
        lines.append(f"{r.cell:<5} {val:>13} {r.steps:>6} {r.minutes:>7.2f} {r.parameters:>10,}  {r.model_path}{mark}")
    lines += [f"{cell:<5} {'-':>13} {'-':>6} {'-':>7} {'-':>10}  (not started)" for cell in not_started]
    return lines


def write_comparison(path: str | Path, config: TrainConfig, runs: Sequence[CellRun],
                     not_started: Sequence[str] = ()) -> Path:
    """The table as JSON: the shared settings, each run (with its stopped_reason)
    and the cells not started."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("cell", "out")}
    data = {"folder": config.folder, "settings": settings, "runs": [r.to_dict() for r in runs],
            "not_started": list(not_started)}
    return write_atomic(Path(path), (json.dumps(data, indent=2) + "\n").encode(), force=True)
