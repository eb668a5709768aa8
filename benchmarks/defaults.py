"""`train`'s defaults side by side with a plain reference loop (issue 18).

    python -m benchmarks.defaults FOLDER [--test FOLDER] (--minutes M | --seconds S) [--json PATH]

Two processes start together, one thread each (OMP_NUM_THREADS=1,
torch.set_num_threads(1)), on the CPU: one runs the project's trainer
(training.trainer.train, every TrainConfig default) on the training files,
the other the reference loop of benchmarks/reference_loop.py on the same
files' melodies. Each trains for the same wall-clock budget, counted from its
first step (reading the data is not counted; the folder is scanned once
before, so both read it from the ingest cache). Then both are scored on the
test files: the melodies the project's melody policy takes from them, bits
per note = total negative log2-likelihood of every token after <bos> / notes
(the project: composer.analysis.likelihood.evaluate_bits_per_note; the
reference: its shift, pitch and duration tokens and <eos>). Without --test,
a share of FOLDER's files (composer.corpus.split.split_files, --test-share)
is held out from both sides and scored. Test files with the same bytes as a
training file are left out of the test.

Prints both held-out bits per note and the difference (defaults - reference:
negative means the defaults are better); --json writes what was measured.
Progress goes to stderr: one line every PROGRESS_EVERY_S seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import queue as queue_module
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks import reference_loop as ref
from benchmarks.__main__ import CLI_ERRORS, Parser, existing_dir, fail, json_path, machine, write_json
from composer.corpus.ingest import find_midi_files, scan_folder
from composer.corpus.split import split_files
from composer.errors import ComposerError
from training.config import TrainConfig

PROGRESS_EVERY_S = 10.0
SIDES = ("defaults", "reference")


def one_thread() -> None:
    torch.set_num_threads(1)


def _project_side(config: TrainConfig, messages) -> None:
    """Child process: the project's trainer with its defaults."""
    one_thread()
    from training.trainer import train
    last = [0.0]

    def progress(p) -> None:
        info = p.info
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            messages.put(("progress", "defaults", {"phase": info.phase, "step": info.step,
                                                    "best": info.best_val_bits_per_note}))
    try:
        result = train(config, progress=progress)
        messages.put(("done", "defaults", _project_result(result, config)))
    except BaseException as exc:        # the parent reports it in one line
        messages.put(("error", "defaults", " ".join(str(exc).split()) or type(exc).__name__))


def _project_result(result, config: TrainConfig) -> dict:
    s = result.summary
    seconds = 60.0 * (s.get("minutes") or 0.0)
    return {"steps": result.steps, "stopped_reason": result.stopped_reason,
            "best_val_bits_per_note": result.best_val_bits_per_note, "seconds": seconds,
            "parameters": s.get("parameters"), "eval_every": s.get("eval_every"),
            # window tokens per second of training, as the reference's
            "tokens_per_s": result.steps * config.batch * config.seq_len / max(seconds, 1e-9)}


def _reference_side(train: list, val: list, seconds: float, out: str, messages) -> None:
    """Child process: the reference loop; its best weights go to `out`."""
    one_thread()
    last = [0.0]

    def report(state: dict) -> None:
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            messages.put(("progress", "reference", dict(state, phase="training")))
    try:
        result = ref.train_reference(train, val, seconds, report=report)
        result["tokens_per_s"] = result["tokens"] / result["seconds"]
        torch.save(result.pop("state"), out)
        result["parameters"] = sum(p.numel() for p in ref.ReferenceLSTM().parameters())
        messages.put(("done", "reference", result))
    except BaseException as exc:
        messages.put(("error", "reference", " ".join(str(exc).split()) or type(exc).__name__))


def held_out_folders(folder: Path, share: float, seed: int, tmp: Path) -> tuple[Path, Path]:
    """Folders of links to FOLDER's training and test files (split_files by file name)."""
    names = [p.relative_to(folder).as_posix() for p in find_midi_files(folder)]
    train, test = split_files(names, share, seed)
    if not test:
        raise ComposerError(f"{folder}: {len(names)} MIDI file(s), too few to hold any out for the test; "
                            "give more files or a --test folder")
    for part, chosen in (("train", train), ("test", test)):
        for name in chosen:
            link = tmp / part / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((folder / name).resolve())
    return tmp / "train", tmp / "test"


