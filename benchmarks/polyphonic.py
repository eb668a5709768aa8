"""The polyphonic piano-roll benchmarks (JSB Chorales, Nottingham) with the
frame representation, trained by the project's own trainer.

    python -m benchmarks.polyphonic jsb [--minutes 15]
    python -m benchmarks.polyphonic nottingham [--minutes 15]

Protocol (Boulanger-Lewandowski et al. 2012, as in Bai et al. 2018): train on
`traindata`, select (best checkpoint, early stopping) on `validdata`, report
the negative log-likelihood of `testdata` in nats per frame: for each piece
the first frame is given, every later frame is predicted, and the NLL of all
predicted frames is summed over the split and divided by their number.

The frame likelihood, masked by the frame grammar or not, is defined in
benchmarks/frame_likelihood.py.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.frame_likelihood import frame_nll
from composer.config import ConfigMixin
from composer.errors import ComposerError
from composer.model.modelfile import load_model
from composer.representations.frames import FramesConfig, FramesTokenizer

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).resolve().parent / "data"
LOWEST_PITCH = 21           # column 0 of the .mat piano rolls is MIDI pitch 21 (A0)
SPLITS = ("traindata", "validdata", "testdata")
# name -> (file, frames per quarter note)
DATASETS = {"jsb": ("JSB_Chorales.mat", 1), "nottingham": ("Nottingham.mat", 2)}


@dataclass(frozen=True)
class BenchConfig(ConfigMixin):
    """One benchmark run. Lengths: `minutes` of training (wall clock, the
    trainer's budget, validation included) and/or `steps`; `pieces` > 0 keeps
    only the first N pieces of every split (a quick check, not a result)."""

    dataset: str = "jsb"
    minutes: float | None = 15.0
    steps: int | None = None
    pieces: int = 0
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 384
    embed: int = 64
    dropout: float = 0.4
    batch: int = 32
    seq_len: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.0
    weight_drop: float = 0.0         # DropConnect on the recurrent weights (ModelConfig.weight_drop)
    tie_weights: bool = False        # the head shares the embedding matrix (ModelConfig.tie_weights)
    locked_dropout: bool = False     # one dropout mask per sequence (ModelConfig.locked_dropout)
    ema: float = 0.0                 # weight average used for selection and the model file (TrainConfig.ema)
    transpose: tuple = (0, 0)        # (low, high) semitones of training augmentation
    position_input: bool = False     # feed the previous frame's next pitch (FramesTokenizer.positions)
    order: str = "ascending"         # pitches of a frame bass first, or "descending" (soprano first)
    frame_cycle: int = 0             # > 0 (with position_input): also feed the frame number modulo this
    eval_every: int = 50             # steps between validation passes
    patience: int = 10               # validation passes without improvement before stopping
    val_pieces: int = 0              # validdata pieces used for selection during training (0 = all)
    seed: int = 0
    threads: int = 0                 # torch CPU threads (0 = leave torch's default)
    out_dir: str = "runs/polyphonic"

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if min(self.pieces, self.threads, self.val_pieces) < 0:
            raise ValueError(f"pieces, threads and val_pieces must be >= 0, got {self.pieces}, {self.threads}, "
                             f"{self.val_pieces}")
        if self.minutes is None and self.steps is None:
            raise ValueError("give minutes or steps")


def load_rolls(dataset: str, data_dir: Path = DATA_DIR) -> dict[str, list[np.ndarray]]:
    """{split: [piano roll (frames, 88) uint8, ...]} from the dataset's .mat file."""
    from scipy.io import loadmat
    path = Path(data_dir) / DATASETS[dataset][0]
    if not path.exists():
        raise ComposerError(f"{path}: benchmark file missing (see benchmarks/data/SOURCE.md)")
    mat = loadmat(str(path))
    return {split: [np.asarray(p, dtype=np.uint8) for p in mat[split][0]] for split in SPLITS}


def tokenizer_for(dataset: str, order: str = "ascending", frame_cycle: int = 0) -> FramesTokenizer:
    return FramesTokenizer(FramesConfig(steps_per_quarter=DATASETS[dataset][1], min_frames=1, order=order,
                                        frame_cycle=frame_cycle))


def build_corpus(tok: FramesTokenizer, rolls: dict[str, list[np.ndarray]], source: str):
    """A composer.corpus.ingest.Corpus of the train and valid pieces (names
    "traindata/0000", "validdata/0000", ...) and the validation names."""
    from composer.corpus.ingest import Corpus, FileResult, IngestReport
    sequences, files = {}, []
    for split in ("traindata", "validdata"):
        for i, roll in enumerate(rolls[split]):
            name = f"{split}/{i:04d}"
            seq = tok.encode_roll(roll, lowest_pitch=LOWEST_PITCH)
            sequences[name] = seq
            files.append(FileResult(path=name, status="used", n_notes=tok.count_notes(seq), n_tokens=len(seq),
                                    source=f"{source} {split}[{i}]"))
    report = IngestReport(folder=source, representation=tok.kind, files=files)
    return Corpus(report=report, sequences=sequences), [n for n in sequences if n.startswith("validdata/")]


def train_config(cfg: BenchConfig, model_path: Path, source: str):
    from training.config import TrainConfig
    return TrainConfig(folder=source, out=str(model_path), representation="frames", cell=cfg.cell,
                       layers=cfg.layers, hidden=cfg.hidden, embed=cfg.embed, dropout=cfg.dropout,
                       tie_weights=cfg.tie_weights, locked_dropout=cfg.locked_dropout,
                       position_input=cfg.position_input, steps=cfg.steps, minutes=cfg.minutes, batch=cfg.batch,
                       seq_len=cfg.seq_len, batching="chunks", lr=cfg.lr, weight_decay=cfg.weight_decay,
                       weight_drop=cfg.weight_drop, ema=cfg.ema,
                       transpose=tuple(cfg.transpose), seed=cfg.seed, device="cpu", force=True,
                       eval_every=cfg.eval_every, checkpoint_every=max(cfg.eval_every, 100),
                       patience=cfg.patience, warmup_steps=100)


def run_benchmark(cfg: BenchConfig, progress: Callable | None = None,
                  should_stop: Callable[[], bool] | None = None) -> dict:
    """Train on traindata (selecting on validdata), then measure valid and
    test nats per frame with the selected model. Writes OUT_DIR/DATASET.model
    and OUT_DIR/DATASET.json (this dict). `progress(Progress)` (info: a TrainProgress) and
    `should_stop()` are the trainer's hooks."""
    from training.trainer import train_sequences
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rolls = load_rolls(cfg.dataset)
    if cfg.pieces:
        rolls = {split: pieces[:cfg.pieces] for split, pieces in rolls.items()}
    tok = tokenizer_for(cfg.dataset, cfg.order, cfg.frame_cycle)
    source = DATASETS[cfg.dataset][0]
    corpus, val_names = build_corpus(tok, rolls, source)
    if cfg.val_pieces:      # a fixed subset of validdata: the selection passes cost less of the budget
        keep = set(val_names[:cfg.val_pieces])
        corpus.sequences = {n: s for n, s in corpus.sequences.items() if n in keep or not n.startswith("validdata/")}
        corpus.report.files = [f for f in corpus.report.files if f.path in corpus.sequences]
        val_names = sorted(keep)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{cfg.dataset}.model"
    t0 = time.monotonic()
    result = train_sequences(train_config(cfg, model_path, source), corpus, val_names, progress, should_stop,
                             tokenizer=tok)
    train_s = time.monotonic() - t0
    model = load_model(model_path, "cpu").model          # the best-by-validation weights
    t1 = time.monotonic()
    scores = {split: frame_nll(model, tok, [tok.encode_roll(r, lowest_pitch=LOWEST_PITCH) for r in rolls[split]])
              for split in ("validdata", "testdata")}
    report = {"dataset": cfg.dataset, "config": cfg.to_dict(),
              "test_nats_per_frame": scores["testdata"].nats_per_frame,
              "valid_nats_per_frame": scores["validdata"].nats_per_frame,
              "test": scores["testdata"].to_dict(), "valid": scores["validdata"].to_dict(),
              "train_seconds": round(train_s, 1), "eval_seconds": round(time.monotonic() - t1, 1),
              "steps": result.steps, "stopped_reason": result.stopped_reason,
              "best_step": result.summary.get("best_step"), "parameters": model.num_parameters(),
              "epochs": result.summary.get("epochs"), "torch_threads": torch.get_num_threads(),
              "model_path": str(model_path), "metrics_path": str(result.metrics_path)}
    (out_dir / f"{cfg.dataset}.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def check_grid(config: FramesConfig, dataset: str, path) -> None:
    """Refuse a frames model whose grid (frames per quarter note, pitch range)
    is not the dataset's: its frames would mean other durations and pitches."""
    want = tokenizer_for(dataset).config
    if (config.steps_per_quarter, config.pitch_low, config.pitch_high) != \
            (want.steps_per_quarter, want.pitch_low, want.pitch_high):
        raise ComposerError(f"{path}: a model of {config.steps_per_quarter} frame(s) per quarter note, pitches "
                            f"{config.pitch_low}..{config.pitch_high}; {dataset} has {want.steps_per_quarter}, "
                            f"{want.pitch_low}..{want.pitch_high}")


def score_models(dataset: str, paths: Sequence[str | Path]) -> dict:
    """Valid and test nats per frame of trained model files (no training);
    several files are scored as an ensemble (frame_nll). They must share one
    frames representation."""
    loaded = [load_model(p, "cpu") for p in paths]
    tok = loaded[0].tokenizer
    for item in loaded[1:]:
        if item.tokenizer.kind != tok.kind or item.tokenizer.config != tok.config:
            raise ComposerError(f"{item.path}: another representation than {loaded[0].path}; cannot ensemble them")
    if tok.kind != "frames":
        raise ComposerError(f"{loaded[0].path}: a {tok.kind} model, not a frames model")
    check_grid(tok.config, dataset, loaded[0].path)
    rolls = load_rolls(dataset)
    scores = {split: frame_nll([m.model for m in loaded], tok,
                               [tok.encode_roll(r, lowest_pitch=LOWEST_PITCH) for r in rolls[split]])
              for split in ("validdata", "testdata")}
    return {"dataset": dataset, "models": [str(p) for p in paths],
            "test_nats_per_frame": scores["testdata"].nats_per_frame,
            "valid_nats_per_frame": scores["validdata"].nats_per_frame,
            "test": scores["testdata"].to_dict(), "valid": scores["validdata"].to_dict()}


# Chosen by measurement (docs/benchmarks.md): 2 x 256 LSTM, 16 x 128-token windows, no transposition;
# JSB (small data, over-fits): tied embedding/head, DropConnect 0.5 on the recurrent weights, dropout 0.5,
# the previous-frame pointer input, selection on the weight average, no early stopping (the schedule runs out)
PRESETS = {
    "jsb": {"hidden": 256, "embed": 64, "dropout": 0.5, "layers": 2, "batch": 16, "seq_len": 128, "lr": 8e-3,
            "eval_every": 100, "patience": 0, "transpose": (0, 0), "position_input": True, "tie_weights": True,
            "weight_drop": 0.5, "ema": 0.998},
    "nottingham": {"hidden": 256, "embed": 64, "dropout": 0.2, "layers": 2, "batch": 16, "seq_len": 128, "lr": 8e-3,
                   "eval_every": 150, "val_pieces": 40, "transpose": (0, 0)},
}


def _transpose_range(text: str) -> tuple[int, int]:
    """An argparse type: LOW,HIGH semitones with LOW <= HIGH, e.g. -3,3."""
    try:
        low, high = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be LOW,HIGH semitones, got {text!r}") from None
    if low > high:
        raise argparse.ArgumentTypeError(f"must be LOW,HIGH semitones with LOW <= HIGH, got {text!r}")
    return low, high


def _parser():
    from benchmarks.__main__ import Parser
    parser = Parser(prog="python -m benchmarks.polyphonic", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget, wall clock (default 15)")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--pieces", type=int, default=0, help="use only the first N pieces of each split")
    for name, kind in (("cell", str), ("layers", int), ("hidden", int), ("embed", int), ("dropout", float),
                       ("batch", int), ("seq-len", int), ("lr", float), ("weight-decay", float),
                       ("weight-drop", float), ("ema", float), ("eval-every", int), ("patience", int),
                       ("seed", int), ("threads", int), ("val-pieces", int), ("frame-cycle", int)):
        parser.add_argument(f"--{name}", type=kind, default=None)
    parser.add_argument("--position", action=argparse.BooleanOptionalAction, default=None,
                        help="feed the previous frame's next pitch as an extra input "
                             "(see composer/representations/frames.py)")
    parser.add_argument("--tie", action=argparse.BooleanOptionalAction, default=None,
                        help="the output layer shares the embedding matrix (through a projection)")
    parser.add_argument("--locked-dropout", action=argparse.BooleanOptionalAction, default=None,
                        help="the same dropout mask at every step of a window (variational dropout)")
    parser.add_argument("--order", choices=("ascending", "descending"), default=None,
                        help="the order of a frame's pitches (default ascending: bass first)")
    parser.add_argument("--transpose", type=_transpose_range, default=None,
                        help="augmentation range LOW,HIGH semitones, e.g. --transpose=-3,3")
    parser.add_argument("--out-dir", default="runs/polyphonic")
    parser.add_argument("--score", nargs="+", default=None, metavar="MODEL",
                        help="no training: score these model files on validdata and testdata (several: an ensemble)")
    return parser


def _bench_fields(args) -> dict:
    """The dataset's preset, with the options given on the command line in its place."""
    fields = dict(PRESETS[args.dataset])
    for name in ("cell", "layers", "hidden", "embed", "dropout", "batch", "seq_len", "lr", "weight_decay",
                 "weight_drop", "ema", "eval_every",
                 "patience", "seed", "threads", "val_pieces", "frame_cycle"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.tie is not None:
        fields["tie_weights"] = args.tie
    if args.locked_dropout is not None:
        fields["locked_dropout"] = args.locked_dropout
    if args.order is not None:
        fields["order"] = args.order
    if args.position is not None:
        fields["position_input"] = args.position
    if args.transpose is not None:
        fields["transpose"] = args.transpose
    return fields


def main(argv=None) -> int:
    from benchmarks.__main__ import fail
    args = _parser().parse_args(argv)
    if args.score:
        try:
            report = score_models(args.dataset, args.score)
        except (ComposerError, ValueError, OSError) as exc:
            return fail(exc)
        print(f"{args.dataset}: test {report['test_nats_per_frame']:.3f} nats/frame "
              f"(valid {report['valid_nats_per_frame']:.3f}) for {len(args.score)} model(s)")
        return 0
    try:
        cfg = BenchConfig(dataset=args.dataset, minutes=args.minutes if args.minutes > 0 else None,
                          steps=args.steps, pieces=args.pieces, out_dir=args.out_dir, **_bench_fields(args))
        report = _run_with_bar(cfg)
    except (ComposerError, ValueError, OSError) as exc:
        return fail(exc)
    print(f"{args.dataset}: test {report['test_nats_per_frame']:.3f} nats/frame "
          f"(valid {report['valid_nats_per_frame']:.3f}; unmasked test {report['test']['raw_nats_per_frame']:.3f}) "
          f"after {report['steps']} steps, {report['train_seconds'] / 60:.1f} min ({report['stopped_reason']}); "
          f"{Path(cfg.out_dir) / (args.dataset + '.json')}")
    return 0


def _postfix(progress) -> dict:
    p = progress.info
    return {"loss": f"{p.train_loss or 0:.3f} nats/token", "best val": f"{p.best_val_bits_per_note or 0:.3f} bits/note"}


def _run_with_bar(cfg: BenchConfig) -> dict:
    from composer.cli.progress import terminal_progress
    from composer.tasks import relabel
    with terminal_progress(postfix=_postfix) as bar:
        return run_benchmark(cfg, relabel(bar, f"training {cfg.dataset}"))


if __name__ == "__main__":
    raise SystemExit(main())
