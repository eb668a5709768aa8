"""How many damaged MIDI files a scan can use (issue 21).

    nice .venv/bin/python -m benchmarks.salvage [--files 250] [--seed 0] [--strict] [--workers 2]

Writes FILES generated files (one-track melodies and 8-bar band pieces, as
benchmarks.ingestion), each damaged in one way, to a temporary folder:
  truncate    cut at a random byte
  flip        1-3 random bytes set to random values
  length      a track chunk's length rewritten (a little off, or any 32-bit value)
  no-eot      an end-of-track removed, the chunk length left as it was
  stray       one random byte inserted inside a track
  sysex       a sysex event claiming a huge length inserted
  delta       a huge delta time inserted
  duplicate   a slice of the file repeated
then scans the folder (melody representation, empty cache) and prints, per
kind, how many files were used (how many of those damaged, i.e. read up to
the damage) and skipped, the skip reasons by kind, and any reason that names
a Python exception. `--strict` scans with damaged files refused. The same
seed gives the same files, so runs of two versions of the code compare.
"""
from __future__ import annotations

import random
import re
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.midi_factory import band, melody, varlen
from composer.music.midifile import song_to_bytes

KINDS = ("truncate", "flip", "length", "no-eot", "stray", "sysex", "delta", "duplicate")
PYTHON_WORDS = re.compile(r"[A-Za-z]*Error\b|list index|wrong number of bytes")


def _tracks(data: bytes) -> list[int]:
    """Offsets of the MTrk chunk headers."""
    found, at = [], data.find(b"MTrk")
    while at >= 0:
        found.append(at)
        at = data.find(b"MTrk", at + 4)
    return found


def damage(data: bytes, kind: str, rng: random.Random) -> bytes:
    """`data` damaged in the way `kind` names (see the module docstring)."""
    data = bytearray(data)
    tracks = _tracks(bytes(data))
    track = rng.choice(tracks)
    inside = rng.randrange(min(track + 8, len(data) - 1), len(data))
    if kind == "truncate":
        return bytes(data[:rng.randrange(22, len(data))])
    if kind == "flip":
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(14, len(data))] = rng.randrange(256)
    elif kind == "length":
        old = struct.unpack(">I", data[track + 4:track + 8])[0]
        new = rng.choice([max(0, old + rng.randint(-50, 50)), rng.randrange(2**32)])
        data[track + 4:track + 8] = struct.pack(">I", new)
    elif kind == "no-eot":
        at = data.rfind(b"\xff\x2f\x00", 0, inside + 3)
        if at > 0:
            del data[at - 1:at + 3]
    elif kind == "stray":
        data[inside:inside] = bytes([rng.randrange(256)])
    elif kind == "sysex":
        data[inside:inside] = b"\x00\xf0" + varlen(rng.randrange(2**21, 2**28))
    elif kind == "delta":
        data[inside:inside] = b"\xff\xff\xff\x7f\xff\x01\x00"      # a text event after 2**28 - 1 ticks
    elif kind == "duplicate":
        start = rng.randrange(14, len(data))
        end = min(len(data), start + rng.randint(1, 200))
        data[end:end] = data[start:end]
    return bytes(data)


def make_folder(folder: Path, count: int, seed: int) -> dict[str, str]:
    """Write `count` damaged files; returns {relative path: kind}."""
    rng = random.Random(seed)
    kinds = {}
    for i in range(count):
        song = band(8, seed=i) if i % 2 else melody(64, seed=i)
        kind = KINDS[i % len(KINDS)]
        name = f"{kind}/f{i:04d}.mid"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(damage(song_to_bytes(song), kind, rng))
        kinds[name] = kind
    return kinds


def main(argv=None) -> int:
    from benchmarks.__main__ import Parser, positive_int
    from composer.corpus.ingest import reason_kind, scan_folder
    from composer.music.midifile import ReadLimits
    from composer.representations.melody import MelodyTokenizer

    parser = Parser(prog="python -m benchmarks.salvage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=positive_int, default=250, help="damaged files (default 250)")
    parser.add_argument("--seed", type=int, default=0, help="of the damage (default 0)")
    parser.add_argument("--strict", action="store_true", help="refuse damaged files (ReadLimits(salvage=False))")
    parser.add_argument("--workers", type=positive_int, default=2, help="scan workers (default 2)")
    args = parser.parse_args(argv)
    limits = ReadLimits(salvage=False) if args.strict else ReadLimits()
    with tempfile.TemporaryDirectory() as tmp:
        kinds = make_folder(Path(tmp) / "music", args.files, args.seed)
        started = time.perf_counter()
        report = scan_folder(Path(tmp) / "music", MelodyTokenizer(), cache_dir=Path(tmp) / "cache",
                             workers=args.workers, limits=limits).report
        seconds = time.perf_counter() - started
    print(f"{len(report.files)} damaged files, seed {args.seed}{', strict' if args.strict else ''}: "
          f"{len(report.used())} used ({sum(1 for f in report.used() if getattr(f, 'damage', ''))} read up to "
          f"the damage), {len(report.skipped())} skipped, in {seconds:.1f} s")
    print(f"{'kind':<10} {'files':>5} {'used':>5} {'damaged':>8} {'skipped':>8}")
    for kind in KINDS:
        files = [f for f in report.files if kinds[f.path] == kind]
        used = [f for f in files if f.status == "used"]
        print(f"{kind:<10} {len(files):>5} {len(used):>5} {sum(1 for f in used if getattr(f, 'damage', '')):>8} "
              f"{len(files) - len(used):>8}")
    reasons = Counter(reason_kind(f.reason) for f in report.skipped())
    print("skipped: " + ", ".join(f"{n} {kind}" for kind, n in reasons.most_common()))
    leaks = [f for f in report.skipped() if PYTHON_WORDS.search(f.reason)]
    print(f"reasons naming a Python exception: {len(leaks)}")
    for f in leaks[:10]:
        print(f"  {f.path}: {f.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