class Watch:
    """The parent's view of both children: their last progress, and a line on stderr now and then."""

    def __init__(self, seconds: float, every: float = PROGRESS_EVERY_S, stream=sys.stderr):
        self.seconds, self.every, self.stream = seconds, every, stream
        self.state: dict[str, dict] = {side: {"phase": "starting", "step": 0, "best": None} for side in SIDES}
        self.done: dict[str, dict] = {}
        self.start = self.printed = time.monotonic()

    def line(self) -> str:
        parts = []
        for side in SIDES:
            s = self.state[side]
            best = "-" if s.get("best") is None else f"{s['best']:.3f}"
            parts.append(f"{side}: {'done' if side in self.done else s['phase']}, step {s['step']}, best {best}")
        return f"{time.monotonic() - self.start:5.0f} s (budget {self.seconds:g} s each)  " + "  |  ".join(parts)

    def tick(self) -> None:
        if time.monotonic() - self.printed >= self.every:
            self.printed = time.monotonic()
            print(self.line(), file=self.stream, flush=True)


def run_sides(config: TrainConfig, ref_train: list, ref_val: list, seconds: float, ref_out: Path,
              watch: Watch) -> dict[str, dict]:
    """Both children at once, one thread each; returns their results by side.
    A failing side stops the other and raises ComposerError naming it."""
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")        # read by a child as torch starts
    try:
        children = {"defaults": ctx.Process(target=_project_side, args=(config, messages)),
                    "reference": ctx.Process(target=_reference_side,
                                             args=(ref_train, ref_val, seconds, str(ref_out), messages))}
        for child in children.values():
            child.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    finished = False
    try:
        while len(watch.done) < len(SIDES):
            try:
                kind, side, data = messages.get(timeout=0.5)
            except queue_module.Empty:
                lost = [s for s, c in children.items() if s not in watch.done and not c.is_alive()]
                if lost:
                    raise ComposerError(f"the {lost[0]} side ended without a result "
                                        f"(exit code {children[lost[0]].exitcode})") from None
                watch.tick()
                continue
            if kind == "error":
                raise ComposerError(f"the {side} side failed: {data}")
            (watch.done if kind == "done" else watch.state)[side] = data
            watch.tick()
        finished = True
    finally:
        for child in children.values():
            child.join(timeout=60 if finished else 0)       # (a finished side has sent its result)
            if child.is_alive():
                child.terminate()
                child.join()
    return watch.done


def train_config(folder: Path, out: Path, seconds: float, cache_dir: str | None) -> TrainConfig:
    """TrainConfig defaults for the training folder, on one thread of the CPU, for `seconds`."""
    extra = {"threads": 1} if "threads" in {f.name for f in dataclasses.fields(TrainConfig)} else {}
    return TrainConfig(folder=str(folder), out=str(out), minutes=seconds / 60.0, force=True, device="cpu",
                       cache_dir=cache_dir, **extra)


def score(model_path: Path, ref_weights: Path, test_dir: Path, train_hashes: set[str], cache_dir: str | None) -> dict:
    """Both models' bits per note on the melodies of the test files (the project
    model's tokenizer reads them; the reference gets the same notes)."""
    from composer.analysis.likelihood import evaluate_bits_per_note
    from composer.model.modelfile import load_model
    loaded = load_model(model_path)
    corpus = scan_folder(test_dir, loaded.tokenizer, cache_dir=cache_dir)
    shared = {f.path for f in corpus.report.used() if f.sha256 in train_hashes}
    names = [n for n in sorted(corpus.sequences) if n not in shared]
    if not names:
        raise ComposerError(f"{test_dir}: no usable test melodies"
                            + (f" ({len(shared)} are training files)" if shared else ""))
    sequences = [corpus.sequences[n] for n in names]
    project = evaluate_bits_per_note(loaded.model, loaded.tokenizer, sequences)
    model = ref.ReferenceLSTM()
    model.load_state_dict(torch.load(ref_weights))
    ref_sequences = [ref.reference_tokens(loaded.tokenizer, s) for s in sequences]
    ref_notes = sum(ref.count_notes(s) for s in ref_sequences)
    if ref_notes != project.notes:          # the same melodies, or the comparison means nothing
        raise ComposerError(f"the reference reads {ref_notes} test notes, the project {project.notes}")
    ref_bits = ref.sequence_bits(model, ref_sequences)
    return {"test_files": len(names), "test_files_skipped": len(corpus.report.skipped()),
            "test_files_in_training": len(shared), "test_notes": project.notes,
            "defaults_bits_per_note": project.bits_per_note, "reference_bits_per_note": ref_bits / ref_notes,
            "defaults_nll_bits": project.nll_bits, "reference_nll_bits": ref_bits}


