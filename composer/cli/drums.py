"""`python -m composer drums MODEL SONG.mid --count N --out DIR`: drums under a song."""
from __future__ import annotations

import sys
from pathlib import Path

from composer.paths import shown
from composer.services.defaults import DEFAULTS


def add_drums_parser(sub) -> None:
    p = sub.add_parser("drums", help="add a drum track under a song",
                       description="Write COUNT takes of SONG with a drum track added by a drums model (train "
                                   "--representation drums): the same bars, meters and tempo; the other tracks "
                                   "are kept as they are.")
    p.add_argument("model", type=Path, help="a drums model file")
    p.add_argument("file", type=Path, help="the song (.mid)")
    p.add_argument("--count", type=int, default=4, help="how many takes (default 4)")
    p.add_argument("--out", type=Path, default=Path("songs"), help="output folder (default ./songs)")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature,
                   help=f"randomness, > 0 (default {DEFAULTS.temperature})")
    p.add_argument("--top-k", type=int, default=DEFAULTS.top_k, help="sample among the K likeliest tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=DEFAULTS.top_p,
                   help=f"nucleus sampling mass in (0, 1] (1 = off; default {DEFAULTS.top_p:g})")
    p.add_argument("--seed", type=int, default=None, help="same seed, same device -> same files")
    p.add_argument("--batch", type=int, default=64, help="takes sampled at once (default 64)")
    p.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_drums)


def drums_paths(out_dir: Path, stem: str, count: int) -> list[Path]:
    width = max(2, len(str(count)))
    return [Path(out_dir) / f"{stem}-drums-{i + 1:0{width}d}.mid" for i in range(count)]


def run_drums(args) -> int:
    from composer.cli.progress import terminal_progress
    from composer.model.device import choose_device
    from composer.model.modelfile import load_model
    from composer.music.midifile import read_midi
    from composer.safe_write import check_folder_target
    from composer.services.drums import DrumsRequest, add_drums, require_drums_model
    from composer.services.generate import check_writable, write_songs
    from composer.services.primer import damage_warning

    request = DrumsRequest(count=args.count, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                           seed=args.seed, batch_size=args.batch)
    request.validate()
    song = read_midi(args.file)         # refuses a missing file, a FIFO or a device before any work
    check_folder_target(args.out, "--out")
    paths = drums_paths(args.out, args.file.stem, args.count)
    check_writable(paths, force=args.force)
    device, reason = choose_device(args.device)
    loaded = load_model(args.model, device)
    require_drums_model(loaded)
    if song.damage:
        _err(f"warning: {damage_warning(args.file, song)}")
    if any(t.is_drum and t.notes for t in song.tracks):
        _err(f"note: {args.file} already has a drum track; the new one is added beside it")
    _err(f"model: {args.model} ({loaded.summary()})")
    _err(f"device: {reason}")
    with terminal_progress("adding drums", disable=args.quiet) as progress:
        result = add_drums(loaded, song, request, progress=progress)
    write_songs(result.songs, paths, force=args.force)
    _err(f"wrote {len(paths)} file(s) to {args.out}/ (seed {result.seed})")
    return 0


def _err(text: str) -> None:
    print(shown(text), file=sys.stderr)
