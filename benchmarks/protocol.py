"""The tuning protocol of `train`'s defaults: chosen on some collections,
measured on others, for several folder sizes and budgets.

    python -m benchmarks.protocol DATA [--collections bach,monteverdi] [--sizes 50,all] [--minutes 2,10] [--json PATH]

DATA holds one folder per collection, as `python -m training.corpus NAME DATA/NAME`
writes them from music21's corpus (never essenFolksong or nottingham-dataset,
which are kept for independent evaluation). For each collection, 10 % of its
files (composer.corpus.split.split_files, seed 0) are the test files of every
run; a folder of SIZE files is every k-th of the other 90 % ("all": all of
them). Each (collection, size, minutes) is one side-by-side run of
benchmarks.defaults: `train`'s defaults against the plain reference loop, one
thread each, the same wall-clock budget, scored on the collection's test files.

TUNED_ON names the collections the defaults were chosen on; a table row says
whether its collection was one of them, so a reader sees which numbers
measure generalisation.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks import defaults as bench
from benchmarks.__main__ import CLI_ERRORS, Parser, existing_dir, fail, json_path, write_json
from composer.corpus.ingest import find_midi_files
from composer.corpus.split import split_files
from composer.errors import ComposerError

TUNED_ON = ("folk", "palestrina")       # where the defaults were measured and chosen (docs/defaults.md)
HELD_OUT = ("bach", "monteverdi", "trecento")


def subset(names: list[str], size: int | None) -> list[str]:
    """Every k-th name, `size` of them (all for None or a size beyond the list)."""
    if size is None or size >= len(names):
        return list(names)
    step = len(names) / size
    return [names[int(i * step)] for i in range(size)]


def link_folder(root: Path, names: list[str], into: Path) -> Path:
    for name in names:
        link = into / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to((root / name).resolve())
    return into


def run_collection(folder: Path, sizes: list[int | None], minutes: list[float], *, stream=sys.stderr,
                   done=lambda row: None) -> list[dict]:
    """Every (size, budget) of one collection; the same test files for all.
    `done(row)` is called after each run (a long protocol keeps what it measured)."""
    names = [p.relative_to(folder).as_posix() for p in find_midi_files(folder)]
    train, test = split_files(names, 0.1, 0)
    if not test or len(train) < 2:
        raise ComposerError(f"{folder}: {len(names)} MIDI file(s), too few for a test share and training")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-protocol-") as tmp_name:
        tmp = Path(tmp_name)
        test_dir = link_folder(folder, test, tmp / "test")
        for size in sizes:
            chosen = subset(train, size)
            train_dir = link_folder(folder, chosen, tmp / f"train-{len(chosen)}")
            for budget in minutes:
                print(f"{folder.name}: {len(chosen)} files, {budget:g} min", file=stream, flush=True)
                result = bench.run(train_dir, test_dir, budget * 60.0, stream=stream)
                rows.append(dict(result, collection=folder.name, size=len(chosen), minutes=budget,
                                 tuned_on=folder.name in TUNED_ON))
                done(rows[-1])
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| collection | files | minutes | `train` defaults | reference | difference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        tuned = " (tuned on)" if r["tuned_on"] else ""
        lines.append(f"| {r['collection']}{tuned} | {r['train_files']} | {r['minutes']:g} | "
                     f"{r['defaults_bits_per_note']:.3f} ({r['defaults']['steps']} steps) | "
                     f"{r['reference_bits_per_note']:.3f} ({r['reference']['steps']} steps) | "
                     f"{r['difference']:+.2f} |")
    return "\n".join(lines)


def _sizes(text: str) -> list[int | None]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            out.append(None)
        elif part.isdigit() and int(part) >= 2:
            out.append(int(part))
        else:
            raise ValueError(f"sizes must be a comma list of file counts >= 2 or 'all', got {part!r}")
    return out


def _minutes(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(0 < v < 24 * 60 for v in values):
        raise ValueError(f"minutes must be a comma list of positive numbers, e.g. 2,10; got {text!r}")
    return values


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.protocol", description=__doc__.split("\n")[0])
    parser.add_argument("data", type=existing_dir, help="one folder per collection (python -m training.corpus)")
    parser.add_argument("--collections", default=",".join(HELD_OUT), help="comma list of DATA's folders")
    parser.add_argument("--sizes", default="all", help="files per training folder: comma list, 'all' = every one")
    parser.add_argument("--minutes", default="10", help="budgets, comma list (default 10)")
    parser.add_argument("--json", type=json_path, default=None, help="write every run's measurements")
    args = parser.parse_args(argv)
    try:
        sizes, minutes = _sizes(args.sizes), _minutes(args.minutes)
        rows = []
        command = " ".join(["python -m benchmarks.protocol", *(argv or sys.argv[1:])])

        def done(row: dict) -> None:
            rows.append(row)
            print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)
            if args.json:
                write_json({"command": command, "runs": rows}, args.json)

        for name in [c.strip() for c in args.collections.split(",") if c.strip()]:
            folder = args.data / name
            if not folder.is_dir():
                raise ComposerError(f"no folder {folder}: convert it with python -m training.corpus {name} {folder}")
            run_collection(folder, sizes, minutes, done=done)
    except CLI_ERRORS as exc:
        return fail(exc)
    print(table(rows))
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
