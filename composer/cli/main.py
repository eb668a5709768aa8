"""`python -m composer SUBCOMMAND`: generate, info, copy-index, eval, form, harmony, infill, harmonize, drums,
and the commands other installed packages add through the entry point group
`rnn_composer.commands` (training/ adds `train`; see pyproject.toml).

Bad input gets one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

from composer.assets import MELODY_MODEL, asset_path
from composer.cli.drums import add_drums_parser
from composer.cli.evaluate import add_eval_parser, add_form_parser
from composer.cli.harmonize import add_harmonize_parser
from composer.cli.harmony import add_harmony_parser
from composer.cli.infill import add_infill_parser
from composer.errors import ComposerError
from composer.paths import shown
from composer.services.defaults import DEFAULTS
from composer.sound.export import AUDIO_FORMATS

DEFAULT_MELODY_MODEL = asset_path(MELODY_MODEL)
EXIT_USAGE = 2
COMMAND_PLUGINS = "rnn_composer.commands"   # entry point group: NAME = "module:add_parser(subparsers)"


class CliError(ComposerError):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _time_signature(text: str) -> tuple[int, int]:
    from composer.music.song import parse_time_signature
    try:
        return parse_time_signature(text)
    except ComposerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pitch_range(text: str) -> tuple[int, int]:
    from composer.services.generate import parse_note_list
    try:
        low, high = text.split("-") if "-" in text.strip("-") else (None, None)
        pitches = [parse_note_list(p)[0].pitch for p in (low, high)]
    except (ValueError, TypeError, ComposerError):
        raise argparse.ArgumentTypeError(f"pitch range must look like C4-C6 or 60-84, got {text!r}") from None
    return pitches[0], pitches[1]


def add_generate_parser(sub) -> None:
    p = sub.add_parser("generate", help="write new pieces as .mid files",
                       description="Sample pieces from a model and write them as .mid files.")
    p.add_argument("--model", type=Path, default=None,
                   help=f"model file (default: the shipped melody model, {DEFAULT_MELODY_MODEL.name})")
    d = DEFAULTS        # the app's controls start from the same (composer.services.defaults)
    p.add_argument("--count", type=int, default=d.count, help=f"how many pieces (default {d.count})")
    p.add_argument("--bars", type=int, default=None, help=f"length in bars (melody, frames; default {d.bars})")
    p.add_argument("--seconds", type=float, default=None,
                   help="length in seconds (performance; melody and frames round up to bars at --tempo)")
    p.add_argument("--temperature", type=float, default=d.temperature,
                   help=f"randomness, > 0 (default {d.temperature})")
    p.add_argument("--top-k", type=int, default=d.top_k,
                   help=f"sample among the K likeliest tokens (0 = off; default {d.top_k})")
    p.add_argument("--top-p", type=float, default=d.top_p,
                   help=f"nucleus sampling mass in (0, 1] (1 = off; default {d.top_p:g})")
    p.add_argument("--seed", type=int, default=None, help="same seed, same device -> same files")
    p.add_argument("--primer", default=None, help="a .mid file, or notes such as 'C4:1 D4:0.5 E4:0.5'")
    p.add_argument("--drop-primer", action="store_true", help="write only the continuation, not the primer")
    p.add_argument("--key", default=None, help="tonic of the key constraint, e.g. D, F#, Bb")
    p.add_argument("--scale", default=None, help="major, minor, dorian, mixolydian, major_pentatonic, blues, ...")
    p.add_argument("--pitch-range", type=_pitch_range, default=None, help="lowest-highest pitch, e.g. C4-C6")
    p.add_argument("--time-signature", type=_time_signature, default=None,
                   help="meter, e.g. 6/8, 7/8, 3/2 (melody default: the model's choice; frames: the bars, default 4/4)")
    p.add_argument("--tempo", type=float, default=d.tempo,
                   help=f"beats per minute written to the file (default {d.tempo:g})")
    p.add_argument("--program", type=int, default=d.program,
                   help=f"General MIDI program 0..127 (default {d.program}, piano)")
    p.add_argument("--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--batch", type=_positive_int, default=64,
                   help="pieces sampled at once (default 64): one that ends hands its place to the next; "
                   "the pieces of a seed are the same at any batch size")
    p.add_argument("--out", type=Path, default=Path("songs"), help="output folder (default ./songs)")
    p.add_argument("--prefix", default=None, help="file name prefix (default: the representation)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_audio_arguments(p)
    p.add_argument("--max-copy", type=int, default=None, metavar="K",
                   help="resample pieces that copy more than K consecutive notes of the model's training data "
                        "(the copy index stored in the model file, else its training folder; "
                        "see composer.analysis.copymeter)")
    p.add_argument("--copy-folder", type=Path, default=None, metavar="DIR",
                   help="with --max-copy: compare with the MIDI files in DIR instead")
    p.add_argument("--form", default=d.form,
                   help="melody form: auto (default: ABAC of --bars/4-bar phrases, with second endings when a phrase "
                        "has >= 2 bars, when --bars is a multiple of 4, else free), free, AABB, AABA, ABAB, ABAC or "
                        "other phrase letters; a repeated letter brings "
                        "its phrase back, phrases end on cadences; --bars defaults to a named form's length")
    p.add_argument("--phrase-bars", type=int, default=None, metavar="N",
                   help="bars per phrase of a named --form (default: --bars / phrases, else 4)")
    p.add_argument("--accompany", type=Path, default=None, metavar="MODEL",
                   help="harmonise each piece with this accompaniment model ('default': the shipped Bach chorale "
                        "harmoniser; or train FOLDER --objective accompany): "
                        "its chords and voices are written as tracks under the melody")
    p.add_argument("--vary", action="store_true",
                   help="with a named --form: resample the last bar(s) of each repeated phrase (a second ending)")
    _add_part_arguments(p)
    p.set_defaults(func=run_generate)


def _add_part_arguments(p) -> None:
    """generate's options for what goes with the melody: chords under it, drums."""
    d = DEFAULTS
    p.add_argument("--drums", type=Path, default=None, metavar="MODEL",
                   help="add a drum track under each piece, written by this drums model (train --representation drums)")
    p.add_argument("--chords", default=None, metavar="PROGRESSION",
                   help="a melody over chords, e.g. 'Am F C G' (a bar each) or 'Am F | C G' (| between bars); "
                        "it repeats; --bars defaults to whole passes of it, at least "
                        f"{d.bars} bars; --time-signature to 4/4")
    p.add_argument("--chords-track", choices=("on", "off"), default="on",
                   help="with --chords: write them as a 'Chords' piano track under the melody (default on)")


