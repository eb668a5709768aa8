"""All benchmarks of issue 6 in one command: one table, one JSON file.

    python -m benchmarks [--quick] [--only training|generation|ingestion|memory] [--folder DIR] [--json PATH]

Parts (each also runs alone, with more options, as its own module):
  training    benchmarks.training: trainer vs raw nn.LSTM / nn.GRU loop, tokens/s, interleaved
  generation  benchmarks.generation: sampler vs raw sampling loop, notes/s at batch 1/16/64, latency
  ingestion   benchmarks.ingestion: cold scan of 1,000 files vs a pretty_midi loop, warm re-scan
  memory      benchmarks.memory: peak RSS training the default model and generating 64 variations
`--quick` runs each part briefly (a smoke run: the numbers are noisy).
The training and memory parts train on `--folder`, by default the folk corpus
in runs/dm2/folk, converted from music21 on first use (benchmarks.folk).
The JSON holds the machine (CPU model, cores, torch, load average at start and
end), every part's full result and the table rows.

This module also holds what the benchmark commands share: `Parser` (argparse
with one-line errors), the argparse types `positive_int`, `json_path`,
`existing_dir`, `model_file`, `training_data` (--folder or the folk corpus), and
`fail` (one line on stderr, exit code 2).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
from pathlib import Path

import torch

from composer.cli.main import _positive_int as positive_int  # noqa: F401  (shared by the benchmark commands)
from composer.errors import ComposerError
from composer.model.device import cpu_name

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"
PARTS = ("training", "generation", "ingestion", "memory")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(problem: BaseException | str) -> int:
    """Print one line `error: ...` on stderr; returns the exit code 2."""
    print(f"error: {' '.join(str(problem).split())}", file=sys.stderr)
    return 2


CLI_ERRORS = (ComposerError, ValueError, OSError)     # what a benchmark command turns into `fail`


def json_path(text: str) -> Path:
    """An argparse type: a file path whose folder exists and is writable."""
    path = Path(text)
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} of {text!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    return path


def existing_dir(text: str) -> Path:
    """An argparse type: a folder that exists."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text!r}")
    return Path(text)


def model_file(text: str) -> Path:
    """An argparse type: a readable model file (its metadata is checked, the weights are not loaded)."""
    from composer.model.modelfile import read_metadata
    try:
        read_metadata(text)
    except (ComposerError, OSError) as exc:
        raise argparse.ArgumentTypeError(" ".join(str(exc).split())) from None
    return Path(text)


def write_json(data: dict, path: Path | str) -> None:
    Path(path).write_text(json.dumps(data, indent=2))


def machine() -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def row(name: str, measured: float | None, unit: str, target: str, met: bool | None, command: str) -> dict:
    return {"name": name, "measured": measured, "unit": unit, "target": target, "met": met, "command": command}


def part_training(quick: bool, overrides: dict | None = None, folder: Path | None = None) -> tuple[dict, list]:
    from benchmarks import training
    kwargs = {"steps": 6, "chunk": 2, "warmup": 1} if quick else {}
    result = training.run(("lstm", "gru"), folder=folder or training.DEFAULT_FOLDER, overrides=overrides, **kwargs)
    cmd = "python -m benchmarks.training"
    rows = [row(f"training {r['cell']}: trainer / raw loop tokens/s", r["ratio"], "x", ">= 0.9",
                r["ratio"] >= training.TARGET_RATIO, cmd) for r in result["cells"]]
    rows += [row(f"training {r['cell']}: the same without the validation passes", r["ratio_without_validation"],
                 "x", ">= 0.9", r["ratio_without_validation"] >= training.TARGET_RATIO, cmd) for r in result["cells"]]
    rows += [row(f"training {r['cell']}: share of the trainer's time in validation", 100 * r["validation_share"],
                 "%", "", None, cmd) for r in result["cells"]]
    rows += [row(f"training {r['cell']}: trainer tokens/s", r["trainer_tokens_per_s"], "tokens/s", "", None, cmd)
             for r in result["cells"]]
    return result, rows


def part_generation(quick: bool) -> tuple[dict, list]:
    from benchmarks import generation
    result = generation.run(None, 1 if quick else 5)
    cmd = "python -m benchmarks.generation"
    def name(r):
        job = f", {r['variations']} pieces" if r["variations"] != r["batch"] else ""
        return f"generation batch {r['batch']}{job}"

    rows = [row(f"{name(r)}: sampler / raw loop notes/s", r["ratio_to_raw_loop"], "x", ">= 0.8",
                r["ratio_to_raw_loop"] >= 0.8, cmd) for r in result["rows"]]
    rows += [row(f"{name(r)}: notes/s", r["notes_per_s"], "notes/s", "", None, cmd) for r in result["rows"]]
    one_call, job = (r for r in result["rows"] if r["batch"] == 64)
    b64, b64_job = one_call["speedup_vs_batch1"], job["speedup_vs_batch1"]
    rows += [row("generation batch 64 / batch 1 notes/s", b64, "x", ">= 15", b64 >= 15, cmd),
             row(f"{name(job)} / batch 1 notes/s", b64_job, "x", ">= 15", b64_job >= 15, cmd),
             row("generation: first note available", result["first_note_s"] * 1000, "ms", "< 100",
                 result["first_note_s"] < 0.1, cmd),
             row("generation: one 8-bar melody, batch 1", result["one_8_bar_melody_s"] * 1000, "ms", "< 100",
                 result["one_8_bar_melody_s"] < 0.1, cmd)]
    return result, rows


