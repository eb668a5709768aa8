"""The MIDI folder the training and memory benchmarks train on: the folk
corpus (900 tunes of music21's public-domain folk books, converted by
training.corpus), built on first use, so `python -m benchmarks` runs from a
fresh clone; or any folder given with `--folder`."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "runs" / "dm2" / "folk"     # = `python -m training.corpus folk runs/dm2/folk --limit 900`
TUNES = 900
# CPU seconds per tune and of the start-up (music21's import in each process,
# splitting its ABC books): `time python -m training.corpus folk DIR --limit N
# --workers 2` took 13 s of CPU for 60 tunes and 29 s for 200. The 900 took
# 7 min 11 s of wall time on 2 cores shared with other jobs (load average 8-10).
SECONDS_PER_TUNE = 0.11
STARTUP_S = 6.0


def estimate_seconds(tunes: int = TUNES, workers: int = 2) -> float:
    """About how long converting `tunes` tunes takes on an idle machine with `workers` processes."""
    return STARTUP_S + tunes * SECONDS_PER_TUNE / max(1, min(workers, os.cpu_count() or 1))


def is_built(folder: Path) -> bool:
    """True when `folder` holds anything (what is in it is the user's: it is never replaced)."""
    return folder.is_dir() and any(folder.iterdir())


def training_folder(folder: Path | None = None, *, say=print, progress=None, workers: int = 2) -> Path:
    """`folder` when given; else DEFAULT_FOLDER, converted first when it is not
    there yet (into a side folder renamed at the end, so an interrupted build
    is resumed, never taken for the corpus). `say(text)` tells how long that
    takes before it starts; `progress` gets the conversion's Progress."""
    if folder is not None:
        return Path(folder)
    if is_built(DEFAULT_FOLDER):
        return DEFAULT_FOLDER
    from composer.tasks import relabel
    from training.corpus import convert_corpus
    minutes = estimate_seconds(TUNES, workers) / 60
    say(f"the training and memory parts need MIDI files: converting {TUNES} tunes of music21's folk books "
        f"to {DEFAULT_FOLDER.relative_to(ROOT)} first, once (about {max(1.0, minutes):.0f} min on {workers} idle "
        "cores, longer on a busy machine; --folder DIR uses a folder of yours instead)")
    partial = DEFAULT_FOLDER.with_name(DEFAULT_FOLDER.name + ".partial")
    convert_corpus("folk", partial, relabel(progress, "converting folk"), workers=workers, limit=TUNES)
    if DEFAULT_FOLDER.is_dir():             # (an empty folder)
        DEFAULT_FOLDER.rmdir()
    partial.rename(DEFAULT_FOLDER)
    return DEFAULT_FOLDER