def run(folder: Path, test: Path | None, seconds: float, *, test_share: float = 0.1, seed: int = 0,
        cache_dir: str | None = None, stream=sys.stderr, every: float = PROGRESS_EVERY_S) -> dict:
    """The whole benchmark; returns what it measured (see the module docstring)."""
    started = time.time()
    out = {"folder": str(folder), "test": str(test) if test else None, "seconds_each": seconds,
           "machine": dict(machine(), torch_threads=1), "load_average_start": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="bench-defaults-") as tmp_name:
        tmp = Path(tmp_name)
        if test is None:
            train_dir, test_dir = held_out_folders(Path(folder), test_share, seed, tmp)
            out["test_share"] = test_share
        else:
            train_dir, test_dir = Path(folder), Path(test)
        config = train_config(train_dir, tmp / "defaults.model", seconds, cache_dir)
        tokenizer = config.make_tokenizer()
        corpus = scan_folder(train_dir, tokenizer, cache_dir=cache_dir)    # (the trainer then reads the cache)
        names = sorted(corpus.sequences)
        if len(names) < 2:
            raise ComposerError(f"{folder}: {len(names)} usable training file(s); the benchmark needs at least 2")
        tokens = {n: ref.reference_tokens(tokenizer, corpus.sequences[n]) for n in names}
        ref_val = [tokens[n] for n in names[::10]]                  # every tenth training file validates
        ref_train = [tokens[n] for i, n in enumerate(names) if i % 10]
        out["train_files"] = len(names)
        sides = run_sides(config, ref_train, ref_val, seconds, tmp / "reference.pt", Watch(seconds, every, stream))
        out.update(defaults=sides["defaults"], reference=sides["reference"])
        out.update(score(Path(config.out), tmp / "reference.pt", test_dir,
                         {f.sha256 for f in corpus.report.used()}, cache_dir))
    out["difference"] = out["defaults_bits_per_note"] - out["reference_bits_per_note"]
    out["load_average_end"] = list(os.getloadavg())
    out["wall_s"] = time.time() - started
    return out


def table(result: dict) -> str:
    d, r = result["defaults"], result["reference"]
    return "\n".join([
        f"held-out bits per note: {result['test_files']} test files, {result['test_notes']:,} notes; "
        f"{result['train_files']} training files; {result['seconds_each']:g} s each, one thread each",
        f"  train defaults  {result['defaults_bits_per_note']:.3f}  ({d['steps']} steps, {_speed(d)}, "
        f"stopped: {d['stopped_reason']})",
        f"  reference loop  {result['reference_bits_per_note']:.3f}  ({r['steps']} steps, {_speed(r)})",
        f"  difference      {result['difference']:+.3f}  (defaults - reference; negative: the defaults are better)",
        f"load average {result['load_average_start'][0]:.1f} at start, {result['load_average_end'][0]:.1f} at end"])


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"the test share must be a number between 0 and 1, got {text!r}")
    return value


def _speed(side: dict) -> str:
    return f"{side['tokens_per_s']:,.0f} tokens/s"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.defaults", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=existing_dir, help="the training files (and test files without --test)")
    parser.add_argument("--test", type=existing_dir, default=None, help="score on this folder's files")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=_positive, help="wall-clock training minutes of each side")
    budget.add_argument("--seconds", type=_positive, help="the same in seconds (short test runs)")
    parser.add_argument("--test-share", type=_share, default=0.1, help="without --test: share of FOLDER held out")
    parser.add_argument("--json", type=json_path, default=None, help="write what was measured to this file")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    try:
        result = run(args.folder, args.test, seconds, test_share=args.test_share)
    except CLI_ERRORS as exc:
        return fail(exc)
    print(table(result))
    if args.json:
        try:
            write_json(dict(result, command=" ".join(["python -m benchmarks.defaults", *(argv or sys.argv[1:])])),
                       args.json)
        except OSError as exc:
            return fail(exc)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
