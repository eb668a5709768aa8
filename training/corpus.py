"""Convert the public-domain music bundled with music21 into MIDI folders for
training the default models.

    python -m training.corpus folk OUT_DIR   # O'Neill's 1850, Ryan's Mammoth, Aird's Airs, misc. folk (ABC)
    python -m training.corpus bach OUT_DIR   # the Bach chorales (MusicXML), four voices

One .mid per tune, with a deterministic file name derived from where the tune
comes from (collection, file, position in the file), so re-running gives the
same folder. ABC books holding many tunes are split at their `X:` lines and
each tune is parsed on its own, in parallel. A tune music21 cannot parse or
convert is skipped and listed with the reason; it never stops the run.

Bar lines: the melody representation counts bars from beat 0 of the file, so
each tune is laid out measure by measure (`layout_measures`): a pickup
(anacrusis) is right-aligned so it ends on a bar line (the first bar starts
with a rest), split bars at section ends are joined, and every complete
measure starts on a bar line. Repeats are expanded (music21 `expandRepeats`,
which also plays first/second endings in order); a tune whose repeats music21
cannot expand is written unexpanded and counted. Tied notes are merged, grace
notes and chord symbols are dropped. Time signature and tempo are written
(tempo: the tune's `Q:`/metronome mark, else `DEFAULT_TEMPO`).

The folders `essenFolksong` and `nottingham-dataset` of the music21 corpus are
reserved for independent evaluation by others: the project never reads them,
and any path inside them (or a folder of that name anywhere) is refused.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from composer.errors import Cancelled, ComposerError, MidiReadError
from composer.music.midifile import read_midi, song_to_bytes, write_atomic
from composer.safe_write import check_target
from composer.tasks import ProgressFn, notify, relabel
from training.corpus_score import DEFAULT_TEMPO, layout_measures, parse_score, score_to_song  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

RESERVED_FOLDERS = ("essenFolksong", "nottingham-dataset")   # held out for independent evaluation
COLLECTIONS = {
    "folk": ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk"),
    "bach": ("bach",),
}
PROGRAMS = {"folk": 40, "bach": 52}     # General MIDI: violin (fiddle tunes), choir aahs (chorales)
SUFFIXES = (".abc", ".mxl", ".xml", ".musicxml", ".krn")
_EPS = 1e-6

# progress(Progress): stage "converting", unit "tune", message: the tune's source
ProgressHook = ProgressFn


class ReservedCorpusError(ComposerError):
    """A path inside a corpus folder held out for evaluation was asked for."""


@dataclass(frozen=True)
class TuneSource:
    """One tune to convert: where it comes from and the file it becomes."""

    source: str              # e.g. "oneills1850/0001-0050.abc#3" (#k = k-th tune in the file)
    path: str                # the file on disk
    out_name: str            # e.g. "oneills1850_0001-0050_0003_the-little-heathy-hill.mid"
    text: str | None = None  # ABC: the file header plus this one tune; None: parse `path`
    program: int = 0


@dataclass
class ConversionResult:
    """What `convert_corpus` did. `skipped` holds (source, reason) pairs."""

    name: str
    out_dir: str
    written: list[str] = field(default_factory=list)        # file names converted in this run
    reused: list[str] = field(default_factory=list)         # already present, kept (no `force`)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_expanded: list[tuple[str, str]] = field(default_factory=list)   # repeats left as written
    meters: dict[str, int] = field(default_factory=dict)   # opening time signature -> files
    renotated: dict[str, int] = field(default_factory=dict)   # "3/2 -> 3/4" -> tunes (see corpus_score.renotate)
    pickups: int = 0            # tunes that start with an anacrusis (shifted to end on a bar line)
    realigned_bars: int = 0     # measures moved to the next bar line because the bars before did not add up
    seconds: float = 0.0        # wall-clock time of the run

    @property
    def files(self) -> list[str]:
        return sorted(self.written + self.reused)

    def to_dict(self) -> dict:
        return {"name": self.name, "out_dir": self.out_dir, "written": sorted(self.written),
                "reused": sorted(self.reused), "skipped": [list(s) for s in self.skipped],
                "not_expanded": [list(s) for s in self.not_expanded], "meters": dict(self.meters),
                "renotated": dict(self.renotated), "pickups": self.pickups, "realigned_bars": self.realigned_bars,
                "seconds": self.seconds}

    def save_json(self, path: str | Path) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=1).encode(), force=True)

    def summary_lines(self) -> list[str]:
        meters = ", ".join(f"{m}: {n}" for m, n in sorted(self.meters.items(), key=lambda kv: -kv[1]))
        lines = [f"{self.name}: {len(self.files)} MIDI files in {self.out_dir} "
                 f"({len(self.written)} converted, {len(self.reused)} already there), "
                 f"{len(self.skipped)} skipped, {self.seconds:.0f} s",
                 f"meters: {meters or '-'}",
                 f"pickups shifted: {self.pickups}; bars realigned: {self.realigned_bars}; "
                 f"repeats not expanded: {len(self.not_expanded)}",
                 "meters renotated: " + (", ".join(f"{k}: {v}" for k, v in sorted(self.renotated.items())) or "-")]
        lines += [f"skipped {source}: {reason}" for source, reason in self.skipped]
        return lines


# ---- which files -----------------------------------------------------------
def music21_corpus_dir() -> Path:
    """The folder of music21's bundled corpus."""
    import music21
    return Path(music21.__file__).resolve().parent / "corpus"


