"""Measure ingestion speed against a single-process pretty_midi loop (issue 6).

    nice .venv/bin/python -m benchmarks.ingestion [--files 1000] [--workers 2] [--rounds 3]

Writes FILES small generated MIDI files (half one-track melodies of 64 notes,
half 8-bar band pieces: melody, block chords, drums; about 1.3 KB each) to a
temporary folder and times, over the same files:
  pretty_midi       pretty_midi.PrettyMIDI(path) for each file, one process
  read_midi         composer.music.midifile.read_midi (mido), one process
  read_midi_fast    composer.music.midifast.read_midi_fast, one process
  scan cold         composer.corpus.ingest.scan_folder with an empty cache (parse + encode + hash + cache write)
  scan warm         the same scan again (everything from the cache)
Each is run ROUNDS times, alternating, and the best time is kept. Wall time
and CPU time (this process plus its worker processes) are both reported: on
a shared, loaded machine wall times say more about the neighbours than about
the code, and CPU time / workers estimates the wall time on idle cores.
"""
from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.midi_factory import HOSTILE, band, melody, smf, track_chunk, varlen, write_song


def make_files(folder: Path, count: int) -> list[Path]:
    return [write_song(band(8, seed=i) if i % 2 else melody(64, seed=i), folder / f"{i // 100:02d}" / f"f{i:04d}.mid")
            for i in range(count)]


