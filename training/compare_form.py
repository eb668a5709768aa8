"""Compare ways of letting a melody model look back (issue 17): the same
folder, split, settings and step budget, one model per design, and a table of
their validation bits per note and, from composer.analysis.form,
the form statistics of pieces each one generates
(`python -m composer train FOLDER --compare-form baseline,lookback,lookback-copy`).

Each run is an ordinary `train()` run (its own model file, checkpoints and
metrics log); the folder is scanned once, later runs read the ingest cache.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.music.midifile import write_atomic
from composer.tasks import ProgressFn, ShouldStop
from training.compare import finished, out_for, parse_choices, run_dict, run_fields
from training.config import TrainConfig

DESIGNS = {
    "baseline": {"lookback": (), "lookback_copy": False},              # the recurrent model alone
    "lookback": {"lookback": (1, 2, 4, 8), "lookback_copy": False},    # + the events 1, 2, 4, 8 bars back, flags
    "lookback-copy": {"lookback": (1, 2, 4, 8), "lookback_copy": True},  # + a gate that can copy those events
}
FORM_PIECES, FORM_BARS, FORM_SEED = 100, 16, 11    # the pieces generated per model for the form statistics
FORM_FIELDS = ("bar_repetition", "motif_repetition", "pitch_range", "silent_opening")


@dataclass
class DesignRun:
    design: str
    model_path: Path | None
    val_bits_per_note: float | None
    steps: int
    minutes: float
    parameters: int
    stopped_reason: str
    form: dict | None = None        # composer.analysis.form summary of the generated pieces, if measured

    def to_dict(self) -> dict:
        return run_dict(self)


def parse_designs(text: str) -> tuple[str, ...]:
    """'baseline,lookback' or 'all' -> the designs, in order, without repeats."""
    return parse_choices(text, tuple(DESIGNS), "design")


def form_summary(model_path: Path, *, pieces: int = FORM_PIECES, bars: int = FORM_BARS,
                 seed: int = FORM_SEED) -> dict | None:
    """Form statistics of `pieces` pieces of `bars` bars the model generates with
    default settings and `seed`, form free (the model's own repetition, not the planner's)."""
    from composer.analysis.form import form_stats
    from composer.model.modelfile import load_model
    from composer.services.generate import GenerateRequest, generate
    result = generate(load_model(model_path), GenerateRequest(count=pieces, bars=bars, seed=seed, form="free"))
    return form_stats(result.songs, bars).summary


def _labelled(progress: ProgressFn | None, design: str) -> ProgressFn | None:
    """`progress` with the design put in each report's TrainProgress."""
    if progress is None:
        return None
    return lambda p: progress(dataclasses.replace(p, info=dataclasses.replace(p.info, design=design)))


def compare_designs(config: TrainConfig, designs: Sequence[str],
                    progress: ProgressFn | None = None, should_stop: ShouldStop | None = None, *,
                    measure_form: bool = True) -> list[DesignRun]:
    """Train one model per design with `config` otherwise unchanged (model file
    `out_for(config.out, design)`), then measure the form of what it generates;
    `progress(Progress)` as in `train`, the run's design in `progress.info.design`.
    A stop request ends the current run (its checkpoint is kept) and skips the rest."""
    from training.trainer import train
    runs: list[DesignRun] = []
    for design in designs:
        if should_stop is not None and should_stop():
            break
        cfg = dataclasses.replace(config, out=str(out_for(config.out, design)), checkpoint_dir=None, **DESIGNS[design])
        hook = _labelled(progress, design)
        result = train(cfg, progress=hook, should_stop=should_stop)
        run = DesignRun(design=design, **run_fields(result))
        if measure_form and finished(run) and run.model_path is not None:
            run.form = form_summary(run.model_path)
        runs.append(run)
    return runs


def _cell(summary: dict | None, name: str) -> str:
    entry = (summary or {}).get(name) or {}
    if "share" in entry:
        return "-" if entry["share"] is None else f"{100 * entry['share']:.0f}%"
    if entry.get("mean") is None:
        return "-"
    digits = 1 if name == "pitch_range" else 2
    return f"{entry['mean']:.{digits}f}+-{entry['sd']:.{digits}f}"


def table_lines(runs: Sequence[DesignRun]) -> list[str]:
    """Fixed-width table, in the order run: bits per note, then the form
    statistics (mean +- SD; silent opening: share of pieces), '-' where not measured."""
    lines = [f"{'design':<14} {'val bits/note':>13} {'bar rep':>10} {'motif rep':>10} {'range':>9} "
             f"{'silent 1st':>10} {'steps':>6}  model"]
    for r in runs:
        val = f"{r.val_bits_per_note:.3f}" if r.val_bits_per_note is not None else "-"
        mark = "" if finished(r) else f"  ({r.stopped_reason}, unfinished)"
        lines.append(f"{r.design:<14} {val:>13} {_cell(r.form, 'bar_repetition'):>10} "
                     f"{_cell(r.form, 'motif_repetition'):>10} {_cell(r.form, 'pitch_range'):>9} "
                     f"{_cell(r.form, 'silent_opening'):>10} {r.steps:>6}  {r.model_path}{mark}")
    return lines


def write_comparison(path: str | Path, config: TrainConfig, runs: Sequence[DesignRun]) -> Path:
    """The table as JSON: the shared settings and each run."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("out", "lookback", "lookback_copy")}
    data = {"folder": config.folder, "settings": settings, "designs": {d: DESIGNS[d] for d in (r.design for r in runs)},
            "form_pieces": {"count": FORM_PIECES, "bars": FORM_BARS, "seed": FORM_SEED},
            "runs": [r.to_dict() for r in runs]}
    return write_atomic(Path(path), (json.dumps(data, indent=2) + "\n").encode(), force=True)
