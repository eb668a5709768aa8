"""Ingest a user's MIDI folder: every file parsed, encoded, and accounted for.

    corpus = scan_folder("~/midi", MelodyTokenizer(), progress=..., should_stop=...)
    corpus.sequences      # {"folk/tune1.mid": [1, 6, 3, ...], ...}   (used files only)
    corpus.report         # one FileResult per file: used, or skipped with the reason

`scan_folder` finds .mid/.midi/.kar files (any case) recursively, in sorted
order, following symbolic links to files and folders (a folder reached twice,
e.g. through a link that loops back, is scanned once). Each file's bytes are
hashed; a file with the same bytes as another one (a copy, a link to it) is
skipped as its duplicate, so one piece is never trained on twice nor on both
sides of the train/validation split: the first in sorted path order is kept,
preferring a file reached without a link. A result cached for that content (and
this tokenizer config and these read limits, see ingest_cache) is reused,
anything else is parsed and encoded in worker processes (ingest_pool), which
contain parser crashes, hangs and time-outs. A damaged file is used up to
its damage (unless `limits.salvage` is off), and its result says what was
kept (`FileResult.damage`). A broken file never stops the scan: it is
reported as skipped, with a reason a musician understands:

    corrupt: <what is wrong with it>    no notes        drums only
    no drum track (the drums representation)
    too short (5 melody notes, need 8)  too long (...)  too large (...)
    unsupported time signature 5/8      parser crashed (...)
    timed out after 10 s                unreadable: Permission denied
    duplicate of folk/tune1.mid
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from composer.corpus.cache import IngestCache, default_cache_dir
from composer.corpus.pool import ParsedFile, ParseFn, default_workers, run_contained
from composer.errors import Cancelled, ComposerError, MidiReadError
from composer.music.midifast import read_midi_fast
from composer.music.midifile import DEFAULT_LIMITS, ReadLimits, write_atomic
from composer.paths import read_input
from composer.representations.base import Tokenizer, UnusableMusic
from composer.tasks import ProgressFn, ShouldStop, notify, stopping

MIDI_SUFFIXES = (".mid", ".midi", ".kar")
LOOKUP_FILES = 256           # files read, hashed and looked up in the cache together (one query) ...
LOOKUP_BYTES = 1_000_000     # ... or fewer, if their bytes reach this

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    """What became of one file of the folder."""

    path: str                 # relative to the scanned folder, with "/" separators
    status: str               # "used" | "skipped"
    reason: str = ""          # why it was skipped ("" when used)
    n_notes: int = 0          # notes encoded (used files)
    n_tokens: int = 0         # tokens of the sequence, BOS and EOS included (used files)
    source: str = ""          # which track the tokens come from, e.g. "track 1 'Flute' (program 73)"
    sha256: str = ""          # of the file's bytes ("" if it was not read: too large, unreadable)
    seconds: float = 0.0      # parse + encode time in a worker (0.0 when it came from the cache)
    damage: str = ""          # a damaged file read up to its damage: what was wrong and what was kept


@dataclass
class IngestReport:
    """Per-file outcome of a scan, in the sorted order of the files."""

    folder: str
    representation: str
    files: list[FileResult] = field(default_factory=list)
    parsed: int = 0           # files parsed in this scan (not served from the cache)
    cache_hits: int = 0       # files whose result came from the cache
    seconds: float = 0.0      # wall time of the scan

    def used(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "used"]

    def skipped(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "skipped"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IngestReport:
        fields = dict(data)
        fields["files"] = [FileResult(**f) for f in data.get("files", [])]
        return cls(**fields)

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON (atomically; replaces an older report)."""
        return write_atomic(path, json.dumps(self.to_dict(), indent=1).encode() + b"\n", force=True)

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> IngestReport:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def summary_lines(self) -> list[str]:
        """Counts, then one line per skipped file with its reason."""
        used, skipped = self.used(), self.skipped()
        lines = [(f"{len(self.files)} MIDI file(s) in {self.folder}: {len(used)} used "
                  f"({sum(f.n_notes for f in used):,} notes, {sum(f.n_tokens for f in used):,} {self.representation} "
                  f"tokens), {len(skipped)} skipped")]
        if skipped:
            kinds = Counter(reason_kind(f.reason) for f in skipped)
            lines.append("skipped: " + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()))
            lines += [f"  {f.path}: {f.reason}" for f in skipped]
        damaged = [f for f in used if f.damage]
        if damaged:
            lines.append(f"{len(damaged)} damaged file(s) used up to the damage:")
            lines += [f"  {f.path}: {f.damage}" for f in damaged]
        lines.append(f"parsed {self.parsed}, from cache {self.cache_hits}, in {self.seconds:.1f} s")
        return lines