def main(argv=None) -> int:
    from benchmarks.__main__ import Parser, fail, positive_int
    parser = Parser(prog="python -m benchmarks.ingestion", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=positive_int, default=1000, help="generated files (default 1000)")
    parser.add_argument("--workers", type=positive_int, default=None, help="scan workers (default: the scan's choice)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="rounds, best kept (default 3)")
    parser.add_argument("--memory", action="store_true",
                        help="instead: peak RSS of scanning the largest files the default caps let through")
    args = parser.parse_args(argv)
    if args.memory:
        worst_case_memory(args.workers)
        return 0

    try:
        result = measure(args.files, args.workers, args.rounds)
    except (ValueError, OSError) as exc:
        return fail(exc)
    wall, cpu, n = result["wall_s"], result["cpu_s"], result["files"]
    print(f"{n} files, {result['bytes_per_file']:.0f} bytes on average")
    print(f"load average {result['load_average']:.1f} on {os.cpu_count()} cores (wall times suffer when it is high)")
    for label in wall:
        print(f"{label:15s} wall {wall[label]:7.3f} s ({wall['pretty_midi'] / wall[label]:5.1f}x)   "
              f"CPU {cpu[label]:7.3f} s = {cpu[label] / n * 1000:5.2f} ms/file "
              f"({cpu['pretty_midi'] / cpu[label]:5.1f}x)")
    print(f"scan cold CPU: scan process {result['cold_cpu_scan_process_s'] / n * 1000:.2f} ms/file, "
          f"workers {result['cold_cpu_workers_s'] / n * 1000:.2f} ms/file")
    print(f"scan cold on {result['workers']} idle cores (CPU / workers): about {result['cold_idle_estimate_s']:.2f} s, "
          f"{result['cold_speedup_idle_estimate']:.1f}x the pretty_midi loop")
    return 0


class _BestTimes:
    """`timed(label, fn)` runs `fn` and keeps, per label, the best wall time and
    the best CPU time (this process + its finished children), in seconds."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.cpu_split: dict[str, tuple[float, float]] = {}    # (this process, workers) of the best CPU time

    def __call__(self, label: str, fn):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = time.process_time() - start_cpu
        workers_cpu = after.ru_utime - children.ru_utime + after.ru_stime - children.ru_stime
        self.wall[label] = min(self.wall.get(label, float("inf")), time.perf_counter() - start)
        if own + workers_cpu < self.cpu.get(label, float("inf")):
            self.cpu[label], self.cpu_split[label] = own + workers_cpu, (own, workers_cpu)
        return out


def measure(files: int = 1000, workers: int | None = None, rounds: int = 3) -> dict:
    """Best-of-`rounds` wall and CPU seconds of each way of reading `files`
    generated files (see the module docstring), and the derived speed-ups.
    `files`, `rounds` and `workers` (None: the scan's default) must be >= 1."""
    if files < 1 or rounds < 1 or (workers is not None and workers < 1):
        raise ValueError(f"files, rounds and workers must be >= 1, got {files}, {rounds} and {workers}")
    import pretty_midi

    from composer.corpus.ingest import scan_folder
    from composer.corpus.pool import default_workers
    from composer.music.midifast import read_midi_fast
    from composer.music.midifile import read_midi
    from composer.representations.melody import MelodyTokenizer

    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        paths = make_files(tmp / "music", files)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        tokenizer = MelodyTokenizer()
        workers = workers or default_workers()
        timed = _BestTimes()
        wall, cpu, cpu_split = timed.wall, timed.cpu, timed.cpu_split
        notes = [0]
        for round_ in range(rounds):
            cache = tmp / f"cache{round_}"
            midis = timed("pretty_midi", lambda: [pretty_midi.PrettyMIDI(str(p)) for p in paths])
            notes[0] = sum(len(i.notes) for m in midis for i in m.instruments)
            del midis
            timed("read_midi", lambda: [read_midi(p) for p in paths])
            timed("read_midi_fast", lambda: [read_midi_fast(p.read_bytes()) for p in paths])
            timed("scan cold", lambda c=cache: scan_folder(tmp / "music", tokenizer, cache_dir=c, workers=workers))
            timed("scan warm", lambda c=cache: scan_folder(tmp / "music", tokenizer, cache_dir=c, workers=workers))
        parallel = cpu["scan cold"] / workers
        return {
            "files": len(paths), "bytes_per_file": size, "notes": notes[0], "workers": workers, "rounds": rounds,
            "load_average": os.getloadavg()[0], "wall_s": wall, "cpu_s": cpu,
            "cold_cpu_scan_process_s": cpu_split["scan cold"][0], "cold_cpu_workers_s": cpu_split["scan cold"][1],
            "cold_files_per_s": len(paths) / wall["scan cold"], "cold_notes_per_s": notes[0] / wall["scan cold"],
            "pretty_midi_files_per_s": len(paths) / wall["pretty_midi"],
            "cold_speedup_wall": wall["pretty_midi"] / wall["scan cold"],
            "cold_idle_estimate_s": parallel, "cold_speedup_idle_estimate": cpu["pretty_midi"] / parallel,
            "warm_s": wall["scan warm"],
            "targets": {"cold_speedup": ">= 5", "warm_s": "< 1 (for 1,000 files)"},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


WORST_CASE_SCRIPT = """
import json, resource, sys
from composer.representations.performance import PerformanceTokenizer
from composer.corpus.ingest import scan_folder
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = int(sys.argv[3]) if sys.argv[3] != "None" else None
report = scan_folder(sys.argv[1], PerformanceTokenizer(), cache_dir=sys.argv[2], workers=workers,
                     timeout_s=300).report
print(json.dumps({"files": [(f.path, f.status, f.reason, f.seconds) for f in report.files], "before_kb": before,
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "worker_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def worst_case_memory(workers) -> None:
    """Scan (performance representation: every note becomes tokens) files at the
    default caps: 499,990 events (249,995 notes) in 1.5 MB, a 3.8 MB file of
    40,000 notes and sysex padding, and a 1,000,000-event file (refused)."""
    import json
    import subprocess
    tmp = Path(tempfile.mkdtemp(prefix="ingest-mem-"))
    try:
        folder = tmp / "music"
        folder.mkdir()
        n = 249_995
        (folder / "near_event_cap.mid").write_bytes(
            smf(track_chunk(b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * (n - 1) + b"\x01\x3c\x00")))
        sysex = (b"\x00\xf0" + varlen(900_000) + b"\x01" * 899_999 + b"\xf7") * 4   # mido allows <= 1 MB each
        (folder / "near_size_cap.mid").write_bytes(smf(track_chunk(sysex + b"\x00\x90\x3c\x40\x01\x3c\x00" * 40_000)))
        (folder / "million_events.mid").write_bytes(HOSTILE["million_events"].build())
        out = subprocess.run([sys.executable, "-c", WORST_CASE_SCRIPT, str(folder), str(tmp / "cache"), str(workers)],
                             capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
        result = json.loads(out.stdout)
        for path, status, reason, seconds in result["files"]:
            size = (folder / path).stat().st_size
            print(f"{path:22s} {size:>9,} bytes  {status:7s} {reason or '':40s} {seconds:6.2f} s")
        print(f"peak RSS: scan process {result['self_kb'] / 1024:.0f} MB "
              f"(after imports {result['before_kb'] / 1024:.0f} MB),"
              f" largest worker {result['worker_kb'] / 1024:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