def part_ingestion(quick: bool) -> tuple[dict, list]:
    from benchmarks import ingestion
    files, rounds = (100, 1) if quick else (1000, 3)
    result = ingestion.measure(files, None, rounds)
    cmd = f"python -m benchmarks.ingestion --files {files} --rounds {rounds}"
    warm_target = 1.0 * files / 1000
    rows = [row(f"ingestion: cold scan / pretty_midi loop, wall ({files} files)", result["cold_speedup_wall"], "x",
                ">= 5", result["cold_speedup_wall"] >= 5, cmd),
            row("ingestion: cold scan / pretty_midi loop, CPU / workers (idle estimate)",
                result["cold_speedup_idle_estimate"], "x", ">= 5", result["cold_speedup_idle_estimate"] >= 5, cmd),
            row("ingestion: cold scan files/s", result["cold_files_per_s"], "files/s", "", None, cmd),
            row("ingestion: cold scan notes/s", result["cold_notes_per_s"], "notes/s", "", None, cmd),
            row(f"ingestion: warm re-scan of {files} files", result["warm_s"], "s", f"< {warm_target:g}",
                result["warm_s"] < warm_target, cmd)]
    return result, rows


def part_memory(quick: bool, folder: Path | None = None) -> tuple[dict, list]:
    from benchmarks import memory
    result = memory.run(folder=folder or memory.DEFAULT_FOLDER, steps=3 if quick else 12, count=8 if quick else 64)
    cmd = "python -m benchmarks.memory"
    rows = [row("memory: peak RSS training the default model (LSTM 2x256, batch 16 x 256)",
                result["training"]["peak_mb"], "MB", "", None, cmd),
            row(f"memory: peak RSS generating {result['generation']['variations']} variations (default model)",
                result["generation"]["peak_mb"], "MB", "", None, cmd)]
    return result, rows


def run(only=PARTS, quick: bool = False, json_path: Path | None = DEFAULT_JSON, *,
        training_overrides: dict | None = None, training_folder: Path | None = None, progress=None,
        command: str | None = None) -> dict:
    """Run the parts named in `only`; returns (and writes to `json_path`) the
    machine, every part's result and the table rows."""
    started = time.time()
    out = {"command": command or "python -m benchmarks" + (" --quick" if quick else ""), "quick": quick,
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
           "machine": machine(), "load_average_start": list(os.getloadavg()), "parts": {}, "rows": []}
    for name in only:
        if progress:
            progress(name)
        t0 = time.perf_counter()
        if name == "training":
            result, rows = part_training(quick, training_overrides, training_folder)
        elif name == "memory":
            result, rows = part_memory(quick, training_folder)
        else:
            result, rows = {"generation": part_generation, "ingestion": part_ingestion}[name](quick)
        result["seconds"] = time.perf_counter() - t0
        out["parts"][name] = result
        out["rows"] += rows
    out["load_average_end"] = list(os.getloadavg())
    out["seconds"] = time.time() - started
    if json_path is not None:
        write_json(out, json_path)
    return out


_TARGET = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)")
_COMPARE = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}


def format_measured(value: float, unit: str, target: str = "", met: bool | None = None) -> str:
    """`value` as the table shows it: 2 decimals for ratios, whole numbers from
    100 up, else 3 significant digits; with more digits when that rounding
    would contradict `met` against `target` (0.8996 -> "0.8996", not "0.90"
    next to ">= 0.9  NO")."""
    text = f"{value:.2f}" if unit == "x" else f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    match = _TARGET.match(target)
    if met is not None and match and math.isfinite(value):
        compare, limit = _COMPARE[match[1]], float(match[2])
        decimals = 2 if unit == "x" else 0          # then one more digit at a time
        while compare(float(text), limit) != met and decimals < 12:
            decimals += 1
            text = f"{value:.{decimals}f}"
        if compare(float(text), limit) != met:
            text = repr(value)
    return f"{text} {unit}"


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [f"{m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads); load average "
             f"{result['load_average_start'][0]:.1f} at start, {result['load_average_end'][0]:.1f} at end",
             f"{'benchmark':<72} {'measured':>12} {'target':>8} {'met':>4}"]
    for r in result["rows"]:
        value = "-" if r["measured"] is None else format_measured(r["measured"], r["unit"], r["target"], r["met"])
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(f"{r['name']:<72} {value:>12} {r['target']:>8} {met:>4}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every part")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--json", type=json_path, default=DEFAULT_JSON,
                        help=f"default {DEFAULT_JSON.relative_to(ROOT)}")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--folder", type=existing_dir, default=None,
                        help="MIDI files the training and memory parts train on (default: runs/dm2/folk, "
                             "converted from music21's folk books on first use)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else argv
    threads = os.environ.get("OMP_NUM_THREADS")
    command = (f"OMP_NUM_THREADS={threads} " if threads else "") + " ".join(["python -m benchmarks", *argv])
    parts = args.only or PARTS
    try:
        folder = training_data(args.folder) if {"training", "memory"} & set(parts) else None
        result = run(parts, args.quick, None, command=command, training_folder=folder,
                     progress=lambda name: print(f"running {name} ...", flush=True))
    except CLI_ERRORS as exc:
        return fail(exc)
    print(format_table(result))
    try:
        write_json(result, args.json)
    except OSError as exc:
        return fail(exc)
    print(f"wrote {args.json}")
    return 0


def training_data(folder: Path | None) -> Path:
    """--folder, or the folk corpus (built under a progress bar when missing)."""
    from benchmarks.folk import training_folder
    from composer.cli.progress import terminal_progress
    with terminal_progress() as bar:
        return training_folder(folder, say=lambda text: print(text, flush=True), progress=bar)


if __name__ == "__main__":
    raise SystemExit(main())