@dataclass
class Corpus:
    report: IngestReport
    sequences: dict[str, list[int]] = field(default_factory=dict)   # relative path -> tokens (used files)


KNOWN_KINDS = ("corrupt", "too large", "too long", "too short", "no notes", "no drum track", "drums only",
               "unsupported time signature",
               "unsupported", "parser crashed", "timed out", "unreadable", "internal error", "duplicate")


def reason_kind(reason: str) -> str:
    """The short kind of a skip reason, for counting: "corrupt: truncated at ..." ->
    "corrupt", "too short (3 melody notes, need 8)" -> "too short"; other
    reasons lose their numbers: "melody pitch 127 is outside the range 36..96"
    -> "melody pitch is outside the range"; "duplicate of a.mid" -> "duplicate"."""
    for kind in KNOWN_KINDS:
        if reason.startswith(kind):
            return kind
    head = reason.split(":")[0].split(" (")[0]
    return " ".join(w for w in head.split() if not any(c.isdigit() for c in w)) or head.strip()


def reason_for_read_error(message: str) -> str:
    """A MidiReadError message as a skip reason: "corrupt: ...", "too large (...)", "too long (...)"."""
    message = message.removeprefix("<bytes>: ")
    if message.startswith("file too large"):
        return message[len("file "):]
    if message.startswith(("too many events", "too many tracks")):
        return f"too large: {message}"
    if message.startswith("too long"):
        return message
    if message.startswith("tick position"):
        return f"too long: {message}"
    if message.startswith("SMPTE"):
        return f"unsupported: {message}"
    if message.startswith("corrupt"):
        return message
    return f"corrupt: {message}"


def parse_and_encode(data: bytes, tokenizer: Tokenizer, limits: ReadLimits) -> ParsedFile:
    """The production parse function (runs in a worker): bytes -> tokens or a skip reason."""
    try:
        song = read_midi_fast(data, limits)
    except MidiReadError as exc:
        return ParsedFile.skipped(reason_for_read_error(str(exc)))
    try:
        encoded = tokenizer.encode(song)
    except UnusableMusic as exc:
        return ParsedFile.skipped(f"{exc} (damaged file, {song.damage})" if song.damage else str(exc))
    return ParsedFile("used", "", list(encoded.tokens), encoded.n_notes, encoded.source, song.damage)