def _add_audio_arguments(p) -> None:
    """`--audio [wav|flac|ogg]` and `--soundfont PATH`: also write each piece as audio (composer.sound.audio)."""
    p.add_argument("--audio", nargs="?", const="wav", default=None, choices=AUDIO_FORMATS,
                   help="also render each piece to audio next to its .mid (default format: wav)")
    p.add_argument("--soundfont", type=Path, default=None,
                   help="General MIDI .sf2 for --audio (default: the bundled TimGM6mb.sf2)")


def _write_audio_files(songs, midi_paths, args) -> None:
    """Render each song to an audio file beside its .mid; paths were checked before generating."""
    from composer.cli.progress import terminal_progress
    from composer.sound.audio import write_audio
    from composer.tasks import Progress
    with terminal_progress("rendering audio", disable=args.quiet) as progress:
        for done, (song, path) in enumerate(zip(songs, midi_paths), start=1):
            if any(track.notes for track in song.tracks):
                write_audio(song, path.with_suffix("." + args.audio), soundfont=args.soundfont, force=args.force)
            else:
                _err(f"no audio for {path.name}: the piece has no notes")
            progress(Progress(done, len(songs), "file", "rendering audio"))


def resolve_model_path(path: Path | None) -> Path:
    if path is not None:
        return path
    if not DEFAULT_MELODY_MODEL.exists():
        raise CliError(f"no default model at {DEFAULT_MELODY_MODEL}; pass --model PATH or train one "
                       "with 'python -m composer train FOLDER --out my.model'")
    return DEFAULT_MELODY_MODEL


