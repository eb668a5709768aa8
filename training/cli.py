"""`python -m composer train FOLDER --out my.model`: the terminal front end of
`training.trainer.train` (ingest summary, tqdm bar, Ctrl-C = checkpoint and stop)."""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path

from composer.paths import shown
from training.cli_objectives import add_objective_options, best_line, objective_settings
from training.compare import parse_cells
from training.compare_form import parse_designs
from training.config import REPRESENTATIONS, TrainConfig
from training.distributed import dist_info_from_env
from training.sizing import CHOSEN
from training.terminal_view import TerminalView

DEFAULTS = TrainConfig(folder="", out="")


def _transpose(text: str) -> tuple[int, int]:
    """'-5:6' or '-5,6' (semitones, low:high), '0' = off, '6' = -6..6."""
    try:
        parts = [int(p) for p in text.replace(",", ":").split(":") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"transpose must look like -5:6 (semitones) or 0, got {text!r}") from None
    if len(parts) == 1:
        return (-abs(parts[0]), abs(parts[0]))
    if len(parts) != 2 or parts[0] > 0 or parts[1] < 0:
        raise argparse.ArgumentTypeError(f"transpose must be LOW:HIGH with LOW <= 0 <= HIGH, got {text!r}")
    return (parts[0], parts[1])


def _distances(text: str) -> tuple[int, ...]:
    """'1,2,4,8' -> (1, 2, 4, 8); '0' or '' -> () (off)."""
    from composer.model.network import check_lookback
    try:
        distances = tuple(int(p) for p in text.split(",") if p.strip() and p.strip() != "0")
        check_lookback(distances)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--lookback {text!r}: {exc}") from None
    return distances


