"""`python -m composer harmony FOLDER`: the harmony and voice leading of a folder."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from composer.cli.evaluate import check_outputs
from composer.cli.progress import terminal_progress
from composer.music.midifile import write_atomic
from composer.paths import shown
from composer.representations.accompany.grid import VOICE_NAMES
from composer.services.harmony import HarmonyConfig, folder_harmony


def add_harmony_parser(sub) -> None:
    p = sub.add_parser("harmony", help="measure the chords and voice leading of a folder of multi-track MIDI files",
                       description="Chord tones on strong beats, parallel fifths/octaves and voice crossings per "
                                   "bar, the chords used, and two chord predictors' held-out bits per chord label "
                                   "(docs/evaluation.md). No model needed.")
    p.add_argument("folder", type=Path, help="folder of MIDI files with a melody and accompaniment")
    p.add_argument("--test", type=Path, default=None, metavar="FOLDER",
                   help="score the baselines on this folder's files (fitted on all of FOLDER); "
                        "default: fitted on 90%% of FOLDER, scored on the other 10%%")
    p.add_argument("--voices", nargs="+", default=["bass"], choices=VOICE_NAMES, metavar="VOICE",
                   help=f"voice rows under the melody, top to bottom, of: {', '.join(VOICE_NAMES)} "
                        "(default: bass; four-part chorales: alto tenor bass)")
    p.add_argument("--steps-per-beat", type=int, default=2, choices=(1, 2, 4),
                   help="grid steps per quarter note (default 2)")
    p.add_argument("--seed", type=int, default=0, help="which files are held out (default 0)")
    p.add_argument("--json", type=Path, default=None, help="write all results as JSON")
    p.add_argument("--workers", type=int, default=None, help="ingestion processes (default: one per core)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_harmony)


def run_harmony(args) -> int:
    check_outputs({"--json": args.json}, force=args.force)      # before any work
    config = HarmonyConfig(folder=str(args.folder), test_folder=None if args.test is None else str(args.test),
                           voices=tuple(args.voices), steps_per_beat=args.steps_per_beat, seed=args.seed,
                           workers=args.workers)
    config.validate()
    with terminal_progress("scanning", disable=args.quiet) as progress:
        result = folder_harmony(config, progress)
    if args.json is not None:
        text = json.dumps(result.to_dict(), indent=1, allow_nan=False) + "\n"
        write_atomic(args.json, text.encode(), force=args.force)
    print(shown("\n".join(result.table_lines())))
    if args.json is not None:
        print(f"wrote {shown(args.json)}", file=sys.stderr)
    return 0
