"""The options of `train` that choose what the model learns (--objective and
its settings), and how a run's best validation score is told."""
from __future__ import annotations

import argparse
from pathlib import Path


def _bar_range(text: str) -> tuple[int, int]:
    """'1:4' or '2' (span lengths in bars)."""
    try:
        parts = [int(p) for p in text.replace(",", ":").split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bars must look like 1:4, got {text!r}") from None
    low, high = (parts[0], parts[-1]) if len(parts) in (1, 2) else (0, 0)
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"bars must be LOW:HIGH with 1 <= LOW <= HIGH, got {text!r}")
    return (low, high)


def _voices(text: str) -> tuple[str, ...]:
    """'alto,tenor,bass' -> the parts an accompaniment model writes, top to bottom."""
    from composer.representations.accompany.grid import VOICE_NAMES
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in VOICE_NAMES]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"voices must be distinct names among {', '.join(VOICE_NAMES)}, "
                                         f"separated by commas, got {text!r}")
    return names


def add_objective_options(p, d) -> None:
    p.add_argument("--objective", choices=("next", "infill", "accompany"), default=d.objective,
                   help="next: predict each token from the ones before (generate); infill: rewrite spans of bars "
                        "given the music on both sides (composer infill; melody only); accompany: chords and "
                        "voices under a melody (composer harmonize; files with a melody and accompaniment). "
                        "Default %(default)s")
    p.add_argument("--voices", type=_voices, default=d.accompany_voices,
                   help="accompany: the parts under the melody, top to bottom, e.g. bass, alto,tenor,bass or "
                        "chords,bass (chords: the chord instrument's top line, written as block chords); "
                        "a chord label per beat is always learned (default %(default)s)")
    p.add_argument("--infill-bars", type=_bar_range, default=d.infill_bars,
                   help="infill: span lengths LOW:HIGH in bars drawn in training (default %(default)s)")
    p.add_argument("--infill-context", type=int, default=d.infill_context,
                   help="infill: bars of context read on each side of a span (default %(default)s)")
    p.add_argument("--infill-attention", action="store_true",
                   help="infill: every step also attends over the right context, not only its summary")
    p.add_argument("--init-from", type=Path, default=None, metavar="MODEL",
                   help="infill: start from this left-to-right model of the same size (its embedding, RNN and "
                        "head become the infill model's forward part)")


def objective_settings(args) -> dict:
    """The TrainConfig fields of these options."""
    return dict(objective=args.objective, infill_bars=args.infill_bars, infill_context=args.infill_context,
                init_from=str(args.init_from) if args.init_from else None, infill_attention=args.infill_attention,
                accompany_voices=tuple(args.voices))


def best_line(result) -> str:
    """The best validation score of a finished run, in its objective's units."""
    best, every = result.best_val_bits_per_note, result.summary.get("eval_every")
    if best is None:
        return "no validation files"
    if result.summary.get("objective") == "accompany":
        chord, voice = result.summary.get("val_bits_per_chord"), result.summary.get("val_bits_per_voice_note")
        parts = [f"{best:.3f} bits per beat"] + ([f"{chord:.3f} per chord label"] if chord is not None else []) \
            + ([f"{voice:.3f} per voice note"] if voice is not None else [])
        return f"best validation {', '.join(parts)} (validated every {every} steps)"
    return f"best validation {best:.3f} bits per note (validated every {every} steps)"
