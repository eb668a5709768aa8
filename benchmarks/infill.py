"""Span bits per note: an infill model given both sides against a plain
left-to-right model given the left side only, on the same spans (issue 8).

    python -m benchmarks.infill FOLDER --model composer/assets/melody-infill.model --model composer/assets/melody.model
        [--val-share 0.1] [--seed 0] [--json PATH]

The validation pieces are the trainer's: the same files `train FOLDER
--val-share S --seed N` holds out (composer.corpus.split.split_files). On each piece
the spans are `training.infill_data.eval_spans` (one span of 1, 2, 3 and 4
bars, placed by the piece's own tokens), so every model is scored on exactly
the same bars. An infill model reads its context_bars on both sides; a plain
model reads everything before the span. Lower is better.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks.__main__ import CLI_ERRORS, Parser, existing_dir, fail, json_path, model_file, positive_int
from composer.corpus.ingest import scan_folder
from composer.corpus.split import split_files
from composer.model.modelfile import load_model
from training.infill_data import EVAL_SPAN_BARS, span_bits_per_note


def validation_pieces(folder: Path, tokenizer, *, val_share: float, seed: int, cache_dir=None) -> list[list[int]]:
    corpus = scan_folder(folder, tokenizer, cache_dir=cache_dir, workers=1)
    _, val = split_files(sorted(corpus.sequences), val_share, seed)
    return [corpus.sequences[name] for name in val]


def evaluate(folder: Path, model_paths: list[Path], *, val_share: float = 0.1, seed: int = 0,
             cache_dir=None, context_bars: int | None = None) -> dict:
    """Span bits per note of each model on the validation pieces of `folder`,
    overall and by span length. `val_share` in (0, 1); `context_bars` >= 1
    (None: each infill model's own)."""
    if not 0 < val_share < 1:
        raise ValueError(f"val_share must be in (0, 1), got {val_share}")
    if context_bars is not None and context_bars < 1:
        raise ValueError(f"context_bars must be >= 1 (or None for the model's own), got {context_bars}")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    rows = []
    pieces = None
    for path in model_paths:
        loaded = load_model(path, "cpu")
        if pieces is None:
            pieces = validation_pieces(folder, loaded.tokenizer, val_share=val_share, seed=seed, cache_dir=cache_dir)
        started = time.perf_counter()
        total = span_bits_per_note(loaded.model, loaded.tokenizer, pieces, context_bars=context_bars)
        by_size = {n: span_bits_per_note(loaded.model, loaded.tokenizer, pieces, sizes=(n,),
                                         context_bars=context_bars).bits_per_note for n in EVAL_SPAN_BARS}
        context = (context_bars or loaded.model.config.context_bars) if loaded.is_infill else None
        rows.append({"model": str(path), "summary": loaded.summary(), "infill": loaded.is_infill,
                     "context_bars": context,
                     "sees": "both sides" if loaded.is_infill else "left side only",
                     "span_bits_per_note": total.bits_per_note, "by_span_bars": by_size, "spans": total.files,
                     "notes": total.notes, "tokens": total.tokens, "seconds": round(time.perf_counter() - started, 1)})
    return {"folder": str(folder), "val_share": val_share, "seed": seed, "pieces": len(pieces or []),
            "span_bars": list(EVAL_SPAN_BARS), "models": rows,
            "machine": f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"}


def _share(text: str) -> float:
    """An argparse type: a fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.infill", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=existing_dir, help="the training folder (its validation pieces are scored)")
    parser.add_argument("--model", type=model_file, action="append", required=True, help="a model file (repeat)")
    parser.add_argument("--val-share", type=_share, default=0.1, help="as in train, in (0, 1) (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="as in train (default 0)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ingest cache (default ~/.cache/rnn-composer)")
    parser.add_argument("--context-bars", type=positive_int, default=None,
                        help="bars (>= 1) an infill model reads on each side (default: what it was trained with)")
    parser.add_argument("--json", type=json_path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.folder, args.model, val_share=args.val_share, seed=args.seed,
                          cache_dir=args.cache_dir, context_bars=args.context_bars)
    except CLI_ERRORS as exc:
        return fail(exc)
    for row in result["models"]:
        sizes = "  ".join(f"{n} bar(s) {v:.3f}" for n, v in row["by_span_bars"].items())
        print(f"{row['span_bits_per_note']:.3f} span bits/note ({row['sees']}; {sizes}) {row['model']}")
    print(f"{result['pieces']} validation pieces, {result['models'][0]['spans']} spans, "
          f"{result['models'][0]['notes']} notes", file=sys.stderr)
    if args.json:
        try:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        except OSError as exc:
            return fail(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
