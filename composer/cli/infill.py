"""`python -m composer infill MODEL FILE.mid --bars 5-6`: the infill command."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from composer.cli.progress import terminal_progress
from composer.errors import ComposerError
from composer.model.device import choose_device
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi
from composer.safe_write import check_folder_target
from composer.services.generate import check_writable, write_songs
from composer.services.infill import InfillRequest, infill
from composer.services.primer import damage_warning


def _bars(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"bars must look like 5-6 or 5, got {text!r}")
    first = int(match[1])
    return first, int(match[2] or first)


def add_infill_parser(sub) -> None:
    p = sub.add_parser("infill", help="rewrite some bars of a song's melody",
                       description="Rewrite bars of the melody of FILE (a .mid file), keeping everything else, "
                                   "and write COUNT variations. An infill model (train --objective infill) fits "
                                   "the new bars to the music on both sides; a plain model sees only what comes "
                                   "before.")
    p.add_argument("model", type=Path, help="model file (an infill model, or a plain melody model)")
    p.add_argument("file", type=Path, help="the song (.mid)")
    p.add_argument("--bars", type=_bars, required=True, help="bars to rewrite, 1-based and inclusive: 5-6, or 5")
    p.add_argument("--count", type=int, default=4, help="how many variations (default 4)")
    p.add_argument("--out", type=Path, default=Path("songs"), help="output folder (default ./songs)")
    p.add_argument("--temperature", type=float, default=1.0, help="randomness, > 0 (default 1.0)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the K likeliest tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass in (0, 1] (1 = off)")
    p.add_argument("--key", default=None, help="tonic of the key constraint, e.g. D, F#, Bb")
    p.add_argument("--scale", default=None, help="major, minor, dorian, mixolydian, major_pentatonic, blues, ...")
    p.add_argument("--track", type=int, default=None, help="index of the melody track (default: the melody policy)")
    p.add_argument("--seed", type=int, default=None, help="same seed, same device -> same files")
    p.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_infill)


def infill_paths(out_dir: Path, stem: str, count: int) -> list[Path]:
    width = max(2, len(str(count)))
    return [Path(out_dir) / f"{stem}-infill-{i + 1:0{width}d}.mid" for i in range(count)]


def run_infill(args) -> int:
    request = InfillRequest(bars=args.bars, count=args.count, temperature=args.temperature, top_k=args.top_k,
                            top_p=args.top_p, seed=args.seed, key=args.key, scale=args.scale, track=args.track)
    request.validate()
    if not args.file.is_file():
        raise ComposerError(f"{args.file}: no such MIDI file")
    check_folder_target(args.out, "--out")
    paths = infill_paths(args.out, args.file.stem, args.count)
    check_writable(paths, force=args.force)
    device, reason = choose_device(args.device)
    loaded = load_model(args.model, device)
    song = read_midi(args.file)
    if song.damage:
        _err(f"warning: {damage_warning(args.file, song)}")
    _err(f"model: {args.model} ({loaded.summary()})")
    if not loaded.is_infill:
        _err("note: a left-to-right model reads only the bars before the span (an infill model, trained with "
             "--objective infill, also reads the bars after it)")
    _err(f"device: {reason}")
    with terminal_progress("infilling", disable=args.quiet) as progress:
        result = infill(loaded, song, request, progress=progress)
    write_songs(result.songs, paths, force=args.force)
    first, last = args.bars
    _err(f"wrote {len(paths)} file(s) to {args.out}/ (bars {first}-{last}, beats {result.span_beats[0]:g}-"
         f"{result.span_beats[1]:g}, seed {result.seed})")
    return 0


def _err(text: str) -> None:
    print(text, file=sys.stderr)