def _parsed_by(parse):
    """An argparse type: `parse(text)`, its ValueError the usage error."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def _track(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def add_train_parser(sub) -> None:
    d = DEFAULTS
    p = sub.add_parser("train", help="train a model on a folder of MIDI files",
                       description="Train an LSTM/GRU/RNN model on every MIDI file in FOLDER (sub-folders too). "
                                   "Ctrl-C writes a checkpoint and stops; --resume continues it.")
    p.add_argument("folder", type=Path, help="folder of .mid/.midi files")
    p.add_argument("--out", type=Path, default=None, help="model file to write (default: FOLDER_NAME.model)")
    p.add_argument("--representation", choices=REPRESENTATIONS, default=d.representation)   # docs/training.md
    p.add_argument("--track", type=_track, default=None, help="melody policy: take this track (index or name)")
    p.add_argument("--chords", choices=("highest", "lowest"), default=d.chords,
                   help="melody policy: which note of a chord to keep (default highest)")
    add_objective_options(p, d)
    _add_model_options(p.add_argument_group("model"), d)
    _add_length_options(p.add_argument_group("length (whichever ends first; none: early stopping decides)"), d)
    _add_optimization_options(p.add_argument_group("optimization"), d)
    _add_run_options(p.add_argument_group("run"), d)
    p.set_defaults(func=run_train)


def _add_model_options(g, d: TrainConfig) -> None:
    g.add_argument("--cell", type=_parsed_by(parse_cells), default=(d.cell,),
                   help="recurrent cell: lstm, gru or rnn (plain tanh RNN); a comma list or 'all' trains one "
                        "model per cell (OUT-lstm.model, ...) with the same data and budget, and prints their "
                        "validation bits per note side by side (default lstm)")
    g.add_argument("--layers", type=int, default=d.layers, help=f"recurrent layers (default {d.layers})")
    g.add_argument("--hidden", type=int, default=d.hidden, help=f"units per layer (default {d.hidden})")
    g.add_argument("--embed", type=int, default=d.embed, help=f"token embedding size (default {d.embed})")
    g.add_argument("--dropout", type=float, default=d.dropout, help=f"default {d.dropout}")
    g.add_argument("--no-position", action="store_true", help="do not feed the position in the bar to the model")
    g.add_argument("--lookback", type=_distances, default=d.lookback, metavar="BARS",
                   help="melody: also feed the events these many bars back at the same place in the bar, and "
                        "whether the music repeats them, so the model can learn to repeat bars: up to 4 distances, "
                        "e.g. 1,2,4,8 (default: off)")
    g.add_argument("--lookback-copy", action="store_true",
                   help="with --lookback: the model may copy those events directly (a learned gate per distance)")
    g.add_argument("--compare-form", type=_parsed_by(parse_designs), default=None, metavar="DESIGNS",
                   help="melody: train one model per design (baseline, lookback = --lookback 1,2,4,8, lookback-copy = "
                        "the same + --lookback-copy; a comma list or 'all') with the same data and budget "
                        "(OUT-DESIGN.model), and print their validation bits per note and the form of 100 "
                        "16-bar pieces each generates side by side")


def _add_length_options(g, d: TrainConfig) -> None:
    g.add_argument("--steps", type=int, default=None, help="optimizer steps")
    g.add_argument("--epochs", type=float, default=None, help="passes over the training tokens")
    g.add_argument("--minutes", type=float, default=None, help="wall-clock minutes")
    g.add_argument("--patience", type=int, default=d.patience,
                   help=f"stop after this many evaluations without improvement (0 = never; default {d.patience})")


def _add_optimization_options(g, d: TrainConfig) -> None:
    g.add_argument("--batch", type=int, default=d.batch, help=f"chunks per step (default {d.batch})")
    g.add_argument("--seq-len", type=int, default=d.seq_len, help=f"tokens per chunk (default {d.seq_len})")
    g.add_argument("--batching", choices=("chunks", "tbptt"), default=d.batching,
                   help="random windows, or streams with the state carried over (truncated BPTT); default %(default)s")
    g.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    g.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help=f"default {d.warmup_steps}")
    g.add_argument("--decay-share", type=float, default=d.decay_share,
                   help="the last share of the run in which the learning rate decays (cosine) to "
                        f"{d.min_lr_ratio} x lr; 1 = all along, 0 = constant (default {d.decay_share})")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"AdamW (default {d.weight_decay})")
    g.add_argument("--weight-drop", type=float, default=d.weight_drop,
                   help="DropConnect on the recurrent (hidden-to-hidden) weights while training, 0 = off "
                        f"(default {d.weight_drop})")
    g.add_argument("--locked-dropout", action="store_true",
                   help="drop the same features at every time step of a sequence (variational dropout)")
    g.add_argument("--ema", type=float, default=d.ema,
                   help="validate and save an exponential moving average of the weights with this decay per "
                        f"step, e.g. 0.999; 0 = off (default {d.ema})")
    g.add_argument("--clip", type=float, default=d.clip, help=f"gradient norm clipping, 0 = off (default {d.clip})")
    g.add_argument("--val-share", type=float, default=d.val_share,
                   help=f"share of files held out for validation (default {d.val_share})")
    g.add_argument("--transpose", type=_transpose, default=None,
                   help=f"random transposition LOW:HIGH semitones, 0 = off (default: chosen for the run, {CHOSEN})")
    g.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")


def _add_run_options(g, d: TrainConfig) -> None:
    g.add_argument("--device", default=d.device, help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    g.add_argument("--resume", action="store_true", help="continue from the last checkpoint of this --out")
    g.add_argument("--force", action="store_true", help="overwrite --out and start over an old checkpoint")
    g.add_argument("--report", type=Path, default=None, help="write the ingest report (JSON) here")
    g.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps (default %(default)s)")
    g.add_argument("--eval-every", type=int, default=d.eval_every,
                   help="steps between validation passes (default: auto, 50 or more so that validation "
                        "takes about 5 %% of the time on a large held-out set)")
    g.add_argument("--no-copy-index", action="store_true", help="store no copy index in the model file (the "
                   "training files' names and notes, pitch and rhythm, for the copy meter of generated pieces)")
    g.add_argument("--private", action="store_true",
                   help="a model file to share: no copy index and no folder or file names (docs/sharing.md)")
    g.add_argument("--cache-dir", type=Path, default=None, help="ingest cache (default ~/.cache/rnn-composer)")
    g.add_argument("--workers", type=int, default=None, help="processes that read MIDI files")
    g.add_argument("--strict-midi", action="store_true", help="skip damaged MIDI files (truncated, wrong chunk "
                   "lengths, stray bytes) instead of using them up to the damage")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args) -> TrainConfig:
    out = args.out or Path(args.folder.resolve().name + ".model")
    return TrainConfig(
        folder=str(args.folder), out=str(out), representation=args.representation, cell=args.cell[0],
        layers=args.layers, hidden=args.hidden, embed=args.embed, dropout=args.dropout,
        position_input=not args.no_position, lookback=args.lookback, lookback_copy=args.lookback_copy,
        steps=args.steps, epochs=args.epochs, minutes=args.minutes,
        batch=args.batch, seq_len=args.seq_len, batching=args.batching, lr=args.lr, warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay, decay_share=args.decay_share, weight_drop=args.weight_drop,
        locked_dropout=args.locked_dropout,
        ema=args.ema, clip=args.clip, val_share=args.val_share, transpose=args.transpose,
        seed=args.seed, device=args.device, resume=args.resume, force=args.force,
        report=str(args.report) if args.report else None, checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every, patience=args.patience,
        cache_dir=str(args.cache_dir) if args.cache_dir else None, workers=args.workers,
        track=args.track, chords=args.chords, **objective_settings(args), copy_index=not args.no_copy_index,
        strict_midi=args.strict_midi, private=args.private)


def run_train(args) -> int:
    from training.trainer import train
    config = config_from_args(args)
    stop = {"requested": False}

    def on_sigint(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        _err("\nstopping after this step (checkpoint is written); press Ctrl-C again to abort")

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:      # not the main thread: no Ctrl-C handling
        previous = None
    if args.compare_form and (len(args.cell) > 1 or args.lookback or args.lookback_copy):
        _err("--compare-form sets the lookback options itself: give one --cell and no --lookback/--lookback-copy")
        return 2
    if len(args.cell) > 1 or args.compare_form:
        try:
            return _compare_form(args, config, stop) if args.compare_form else _compare(args, config, stop)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    view = TerminalView(args.quiet)
    try:
        result = train(config, progress=view, should_stop=lambda: stop["requested"])
    finally:
        view.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if os.environ.get("RANK", "0") != "0":      # under torchrun, process 0 reports
        return 0
    _err(f"stopped: {result.stopped_reason} after {result.steps} steps; {best_line(result)}")
    _err(f"wrote {result.model_path} (checkpoints and metrics log in {result.checkpoint_dir}/)")
    if result.stopped_reason == "cancelled":
        _err(f"continue with: {resume_command(args, out=config.out)}")
    return 0 if not result.stopped_reason.startswith("non-finite") else 1


class _RunViews:
    """The terminal view of a comparison's runs: one progress view per run (its
    label taken from each report's TrainProgress by `label_of`), a header line
    naming the run's model file when it starts, the ingest summary once."""

    def __init__(self, quiet: bool, out_of, label_of):
        self.quiet, self.out_of, self.label_of = quiet, out_of, label_of
        self.views: dict[str, TerminalView] = {}

    def __call__(self, p) -> None:
        label = self.label_of(p.info)
        if label not in self.views:
            self.close()
            _err(f"--- {label}: {self.out_of(label)}")
            self.views[label] = TerminalView(self.quiet, report_printed=bool(self.views))
        self.views[label](p)

    def close(self) -> None:
        for view in self.views.values():
            view.close()