def generate_request(args):
    """The GenerateRequest the options of `generate` describe (not yet validated)."""
    from composer.services.generate import GenerateRequest
    low, high = args.pitch_range or (DEFAULTS.pitch_low, DEFAULTS.pitch_high)
    return GenerateRequest(
        count=args.count, bars=args.bars, seconds=args.seconds, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, seed=args.seed, primer=args.primer, keep_primer=not args.drop_primer, key=args.key,
        scale=args.scale, pitch_low=low, pitch_high=high, tempo=args.tempo, program=args.program,
        time_signature=args.time_signature, batch_size=args.batch, max_copy=args.max_copy,
        copy_folder=None if args.copy_folder is None else str(args.copy_folder),
        form=args.form, phrase_bars=args.phrase_bars, vary=args.vary, chords=args.chords,
        chords_track=args.chords_track == "on")


def _check_audio(args, paths) -> None:
    """Fail before generating when --audio cannot be written."""
    from composer.services.generate import check_writable
    from composer.sound.audio import AudioUnavailable, audio_status, prepare_synth
    audio_ok, audio_reason = audio_status(args.soundfont)
    if not audio_ok:
        raise AudioUnavailable(f"--audio: {audio_reason}")
    prepare_synth(args.soundfont)        # a file that is not a SoundFont fails here, before any file is written
    check_writable([p.with_suffix("." + args.audio) for p in paths], force=args.force, option="--out or --prefix")


