"""`python -m composer harmonize MODEL SONG.mid`, and `generate --accompany MODEL`."""
from __future__ import annotations

import sys
from pathlib import Path

from composer.assets import HARMONIZER_MODEL, asset_path
from composer.cli.progress import terminal_progress
from composer.model.device import choose_device
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi
from composer.paths import shown
from composer.safe_write import check_folder_target
from composer.services.defaults import DEFAULTS
from composer.services.generate import check_writable, write_songs
from composer.services.harmonize import HarmonizeRequest, harmonize, melody_arrangement, require_accompany
from composer.services.primer import damage_warning


def add_harmonize_parser(sub) -> None:
    p = sub.add_parser("harmonize", help="write chords and voices under a song's melody",
                       description="Keep the melody of FILE (a .mid file) and write COUNT versions with the parts "
                                   "of an accompaniment model (train FOLDER --objective accompany) under it: "
                                   "chords, a bass line, inner voices. The song's other tracks are left out.")
    p.add_argument("model", type=_model_path,
                   help="accompaniment model file, or 'default' for the shipped Bach chorale harmoniser")
    p.add_argument("file", type=Path, help="the song (.mid) whose melody is harmonised")
    p.add_argument("--count", type=int, default=4, help="how many versions (default 4)")
    p.add_argument("--out", type=Path, default=Path("songs"), help="output folder (default ./songs)")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature,
                   help=f"randomness, > 0 (default {DEFAULTS.temperature})")
    p.add_argument("--top-k", type=int, default=DEFAULTS.top_k, help="sample among the K likeliest choices (0 = off)")
    p.add_argument("--top-p", type=float, default=DEFAULTS.top_p,
                   help=f"nucleus sampling mass in (0, 1] (1 = off; default {DEFAULTS.top_p:g})")
    p.add_argument("--key", default=None, help="tonic of the key constraint (voices and chord roots), e.g. D, Bb")
    p.add_argument("--scale", default=None, help="major, minor, dorian, mixolydian, ... (with --key)")
    p.add_argument("--track", type=int, default=None, help="index of the melody track (default: the melody policy)")
    p.add_argument("--parallels", choices=("auto", "avoid", "allow"), default="auto",
                   help="parallel fifths and octaves between parts: avoid (no part moves into one with the melody "
                        "or a part above it), allow, or auto (default: as the model's training folder did)")
    p.add_argument("--seed", type=int, default=None, help="same seed, same device -> same files")
    p.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_harmonize)


def harmonize_paths(out_dir: Path, stem: str, count: int) -> list[Path]:
    width = max(2, len(str(count)))
    return [Path(out_dir) / f"{stem}-harmonized-{i + 1:0{width}d}.mid" for i in range(count)]


def run_harmonize(args) -> int:
    request = HarmonizeRequest(count=args.count, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               seed=args.seed, key=args.key, scale=args.scale, track=args.track,
                               no_parallels={"auto": None, "avoid": True, "allow": False}[args.parallels])
    request.validate()
    song = read_midi(args.file)         # refuses a missing file, a FIFO or a device before any work
    check_folder_target(args.out, "--out")
    paths = harmonize_paths(args.out, args.file.stem, args.count)
    check_writable(paths, force=args.force)
    device, reason = choose_device(args.device)
    loaded = load_model(args.model, device)
    require_accompany(loaded)
    melody_arrangement(song, loaded.tokenizer.config, args.track)      # a song without a melody fails here, quietly
    if song.damage:
        _err(f"warning: {damage_warning(args.file, song)}")
    _err(f"model: {args.model} ({loaded.summary()})")
    _err(f"device: {reason}")
    with terminal_progress("harmonising", disable=args.quiet) as progress:
        result = harmonize(loaded, song, request, progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    write_songs(result.songs, paths, force=args.force)
    _err(f"wrote {len(paths)} file(s) to {args.out}/ (melody from track {result.melody_track}, seed {result.seed})")
    return 0


def _model_path(text: str) -> Path:
    """A model file, or 'default': the shipped harmoniser (composer/assets)."""
    return asset_path(HARMONIZER_MODEL) if text == "default" else Path(text)


def load_accompaniment(args, device):
    """The model of `generate --accompany MODEL` (None without the option), checked before generating."""
    if args.accompany is None:
        return None
    loaded = load_model(_model_path(str(args.accompany)), device)
    require_accompany(loaded)
    return loaded


def accompany_songs(loaded, songs: list, args, seed: int) -> list:
    """Each generated melody with the accompaniment model's parts under it (one
    version each; the generation's seed, key, scale and sampling controls)."""
    request = HarmonizeRequest(count=1, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               seed=seed, key=args.key, scale=args.scale)
    out = []
    with terminal_progress("harmonising", disable=args.quiet) as progress:
        for song in songs:
            out.append(harmonize(loaded, song, request, progress=progress).songs[0] if song.notes else song)
    return out


def _err(text: str) -> None:
    print(shown(text), file=sys.stderr)