def _compare_form(args, config: TrainConfig, stop: dict) -> int:
    """--compare-form a,b: one run per design, then the table (and OUT-designs.json)."""
    from training.compare import out_for
    from training.compare_form import compare_designs, table_lines, write_comparison
    views = _RunViews(args.quiet, lambda label: out_for(config.out, label), lambda info: info.design)
    try:
        runs = compare_designs(config, args.compare_form, progress=views, should_stop=lambda: stop["requested"])
    finally:
        views.close()
    for line in table_lines(runs):
        _err(line)
    _err(f"wrote {write_comparison(out_for(config.out, 'designs').with_suffix('.json'), config, runs)}")
    return 0


def _compare(args, config: TrainConfig, stop: dict) -> int:
    """--cell a,b,c: one run per cell, then the table (and OUT-cells.json)."""
    from composer.safe_write import check_target
    from training.compare import compare_cells, out_for, table_lines, write_comparison

    table_path = out_for(config.out, "cells").with_suffix(".json")
    check_target(table_path, "--out")           # before the first run, not after the last
    views = _RunViews(args.quiet, lambda label: out_for(config.out, label), lambda info: info.cell)
    try:
        runs = compare_cells(config, args.cell, progress=views, should_stop=lambda: stop["requested"])
    finally:
        views.close()
    if os.environ.get("RANK", "0") != "0":
        return 0
    not_started = [cell for cell in args.cell if cell not in {r.cell for r in runs}]
    for line in table_lines(runs, not_started):
        _err(line)
    table = write_comparison(table_path, config, runs, not_started)
    _err(f"wrote {table}")
    for run in runs:
        if run.stopped_reason == "cancelled":
            _err(f"stopped: cancelled after {run.steps} steps" + (
                f"; not started: {', '.join(not_started)}" if not_started else ""))
            _err(f"continue with: {resume_command(args, cell=run.cell, out=out_for(config.out, run.cell))}")
    return 0 if not any(r.stopped_reason.startswith("non-finite") for r in runs) else 1