def run_generate(args) -> int:
    from composer.cli.harmonize import accompany_songs, load_accompaniment
    from composer.cli.progress import terminal_progress
    from composer.model.device import choose_device
    from composer.model.modelfile import load_model
    from composer.safe_write import check_folder_target
    from composer.services.copylimit import copy_index_for, generate_checked
    from composer.services.generate import check_writable, load_primer, output_paths, prepare, write_songs
    from composer.services.primer import damage_warning

    check_folder_target(args.out, "--out")       # before the model is loaded
    request = generate_request(args)
    request.validate()
    device, reason = choose_device(args.device)
    model_path = resolve_model_path(args.model)
    loaded = load_model(model_path, device)
    accompaniment = load_accompaniment(args, device)     # checked before any piece is generated
    drums = _drums_model(args.drums, device)
    if request.primer is not None:
        request.primer = load_primer(request.primer)
        if request.primer.damage:
            _err(f"warning: {damage_warning(args.primer, request.primer)}")
    plan = prepare(loaded, request)
    paths = output_paths(args.out, args.count, prefix=args.prefix or loaded.tokenizer.kind, seed=plan.seed)
    check_writable(paths, force=args.force, option="--out or --prefix")
    if args.audio:
        _check_audio(args, paths)
    index = copy_index_for(loaded, request)     # before generating: fails fast when there is nothing to compare with
    _err(f"model: {model_path} ({loaded.summary()})")
    _err(f"device: {reason}")
    with terminal_progress("generating", disable=args.quiet) as progress:
        generation = generate_checked(loaded, request, index, plan=plan, progress=progress)
    _report_generation(generation, args)
    songs = generation.result.songs
    if accompaniment is not None:
        songs = accompany_songs(accompaniment, songs, args, generation.result.seed)
    if drums is not None:
        from composer.services.drums import DrumsRequest, drums_under_each
        with terminal_progress("adding drums", disable=args.quiet) as progress:
            songs = drums_under_each(drums, songs, DrumsRequest(
                temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=generation.result.seed),
                progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    write_songs(songs, paths, force=args.force)
    if args.audio:
        _write_audio_files(songs, paths, args)
    _err(f"wrote {len(paths)} file(s) to {args.out}/ (seed {generation.result.seed})")
    return 0


def _drums_model(path: Path | None, device):
    """The --drums model, loaded and checked before anything is generated (None without --drums)."""
    if path is None:
        return None
    from composer.model.modelfile import load_model
    from composer.services.drums import require_drums_model
    drums = load_model(path, device)
    require_drums_model(drums)
    return drums


def _report_generation(generation, args) -> None:
    """The copy limit's outcome per piece, and the pieces without notes."""
    for check in generation.checks or []:
        _err(f"piece {check.piece + 1}: "
             + (f"longest copy {check.length} notes (from {check.source})" if check.source else
                f"no run of {generation.index.anchor}+ notes copied") + f", {check.attempts} sample(s)"
             + ("" if check.ok else f", still above --max-copy {args.max_copy}"))
    for i, song in enumerate(generation.result.songs):
        if not song.notes:
            _err(f"piece {i + 1} has no notes: the model wrote only rests under these constraints"
                 + (f" (pitch range {args.pitch_range[0]}-{args.pitch_range[1]})" if args.pitch_range else ""))


def add_copy_index_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("copy-index",
                       help="store (or remove) the copy meter's index of the training data in a model file",
                       description="Store the notes (pitch and rhythm) of FOLDER's MIDI files in MODEL, so that "
                                   "the copy meter (the app, generate --max-copy, eval) works without the folder. "
                                   "The trainer does this itself; this is for older model files, or to remove it.")
    p.add_argument("model", type=Path)
    p.add_argument("folder", type=Path, nargs="?", default=None,
                   help="the MIDI files the model was trained on (default: the folder the model file names)")
    p.add_argument("--remove", action="store_true", help="remove the stored index instead")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes that read MIDI files")
    p.set_defaults(func=run_copy_index)
    return p


def run_copy_index(args) -> int:
    from composer.analysis.copymeter import index_for_model, training_folder
    from composer.model.modelfile import load_model, store_copy_index
    from composer.safe_write import check_target

    check_target(args.model, "MODEL")           # it is rewritten in place
    loaded = load_model(args.model, "cpu")
    if args.remove:
        if args.folder is not None:
            raise CliError("--remove takes no FOLDER")
        if not loaded.copy_arrays:
            _err(f"{args.model} holds no copy index: nothing to remove")
            return 0
        store_copy_index(args.model, None)
        _err(f"removed the copy index from {args.model}")
        return 0
    folder = args.folder or training_folder(loaded)
    if folder is None:
        raise CliError(f"{args.model} does not say which folder it was trained on; pass FOLDER")
    if not Path(folder).is_dir():
        raise CliError(f"folder {folder} is not on this machine" + ("" if args.folder else
                       " (the model file's training folder); pass FOLDER"))
    index = index_for_model(loaded, folder=str(folder), workers=args.workers)
    store_copy_index(args.model, index)
    _err(f"stored the notes of {len(index.names)} file(s) ({index.n_notes:,} notes) of {folder} in {args.model}")
    return 0


def add_info_parser(sub) -> None:
    p = sub.add_parser("info", help="print a model file's metadata")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true", help="print the whole metadata as JSON")
    p.set_defaults(func=run_info)


def run_info(args) -> int:
    from composer.services.describe import describe_model
    description = describe_model(args.path)
    if args.json:
        print(json.dumps(description.meta, indent=2))
        return 0
    print(shown("\n".join(description.info_lines())))
    return 0


def _err(text: str) -> None:
    print(shown(text), file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="composer", description="Train and sample LSTM/GRU music models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate_parser(sub)
    add_info_parser(sub)
    # MODEL [FOLDER]: FOLDER may come after options, which argparse alone refuses for an optional positional
    parser.intermixed = {"copy-index": add_copy_index_parser(sub)}
    for plugin in entry_points(group=COMMAND_PLUGINS):
        try:
            adder = plugin.load()
        except Exception as exc:
            raise CliError(f"command plugin {plugin.name!r} ({plugin.value}) failed to load: "
                           f"{type(exc).__name__}: {exc}; reinstall the package (pip install -e .)") from exc
        adder(sub)
    add_eval_parser(sub)
    add_form_parser(sub)
    add_harmony_parser(sub)
    add_infill_parser(sub)
    add_harmonize_parser(sub)
    add_drums_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in parser.intermixed:
        args = parser.intermixed[argv[0]].parse_intermixed_args(argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except (ComposerError, ValueError, OSError) as exc:
        _err(f"error: {' '.join(str(exc).split())}")
        return EXIT_USAGE