def refuse_reserved(path: str | Path) -> None:
    """Raise ReservedCorpusError if `path` lies in a folder held out for evaluation."""
    parts = {p.lower() for p in Path(path).resolve().parts} | {p.lower() for p in Path(path).parts}
    for folder in RESERVED_FOLDERS:
        if folder.lower() in parts:
            raise ReservedCorpusError(f"{path}: the music21 folder {folder!r} is reserved for independent "
                                      "evaluation and must not be used for training")


def corpus_files(name: str) -> list[Path]:
    """The score files of a named collection ("folk", "bach") or of one folder
    of the music21 corpus (e.g. "airdsAirs"), sorted."""
    refuse_reserved(name)
    root = music21_corpus_dir()
    folders = COLLECTIONS.get(name, (name,))
    files: list[Path] = []
    for folder in folders:
        refuse_reserved(folder)
        directory = root / folder
        if not directory.is_dir():
            known = ", ".join(sorted(COLLECTIONS))
            raise ComposerError(f"unknown corpus {name!r}: no folder {directory} (known names: {known}, or a "
                                "folder of the music21 corpus)")
        files += _one_format_per_piece(p for p in directory.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    for path in files:
        refuse_reserved(path)
    return files


def _one_format_per_piece(paths: Iterable[Path]) -> list[Path]:
    """Sorted paths, keeping one file per piece when a piece comes in several
    formats (music21's bach folder has bwv277 as .krn and .mxl): the first
    suffix in SUFFIXES order wins."""
    best: dict[Path, Path] = {}
    for path in paths:
        key = path.with_suffix("")
        if key not in best or SUFFIXES.index(path.suffix.lower()) < SUFFIXES.index(best[key].suffix.lower()):
            best[key] = path
    return sorted(best.values())


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-")


_X_LINE = re.compile(r"^X:", re.MULTILINE)
_T_LINE = re.compile(r"^T:\s*(.*)$", re.MULTILINE)


def tune_sources(paths: Iterable[str | Path], *, root: str | Path | None = None,
                 program: int = 0) -> list[TuneSource]:
    """Split each file into tunes (ABC books at their X: lines; other formats are
    one piece per file). Names are relative to `root` (default: each file's folder).
    Paths in the reserved folders are refused (ReservedCorpusError)."""
    out: list[TuneSource] = []
    for path in (Path(p) for p in paths):
        refuse_reserved(path)
        rel = path.relative_to(root) if root is not None else Path(path.name)
        stem = "_".join(rel.with_suffix("").parts)
        if path.suffix.lower() != ".abc":
            out.append(TuneSource(str(rel), str(path), f"{stem}.mid", None, program))
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        starts = [m.start() for m in _X_LINE.finditer(text)]
        if not starts:
            out.append(TuneSource(str(rel), str(path), f"{stem}.mid", text, program))
            continue
        header = text[:starts[0]]
        for k, (a, b) in enumerate(zip(starts, starts[1:] + [len(text)]), start=1):
            tune = text[a:b]
            if len(starts) == 1:
                name = f"{stem}.mid"
            else:
                title = _T_LINE.search(tune)
                slug = _slug(title.group(1)) if title else ""
                name = f"{stem}_{k:04d}" + (f"_{slug}" if slug else "") + ".mid"
            out.append(TuneSource(f"{rel}#{k}", str(path), name, header + tune, program))
    return out


# ---- one tune ----------------------------------------------------------------
@dataclass
class _Converted:
    source: TuneSource
    data: bytes | None = None
    reason: str = ""
    meter: str = ""
    pickup: bool = False
    realigned: int = 0
    expanded: str = ""          # "" or why repeats were not expanded
    renotated: str = ""         # "" or e.g. "3/2 -> 3/4"


def convert_tune(source: TuneSource, *, expand_repeats: bool = True) -> _Converted:
    """Parse and convert one tune; failures come back as a reason, never raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = parse_score(source.text, source.path)
            song, info = score_to_song(score, expand_repeats=expand_repeats, program=source.program)
        return _Converted(source, song_to_bytes(song), meter=info["meter"], pickup=info["pickup"] > _EPS,
                          realigned=info["realigned"], expanded=info["expanded"], renotated=info["renotated"])
    except Exception as exc:  # music21's parsers raise anything; the tune is reported and skipped
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return _Converted(source, reason=f"{type(exc).__name__}: {reason}" if not isinstance(exc, ComposerError)
                          else reason)


def _convert_batch(sources: list[TuneSource], expand_repeats: bool) -> list[_Converted]:
    return [convert_tune(s, expand_repeats=expand_repeats) for s in sources]


# ---- the whole corpus ----------------------------------------------------------
def convert_corpus(name: str, out_dir: str | Path, progress: ProgressHook | None = None,
                   should_stop: Callable[[], bool] | None = None, *, workers: int = 2, force: bool = False,
                   expand_repeats: bool = True, limit: int | None = None) -> ConversionResult:
    """Convert a named collection ("folk", "bach", or a music21 corpus folder)
    into one .mid per tune in `out_dir`.

    Files already in `out_dir` are kept (listed as `reused`) unless `force`.
    `limit` converts only N tunes, spread evenly over the name-sorted list so
    every book of the collection is represented. `workers` > 1 uses
    that many processes. `should_stop()` True raises Cancelled (files written
    so far stay, each complete)."""
    root = music21_corpus_dir()
    program = PROGRAMS.get(name, 0)
    sources = tune_sources(corpus_files(name), root=root, program=program)
    return convert_sources(sources, out_dir, progress, should_stop, name=name, workers=workers, force=force,
                           expand_repeats=expand_repeats, limit=limit)


def convert_sources(sources: list[TuneSource], out_dir: str | Path, progress: ProgressHook | None = None,
                    should_stop: Callable[[], bool] | None = None, *, name: str = "", workers: int = 2,
                    force: bool = False, expand_repeats: bool = True, limit: int | None = None) -> ConversionResult:
    """Convert the given tunes (see `tune_sources`); the engine of `convert_corpus`."""
    started = time.monotonic()
    for s in sources:
        refuse_reserved(s.path)
    names = [s.out_name for s in sources]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"two tunes would both be written as {twice[0]}" + (f" (and {len(twice) - 1} more)"
                                                                            if len(twice) > 1 else ""))
    sources = sorted(sources, key=lambda s: s.out_name)
    if limit is not None and limit < len(sources):      # an even spread, not just the first book
        sources = [sources[i * len(sources) // limit] for i in range(limit)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ConversionResult(name=name, out_dir=str(out))
    meters: Counter = Counter()
    todo = []
    for s in sources:
        check_target(out / s.out_name)      # before any work (a FIFO would also block the meter's read)
        if not force and (out / s.out_name).exists():
            result.reused.append(s.out_name)
            meters[_meter_of(out / s.out_name)] += 1
        else:
            todo.append(s)
    total, done = len(sources), len(result.reused)
    notify(progress, done, total, "tune", "converting")
    for converted in _run(todo, workers, expand_repeats, should_stop):
        done += 1
        source = converted.source
        notify(progress, done, total, "tune", "converting", source.source)
        if converted.data is None:
            result.skipped.append((source.source, converted.reason))
            continue
        write_atomic(out / source.out_name, converted.data, force=True)
        result.written.append(source.out_name)
        meters[converted.meter] += 1
        result.pickups += converted.pickup
        result.realigned_bars += converted.realigned
        if converted.expanded:
            result.not_expanded.append((source.source, converted.expanded))
        if converted.renotated:
            result.renotated[converted.renotated] = result.renotated.get(converted.renotated, 0) + 1
    result.skipped.sort()
    result.not_expanded.sort()
    result.meters = dict(sorted(meters.items()))
    result.seconds = round(time.monotonic() - started, 2)
    log.info("converted %s: %d written, %d reused, %d skipped", name, len(result.written), len(result.reused),
             len(result.skipped))
    return result


def _meter_of(path: Path) -> str:
    try:
        num, den = read_midi(path).time_signature
        return f"{num}/{den}"
    except MidiReadError:
        return "?"


def _run(todo: list[TuneSource], workers: int, expand_repeats: bool, should_stop):
    """Yield converted tunes, in-process (workers <= 1) or in a process pool."""
    def stop_requested() -> bool:
        return bool(should_stop and should_stop())

    if workers <= 1 or len(todo) < 8:
        for source in todo:
            if stop_requested():
                raise Cancelled("corpus conversion stopped")
            yield convert_tune(source, expand_repeats=expand_repeats)
        return
    batch = 8
    chunks = [todo[i:i + batch] for i in range(0, len(todo), batch)]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        pending = {pool.submit(_convert_batch, chunk, expand_repeats) for chunk in chunks}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if stop_requested():
                raise Cancelled("corpus conversion stopped")
            for future in sorted(finished, key=lambda f: id(f)):
                yield from future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---- command line ------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.corpus",
                                     description="Convert music21's bundled public-domain corpus to MIDI files.")
    parser.add_argument("name", help="folk, bach, or a folder of the music21 corpus (not essenFolksong/"
                                     "nottingham-dataset, which are held out for evaluation)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--force", action="store_true", help="convert again files already in OUT_DIR")
    parser.add_argument("--no-repeats", action="store_true", help="do not expand repeats")
    parser.add_argument("--limit", type=int, default=None, help="only N tunes, spread evenly over the collection")
    parser.add_argument("--report", type=Path, default=None, help="write the conversion report as JSON")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from composer.cli.progress import terminal_progress
    from composer.safe_write import check_folder_target
    try:
        check_folder_target(args.out_dir, "OUT_DIR")
        if args.report:
            check_target(args.report, "--report")
        with terminal_progress(disable=args.quiet) as bar:
            result = convert_corpus(args.name, args.out_dir, relabel(bar, f"converting {args.name}"),
                                    workers=args.workers,
                                    force=args.force, expand_repeats=not args.no_repeats, limit=args.limit)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ComposerError, OSError, ValueError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.report:
        result.save_json(args.report)
    print("\n".join(result.summary_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