def readable_folder(folder: str | os.PathLike) -> Path:
    """`folder` as a Path; raises ComposerError naming it when it is not a folder
    or cannot be listed (asked of the system, so it holds for root too)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ComposerError(f"{folder}: no such folder")
    try:
        with os.scandir(folder):
            pass
    except PermissionError:
        raise ComposerError(f"{folder}: cannot read this folder (permission denied); "
                            "allow reading it or choose another folder") from None
    except OSError as exc:
        raise ComposerError(f"{folder}: cannot read this folder ({exc.strerror or exc})") from None
    return folder


def no_usable_files(folder: str | os.PathLike, scanned: int) -> ComposerError:
    """The error of a folder that gave no training sequences out of `scanned` files."""
    return ComposerError(f"{folder}: no usable MIDI files" + (
        f" ({scanned} file(s) scanned, all skipped; see the reasons above)" if scanned
        else " (no .mid/.midi files found)"))


def require_midi_files(folder: str | os.PathLike) -> None:
    """Raise ComposerError unless `folder` is a readable folder with MIDI files
    (a quick check before a training run replaces anything)."""
    folder = readable_folder(folder)
    # os.walk stops at the first file found (a big folder is quick); _midi_entries also follows links
    names = (name for _, _, files in os.walk(folder) for name in files)
    if not any(name.lower().endswith(MIDI_SUFFIXES) for name in names) and not _midi_entries(folder):
        raise no_usable_files(folder, 0)


def find_midi_files(folder: str | os.PathLike) -> list[Path]:
    """MIDI files under `folder` (any depth, suffix in any case), sorted by relative path.
    Symbolic links to folders are followed; a folder already scanned (a loop, or a
    link to a folder inside `folder`) is not scanned again."""
    return [Path(folder, name) for name in _midi_names(folder)]


def _midi_names(folder: str | os.PathLike) -> list[str]:
    """Paths of the MIDI files under `folder` relative to it, "/"-separated, sorted."""
    return [name for name, _ in _midi_entries(folder)]


def _midi_entries(folder: str | os.PathLike) -> list[tuple[str, bool]]:
    """(relative path, reached without a symbolic link) of the MIDI files under
    `folder`, sorted by path. Real sub-folders are scanned before linked ones, so
    a link back into the tree finds its target already scanned (by device and
    inode) and adds nothing."""
    found: list[tuple[str, bool]] = []
    seen: set[tuple[int, int]] = set()
    real_dirs, linked_dirs = deque([("", True)]), deque()     # (path with a trailing "/", reached without a link)
    while real_dirs or linked_dirs:
        prefix, direct = real_dirs.popleft() if real_dirs else linked_dirs.popleft()
        try:
            info = os.stat(os.path.join(folder, prefix))
            with os.scandir(os.path.join(folder, prefix)) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:                 # unreadable folder: as os.walk, nothing from it
            continue
        if (info.st_dev, info.st_ino) in seen:
            log.info("%s: folder already scanned, not scanned again", os.path.join(folder, prefix))
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in entries:
            linked = entry.is_symlink()
            if entry.is_dir():
                (linked_dirs if linked else real_dirs).append((prefix + entry.name + "/", direct and not linked))
            elif entry.name.lower().endswith(MIDI_SUFFIXES):
                found.append((prefix + entry.name, direct and not linked))
    return sorted(found)


def scan_folder(folder: str | os.PathLike, tokenizer: Tokenizer, *, cache_dir: str | os.PathLike | None = None,
                workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS, timeout_s: float = 10.0,
                progress: ProgressFn | None = None, should_stop: ShouldStop | None = None,
                parse: ParseFn = parse_and_encode) -> Corpus:
    """Parse and encode every MIDI file under `folder`; see the module docstring.

    cache_dir: where results are cached (None: `default_cache_dir()`).
    workers: parser processes (None: one per available core).
    timeout_s: seconds one file may take before its worker is killed.
    progress(Progress) after each file (stage "scanning", unit "file", message: the file);
    should_stop() -> True raises `Cancelled` promptly, leaving no worker behind.
    parse: the per-file function run in the workers (tests inject failing ones).
    """
    started = time.perf_counter()
    folder = readable_folder(folder)
    scan = _Scan(folder, tokenizer, IngestCache(cache_dir if cache_dir is not None else default_cache_dir(),
                                                tokenizer, limits), limits, progress, should_stop)
    with scan.cache:
        scan.report.parsed = run_contained(scan.tasks(), scan.parsed_in_worker, parse=parse, tokenizer=tokenizer,
                                           limits=limits, workers=default_workers() if workers is None else workers,
                                           timeout_s=timeout_s, should_stop=should_stop)
    scan.report.files = [r for r in scan.results if r is not None]
    scan.report.seconds = round(time.perf_counter() - started, 3)
    return Corpus(report=scan.report, sequences={n: scan.sequences[n] for n in scan.names if n in scan.sequences})


class _Scan:
    """The state of one `scan_folder`: which files there are, in which order
    they are read, and what became of each."""

    def __init__(self, folder: Path, tokenizer: Tokenizer, cache: IngestCache, limits: ReadLimits,
                 progress: ProgressFn | None, should_stop: ShouldStop | None):
        entries = _midi_entries(folder)
        self.names = [name for name, _ in entries]
        # files reached without a link first, then the others, each in sorted order:
        # of several files with the same bytes, the first read is kept
        self.reading_order = sorted(range(len(self.names)), key=lambda i: (not entries[i][1], self.names[i]))
        self.paths = [os.path.join(folder, name) for name in self.names]
        self.cache, self.limits, self.progress, self.should_stop = cache, limits, progress, should_stop
        self.report = IngestReport(folder=str(folder), representation=tokenizer.kind)
        self.results: list[FileResult | None] = [None] * len(self.paths)
        self.sequences: dict[str, list[int]] = {}
        self.hashes = [""] * len(self.paths)
        self.first_with_hash: dict[str, int] = {}      # sha256 -> index of the file kept
        self.done = 0

    def record(self, index: int, parsed: ParsedFile, seconds: float) -> None:
        name = self.names[index]
        self.results[index] = FileResult(name, parsed.status, parsed.reason, parsed.n_notes, len(parsed.tokens),
                                         parsed.source, self.hashes[index], round(seconds, 4), parsed.damage)
        if parsed.status == "used":
            self.sequences[name] = parsed.tokens
        self.done += 1
        notify(self.progress, self.done, len(self.paths), "file", "scanning", name)

    def parsed_in_worker(self, index: int, parsed: ParsedFile, seconds: float) -> None:
        if self.hashes[index]:
            self.cache.put(self.hashes[index], parsed)
        self.record(index, parsed, seconds)

    def tasks(self):
        """Files the cache cannot answer, as (index, bytes); the others are recorded on the way."""
        for batch in self.read_in_batches():
            cached = self.cache.get_many([self.hashes[index] for index, _ in batch])
            for index, data in batch:
                found = cached.get(self.hashes[index])
                if found is not None:
                    self.report.cache_hits += 1
                    self.record(index, found, 0.0)
                else:
                    yield index, data

    def read_in_batches(self):
        """Readable files as lists of (index, bytes), up to LOOKUP_FILES files or LOOKUP_BYTES
        bytes (or one bigger file) each, so that one query looks them up in the cache and only
        that many bytes wait here. Files too large or unreadable, and duplicates (same
        bytes as a file read before, see `reading_order`), are recorded on the way."""
        batch, size = [], 0
        for index in self.reading_order:
            if stopping(self.should_stop):
                raise Cancelled("scan cancelled")
            data, problem = _read(self.paths[index], self.limits)
            if problem:
                self.record(index, ParsedFile.skipped(problem), 0.0)
                continue
            self.hashes[index] = hashlib.sha256(data).hexdigest()
            kept = self.first_with_hash.setdefault(self.hashes[index], index)
            if kept != index:
                self.record(index, ParsedFile.skipped(f"duplicate of {self.names[kept]}"), 0.0)
                continue
            batch.append((index, data))
            size += len(data)
            if len(batch) >= LOOKUP_FILES or size >= LOOKUP_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch


def _read(path: str, limits: ReadLimits) -> tuple[bytes, str]:
    """(bytes, "") or (b"", reason) for a file that is too large or cannot be read."""
    try:
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            return b"", f"too large ({size:,} bytes, limit {limits.max_bytes:,})"
        return read_input(path, limits.max_bytes, MidiReadError, "MIDI file"), ""    # a FIFO must not block
    except OSError as exc:
        return b"", f"unreadable: {exc.strerror or exc}"
    except MidiReadError as exc:
        return b"", f"unreadable: {exc}"
