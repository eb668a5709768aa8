"""`python -m composer eval MODEL FOLDER`: the evaluation command (table, JSON, HTML report)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from composer.cli.progress import terminal_progress
from composer.errors import ComposerError
from composer.music.midifile import write_atomic
from composer.paths import shown
from composer.safe_write import check_target
from composer.services.evaluate import EvalConfig, evaluate, finite_or_none, folder_form, skipped_line
from composer.services.report_html import render_html


def add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure a model against a folder of MIDI files",
                       description="Bits per note (with bigram and uniform baselines), musical statistics of "
                                   "generated pieces against the folder, and a copy meter. For an accompaniment "
                                   "model: bits per chord label (with chord baselines) and per voice note, and "
                                   "the harmony of its arrangements of the held-out melodies against the folder's.")
    p.add_argument("model", type=Path, help="model file")
    p.add_argument("folder", type=Path, help="folder of MIDI files the model was not trained on")
    p.add_argument("--json", type=Path, default=None, help="write all results as JSON")
    p.add_argument("--html", type=Path, default=None, help="write a one-page HTML report with plots")
    p.add_argument("--samples", type=int, default=32, help="generated pieces for the statistics (default 32)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    p.add_argument("--bars", type=int, default=16, help="melody, frames: bars per generated piece (default 16)")
    p.add_argument("--seconds", type=float, default=30.0, help="performance: seconds per generated piece")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--workers", type=int, default=None, help="ingestion processes (default: one per core)")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--html files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_eval)


def check_outputs(outputs: dict[str, Path | None], *, force: bool = False) -> None:
    """Raise ComposerError (naming the path) unless every output can be written:
    `outputs` maps an option ("--json") to its path (None: not asked for); the
    paths must differ, be in an existing writable folder, be files (composer.safe_write)
    and not existing ones unless `force`. Run it before any work."""
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        path = Path(path)
        resolved = path.resolve()
        if resolved in seen:
            raise ComposerError(f"{path}: {seen[resolved]} and {option} are the same file; give each its own")
        seen[resolved] = option
        parent = path.parent
        if not parent.exists():
            raise ComposerError(f"{path}: folder {parent} does not exist")
        if not parent.is_dir():
            raise ComposerError(f"{path}: {parent} is not a folder")
        check_target(path, option)      # a device node, FIFO, socket or folder: never, --force or not
        if path.exists() and not force:
            raise ComposerError(f"{path} already exists (use --force to overwrite)")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ComposerError(f"{path}: folder {parent} is not writable")


def run_eval(args) -> int:
    from composer.services.evaluate_accompany import evaluate_accompaniment, is_accompany_model
    check_outputs({"--json": args.json, "--html": args.html}, force=args.force)     # before any work
    accompany = is_accompany_model(args.model)
    if accompany and args.html is not None:
        raise ComposerError("--html: the HTML report is for melody models; use --json for an accompaniment model")
    config = EvalConfig(model=str(args.model), folder=str(args.folder), samples=args.samples, seed=args.seed,
                        bars=args.bars, seconds=args.seconds, temperature=args.temperature, device=args.device,
                        workers=args.workers)
    with terminal_progress("evaluating", disable=args.quiet) as progress:
        result = (evaluate_accompaniment if accompany else evaluate)(config, progress)
    if args.json is not None:
        write_atomic(args.json, result.to_json().encode() + b"\n", force=args.force)
    if args.html is not None:
        write_atomic(args.html, shown(render_html(result)).encode(), force=args.force)   # names as text
    print(shown("\n".join(result.table_lines())))
    for path in (args.json, args.html):
        if path is not None:
            print(f"wrote {shown(path)}", file=sys.stderr)
    return 0


def add_form_parser(sub) -> None:
    p = sub.add_parser("form", help="measure the form (repetition, range, cadence) of a folder of MIDI files",
                       description="Bar and motif repetition, pitch range, tonic endings and silent openings of "
                                   "the first bars of each piece (docs/evaluation.md), no model needed.")
    p.add_argument("folder", type=Path, help="folder of MIDI files")
    p.add_argument("--bars", type=int, default=16, help="bars measured from the start of each piece (default 16)")
    p.add_argument("--every", type=int, default=1, help="take every K-th file, sorted by path (default 1: all)")
    p.add_argument("--model", type=Path, default=None,
                   help="read the files with this melody model's tokenizer (default: the default melody one)")
    p.add_argument("--json", type=Path, default=None, help="write the summary and per-piece values as JSON")
    p.add_argument("--workers", type=int, default=None, help="ingestion processes (default: one per core)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_form)


def run_form(args) -> int:
    from composer.analysis.form import summary_table

    check_outputs({"--json": args.json}, force=args.force)
    with terminal_progress("scanning", disable=args.quiet) as progress:
        result = folder_form(args.folder, bars=args.bars, model=None if args.model is None else str(args.model),
                             every=args.every, workers=args.workers, progress=progress)
    if args.json is not None:
        write_atomic(args.json, (json.dumps(finite_or_none(result), indent=1, allow_nan=False) + "\n").encode(),
                     force=args.force)
    form = result["form"]
    print(f"form of {form['count']} piece(s) of {shown(result['folder'])}, first {form['bars']} bars"
          + (f" (one file in {args.every})" if args.every > 1 else "") + ":")
    print("\n".join(summary_table({"pieces": form["summary"]})))
    if result["skipped"]["count"]:
        print(shown(f"in the folder: {skipped_line(result['skipped'])}"))
    if args.json is not None:
        print(f"wrote {shown(args.json)}", file=sys.stderr)
    return 0