def resume_command(args, *, out: str | os.PathLike, cell: str | None = None) -> str:
    """The `train` command line that continues the run of `args` (writing `out`;
    `cell`: one run of a --cell comparison): the folder, --out, every option
    whose value differs from its default as the user gave it, and --resume
    (never --force), quoted for a POSIX shell. Under torchrun on one machine it
    is the same torchrun launch (a checkpoint resumes with its number of processes);
    across machines, the torchrun options are the user's to repeat."""
    world = dist_info_from_env().world_size
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)) or world)     # (torchrun sets it)
    if world > 1 and local == world:
        words = ["torchrun", "--standalone", f"--nproc-per-node={world}", "-m", "composer", "train"]
    elif world > 1:
        words = ["torchrun", "...(the same options)...", "-m", "composer", "train"]
    else:
        words = ["python", "-m", "composer", "train"]
    words += [str(args.folder), "--out", str(out)]
    if cell is not None:
        words += ["--cell", cell]
    for action in _train_parser()._actions:
        if not action.option_strings or action.dest in _NOT_REPEATED or (cell is not None and action.dest == "cell"):
            continue
        value = getattr(args, action.dest, action.default)
        if value is None or value == action.default:
            continue
        option = action.option_strings[-1]
        if action.nargs == 0:             # a flag such as --quiet
            words.append(option)
            continue
        text = _option_text(action.dest, value)
        words += [f"{option}={text}"] if text.startswith("-") else [option, text]
    return shlex.join([*words, "--resume"])


_NOT_REPEATED = ("help", "out", "resume", "force")
_COMMA_LISTS = ("cell", "lookback", "compare_form", "voices")    # options read as comma lists (the rest as LOW:HIGH)


def _option_text(dest: str, value) -> str:
    """A parsed option value as the parser reads it back: ('lstm', 'gru') -> 'lstm,gru',
    (1, 2, 4, 8) -> '1,2,4,8' (--lookback), (-5, 6) -> '-5:6'."""
    if isinstance(value, tuple):
        return (",".join if dest in _COMMA_LISTS else ":".join)(str(v) for v in value)
    return str(value)


def _train_parser() -> argparse.ArgumentParser:
    """A fresh `train` parser (its options and defaults)."""
    sub = argparse.ArgumentParser().add_subparsers()
    add_train_parser(sub)
    return sub.choices["train"]


def _err(text: str) -> None:
    print(shown(text), file=sys.stderr)
