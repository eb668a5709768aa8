"""Copy meter: how many consecutive notes of a piece also occur, in the same
order, in the training data, and in which file.

    index = CopyIndex.from_corpus(corpus.sequences, tokenizer)   # or CopyIndex.from_songs({...})
    length, source = copy_meter(song, index)                        # e.g. (23, "oneills_0012.mid")

How notes are compared and indexed (pitch and inter-onset interval, runs of
`anchor` notes): composer.model.copyindex. Also here: the copy index of a
model's training data (stored in its file, or scanned from a folder).
"""
from __future__ import annotations

from collections.abc import Callable

from composer.model.copyindex import DEFAULT_ANCHOR, CopyIndex
from composer.music.song import Note, Song


def copy_meter(song: Song | list[Note], index: CopyIndex) -> tuple[int, str | None]:
    """(longest run of consecutive notes of `song` that also occurs in the
    indexed training data, the file it occurs in); (0, None) when no run of
    `index.anchor` notes is shared."""
    notes = song.notes if isinstance(song, Song) else list(song)
    length, source, _ = index.longest_run(notes)
    return length, source


# ---- the training data of a model, and generation that avoids copies ------------------
def training_folder(loaded) -> str | None:
    """The training folder recorded in a model file's metadata, or None. The
    trainer records it relative to the model file's folder (or by name when
    it lies elsewhere); older files, relative to where training ran."""
    from pathlib import Path
    corpus = (loaded.training or {}).get("corpus") or {}
    folder = corpus.get("folder") if isinstance(corpus, dict) else None
    if not folder:
        return None
    if loaded.path and not Path(str(folder)).is_absolute():
        beside = Path(loaded.path).parent / str(folder)
        if beside.is_dir():
            return str(beside)
    return str(folder)


def index_for_model(loaded, *, folder: str | None = None, anchor: int = DEFAULT_ANCHOR, progress=None,
                    should_stop: Callable[[], bool] | None = None, workers: int | None = None) -> CopyIndex:
    """The copy index of a model's training data: of `folder` when given (every
    usable file, scanned with the model's own representation; results cached
    by composer.corpus.ingest), else the one stored in the model file (the trainer
    stores it), else of the training folder the model file names. Raises
    ComposerError when there is none of these."""
    from pathlib import Path

    from composer.corpus.ingest import scan_folder
    from composer.errors import ComposerError
    if folder is None:
        stored = loaded.copy_index()
        if stored is not None:
            return stored
        folder = training_folder(loaded)
        name = loaded.path or "the model file"
        if folder is None:
            raise ComposerError(f"{name} holds no copy index and does not say which folder it was trained on; "
                                "pass the folder")
        if not Path(folder).is_dir():
            raise ComposerError(f"{name} holds no copy index and its training folder {folder} is not on this "
                                "machine; pass the folder")
    elif not Path(folder).is_dir():
        raise ComposerError(f"copy folder {folder} is not a folder")
    corpus = scan_folder(folder, loaded.tokenizer, workers=workers, progress=progress, should_stop=should_stop)
    if not corpus.sequences:
        raise ComposerError(f"copy folder {folder} has no usable MIDI files for a {loaded.tokenizer.kind} model")
    return CopyIndex.from_corpus(corpus.sequences, loaded.tokenizer, anchor=anchor, should_stop=should_stop)


def generated_notes(song: Song, primer_beats: float = 0.0) -> list[Note]:
    """The notes the model wrote: those of the first track (the melody; tracks
    under it, such as a given progression's chords, are not the model's)
    starting at or after `primer_beats` (the primer a song begins with, when it
    was kept). A user's own primer is not the model copying."""
    notes = sorted(next((t.notes for t in song.tracks if not t.is_drum), []))
    return [n for n in notes if n.start >= primer_beats - 1e-9] if primer_beats > 0 else notes


def copy_meters(songs: list[Song], index: CopyIndex, primer_beats: float = 0.0) -> list[tuple[int, str | None]]:
    """`copy_meter` of each song's generated notes."""
    return [copy_meter(generated_notes(song, primer_beats), index) for song in songs]
