"""Measure ingestion speed against a single-process pretty_midi loop (issue 6).

    nice .venv/bin/python -m training.ingest_bench [--files 1000] [--workers 2] [--rounds 3]

Writes FILES small generated MIDI files (half one-track melodies of 64 notes,
half 8-bar band pieces: melody, block chords, drums; about 1.3 KB each) to a
temporary folder and times, over the same files:
  pretty_midi       pretty_midi.PrettyMIDI(path) for each file, one process
  read_midi         composer.midi_io.read_midi (mido), one process
  read_midi_fast    training.midi_fast.read_midi_fast, one process
  scan cold         training.ingest.scan_folder with an empty cache (parse + encode + hash + cache write)
  scan warm         the same scan again (everything from the cache)
Each is run ROUNDS times, alternating, and the best time is kept. Wall time
and CPU time (this process plus its worker processes) are both reported: on
a shared, loaded machine wall times say more about the neighbours than about
the code, and CPU time / workers estimates the wall time on idle cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def make_files(folder: Path, count: int) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.midi_factory import band, melody, write_song
    return [write_song(band(8, seed=i) if i % 2 else melody(64, seed=i), folder / f"{i // 100:02d}" / f"f{i:04d}.mid")
            for i in range(count)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import pretty_midi
    from composer.melody import MelodyTokenizer
    from composer.midi_io import read_midi
    from training.ingest import scan_folder
    from training.ingest_pool import default_workers
    from training.midi_fast import read_midi_fast

    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        paths = make_files(tmp / "music", args.files)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        print(f"{len(paths)} files, {size:.0f} bytes on average")
        tokenizer = MelodyTokenizer()
        workers = args.workers or default_workers()
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}

        def timed(label, fn):
            """Best wall time and best CPU time (this process + its finished children), in seconds."""
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (time.process_time() - start_cpu + after.ru_utime - children.ru_utime
                    + after.ru_stime - children.ru_stime)
            wall[label] = min(wall.get(label, float("inf")), time.perf_counter() - start)
            cpu[label] = min(cpu.get(label, float("inf")), used)

        for round_ in range(args.rounds):
            cache = tmp / f"cache{round_}"
            timed("pretty_midi", lambda: [pretty_midi.PrettyMIDI(str(p)) for p in paths])
            timed("read_midi", lambda: [read_midi(p) for p in paths])
            timed("read_midi_fast", lambda: [read_midi_fast(p.read_bytes()) for p in paths])
            timed("scan cold", lambda: scan_folder(tmp / "music", tokenizer, cache_dir=cache, workers=workers))
            timed("scan warm", lambda: scan_folder(tmp / "music", tokenizer, cache_dir=cache, workers=workers))
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times suffer when it is high)")
        for label in wall:
            print(f"{label:15s} wall {wall[label]:7.3f} s ({wall['pretty_midi'] / wall[label]:5.1f}x)   "
                  f"CPU {cpu[label]:7.3f} s = {cpu[label] / len(paths) * 1000:5.2f} ms/file "
                  f"({cpu['pretty_midi'] / cpu[label]:5.1f}x)")
        parallel = cpu["scan cold"] / workers
        print(f"scan cold on {workers} idle cores (CPU / workers): about {parallel:.2f} s, "
              f"{cpu['pretty_midi'] / parallel:.1f}x the pretty_midi loop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
