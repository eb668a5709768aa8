"""A folder of multi-track MIDI files as Arrangements (melody + accompaniment) for
the accompaniment objective, through the same ingestion as melodies: worker
processes, the on-disk cache, salvage of damaged files and a per-file report.
A file without accompaniment is skipped with the reason ("no accompaniment:
one melody line only"), as a drums-only file is."""
from __future__ import annotations

import os
from collections import Counter

from composer.corpus.ingest import IngestReport, reason_kind, scan_folder
from composer.errors import ComposerError
from composer.music.midifile import ReadLimits
from composer.representations.accompany.codec import ArrangementCodec, ExtractionConfig
from composer.representations.accompany.grid import AccompanyConfig, Arrangement
from composer.tasks import ProgressFn, ShouldStop


def scan_arrangements(folder: str | os.PathLike, config: AccompanyConfig, *,
                      cache_dir: str | os.PathLike | None = None, workers: int | None = None,
                      strict_midi: bool = False, progress: ProgressFn | None = None,
                      should_stop: ShouldStop | None = None, track: int | str | None = None,
                      chords: str = "highest") -> tuple[list[Arrangement], IngestReport]:
    """Every MIDI file under `folder` as an Arrangement (named by its path relative to
    the folder), in sorted order, and the report of what became of each file.

    strict_midi: skip damaged files instead of reading them up to the damage.
    track, chords: the melody policy's options (composer.representations.melody).
    Other arguments as composer.corpus.ingest.scan_folder."""
    codec = ArrangementCodec(ExtractionConfig(config, track, chords))
    corpus = scan_folder(folder, codec, cache_dir=cache_dir, workers=workers,
                         limits=ReadLimits(salvage=not strict_midi), progress=progress, should_stop=should_stop)
    sources = {f.path: f.source for f in corpus.report.used()}
    arrangements = []
    for path, tokens in corpus.sequences.items():
        arrangement = codec.arrangement(tokens, name=path)
        arrangement.source = sources[path]
        arrangements.append(arrangement)
    return arrangements, corpus.report


def require_arrangements(arrangements: list[Arrangement], report: IngestReport) -> None:
    """Raise ComposerError naming the folder and why its files were skipped when none
    gave an arrangement (the one-line error of `train --objective accompany`)."""
    if arrangements:
        return
    skipped = report.skipped()
    if not skipped:
        raise ComposerError(f"{report.folder}: no MIDI files found (.mid, .midi)")
    kinds = Counter(reason_kind(f.reason) for f in skipped)
    why = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    raise ComposerError(f"{report.folder}: no file with accompaniment ({len(skipped)} file(s) skipped: {why}); "
                        "a file needs a melody and at least one other pitched track")
