"""Copy meter: how many consecutive notes of a piece also occur, in the same
order, in the training data, and in which file.

    index = CopyIndex.from_corpus(corpus.sequences, tokenizer)   # or CopyIndex.from_songs({...})
    length, source = copy_meter(song, index)                        # e.g. (23, "oneills_0012.mid")

A note is compared as (MIDI pitch, inter-onset interval), the time in beats
from its onset to the next note's onset (the last note: its own length),
rounded to 1/12 beat; so a copy is found whatever the articulation, and a
rest is part of the interval before it. Pitches are compared exactly (a
transposed copy is not counted). For polyphonic music all notes are taken in
order of onset, highest pitch first.

The index keeps a 64-bit hash of every `anchor`-note run of the corpus, sorted
(numpy; 16 bytes per note, about 20 MB for a million notes); a query looks up
all anchors of the piece at once and extends the matches run by run, so it
costs milliseconds and is Qt-free. Runs shorter than `anchor` notes are
reported as 0 (they are too common to mean anything).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .music import Note, Song

TICKS_PER_BEAT = 12            # interval resolution: 1/12 beat (sixteenths and eighth-note triplets)
DEFAULT_ANCHOR = 4             # notes; shorter shared runs are not counted
_MULT = np.uint64(0x9E3779B97F4A7C15)
_MAX_CANDIDATES = 50_000       # per anchor: a run this common is no evidence of copying
STORED_VERSION = 1             # layout of the index inside a model file (CopyIndex.stored)
MAX_ANCHOR = 64                # a stored anchor above this is refused (the index build costs anchor x notes)
MAX_SYMBOL = 127 * 100_000 + 10_000    # the largest note_symbols value (pitch 127, the longest interval)


def note_symbols(notes: list[Note]) -> np.ndarray:
    """One int64 per note: pitch and inter-onset interval (1/12 beats), in
    onset order (highest pitch first within a chord)."""
    ordered = sorted(notes, key=lambda n: (n.start, -n.pitch))
    if not ordered:
        return np.zeros(0, dtype=np.int64)
    starts = np.array([n.start for n in ordered], dtype=np.float64)
    ioi = np.empty_like(starts)
    ioi[:-1] = starts[1:] - starts[:-1]
    ioi[-1] = ordered[-1].end - ordered[-1].start
    ticks = np.clip(np.round(ioi * TICKS_PER_BEAT), 0, 10_000).astype(np.int64)
    pitches = np.array([n.pitch for n in ordered], dtype=np.int64)
    return pitches * 100_000 + ticks


def _anchor_hashes(symbols: np.ndarray, anchor: int) -> np.ndarray:
    """Hash of each run symbols[i:i+anchor] (uint64, wrapping arithmetic)."""
    n = len(symbols) - anchor + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    sym = symbols.astype(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        for k in range(anchor):
            h = h * _MULT + sym[k:k + n]
            h ^= h >> np.uint64(29)
    return h


@dataclass
class CopyIndex:
    """The training data as one array of note symbols, with an anchor index."""

    symbols: np.ndarray        # (N,) all pieces concatenated, -1 between pieces
    piece_of: np.ndarray       # (N,) index into `names` of each symbol
    names: list[str]
    hashes: np.ndarray         # (M,) sorted anchor hashes
    positions: np.ndarray      # (M,) start (into `symbols`) of each hashed run
    anchor: int = DEFAULT_ANCHOR

    @classmethod
    def from_notes(cls, pieces: Mapping[str, list[Note]], *, anchor: int = DEFAULT_ANCHOR) -> CopyIndex:
        """Index note lists by piece name (file path relative to its folder)."""
        return cls.from_symbols({name: note_symbols(notes) for name, notes in pieces.items()}, anchor=anchor)

    @classmethod
    def from_symbols(cls, pieces: Mapping[str, np.ndarray], *, anchor: int = DEFAULT_ANCHOR) -> CopyIndex:
        """Index `note_symbols` arrays by piece name."""
        if anchor < 2:
            raise ValueError(f"anchor must be >= 2 notes, got {anchor}")
        names = sorted(pieces)
        chunks, owners, hashes, positions = [], [], [], []
        offset = 0
        for i, name in enumerate(names):
            sym = np.asarray(pieces[name], dtype=np.int64)
            h = _anchor_hashes(sym, anchor)
            hashes.append(h)
            positions.append(np.arange(len(h), dtype=np.int64) + offset)
            chunks += [sym, np.array([-1], dtype=np.int64)]
            owners += [np.full(len(sym) + 1, i, dtype=np.int32)]
            offset += len(sym) + 1
        all_h = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        all_p = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_h, kind="stable")
        return cls(symbols=np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64),
                   piece_of=np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32),
                   names=names, hashes=all_h[order], positions=all_p[order], anchor=anchor)

    @classmethod
    def from_songs(cls, songs: Mapping[str, Song], *, anchor: int = DEFAULT_ANCHOR) -> CopyIndex:
        return cls.from_notes({name: song.notes for name, song in songs.items()}, anchor=anchor)

    @classmethod
    def from_corpus(cls, sequences: Mapping[str, list[int]], tokenizer, *, anchor: int = DEFAULT_ANCHOR,
                    should_stop: Callable[[], bool] | None = None) -> CopyIndex:
        """Index token sequences (e.g. `training.ingest.scan_folder(...).sequences`)
        decoded with `tokenizer`: the notes the model was trained on."""
        from .errors import Cancelled
        pieces = {}
        for name, tokens in sequences.items():
            if should_stop is not None and should_stop():
                raise Cancelled("copy index cancelled")
            pieces[name] = tokenizer.decode(tokens).notes
        return cls.from_notes(pieces, anchor=anchor)

    @property
    def n_notes(self) -> int:
        return int((self.symbols >= 0).sum())

    # ---- stored inside a model file (composer.modelfile): the notes, not the hashes ----
    def stored(self) -> tuple[dict[str, np.ndarray], dict]:
        """The index as arrays and JSON-able metadata for a model file: every
        piece's note symbols (int32, concatenated), each piece's length, the
        piece names. The anchor hashes are rebuilt on loading (milliseconds)."""
        notes = self.symbols >= 0
        lengths = np.bincount(self.piece_of[notes], minlength=len(self.names)).astype(np.int32)
        arrays = {"symbols": self.symbols[notes].astype(np.int32), "lengths": lengths}
        meta = {"version": STORED_VERSION, "anchor": self.anchor, "ticks_per_beat": TICKS_PER_BEAT,
                "notes": int(notes.sum()), "names": list(self.names)}
        return arrays, meta

    @classmethod
    def from_stored(cls, arrays: Mapping[str, np.ndarray], meta: Mapping) -> CopyIndex:
        """Inverse of `stored`. Raises ValueError naming what does not fit (a
        model file is input: every field is checked before it is used)."""
        if not isinstance(meta, Mapping):
            raise ValueError(f"copy index metadata is not an object: {type(meta).__name__}")
        if meta.get("version") != STORED_VERSION or meta.get("ticks_per_beat") != TICKS_PER_BEAT:
            raise ValueError(f"copy index version {meta.get('version')!r} / {meta.get('ticks_per_beat')!r} "
                             f"ticks per beat is not {STORED_VERSION} / {TICKS_PER_BEAT}")
        anchor = meta.get("anchor", DEFAULT_ANCHOR)
        if isinstance(anchor, bool) or not isinstance(anchor, int) or not 2 <= anchor <= MAX_ANCHOR:
            raise ValueError(f"copy index anchor must be a whole number of notes in 2..{MAX_ANCHOR}, got {anchor!r}")
        names = meta.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise ValueError("copy index names must be a list of different file names")
        symbols, lengths = np.asarray(arrays["symbols"]), np.asarray(arrays["lengths"])
        for what, a in (("notes", symbols), ("lengths", lengths)):
            if a.ndim != 1 or a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"copy index {what} must be a 1-D array of whole numbers, got {a.dtype} {a.shape}")
        if len(lengths) != len(names) or (len(lengths) and (lengths.min() < 0 or lengths.max() > len(symbols))):
            raise ValueError(f"copy index lengths do not fit: {len(lengths)} lengths for {len(names)} names "
                             f"and {len(symbols)} notes")
        lengths = lengths.astype(np.int64)       # each in 0..len(symbols): the sum cannot wrap
        if int(lengths.sum()) != len(symbols):
            raise ValueError(f"copy index lengths add up to {int(lengths.sum())} notes, not {len(symbols)}")
        if len(symbols) and (symbols.min() < 0 or symbols.max() > MAX_SYMBOL):
            raise ValueError(f"copy index notes must be in 0..{MAX_SYMBOL} (pitch x 100000 + ticks)")
        symbols = symbols.astype(np.int64)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        pieces = {name: symbols[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}
        return cls.from_symbols(pieces, anchor=anchor)

    def longest_run(self, notes: list[Note]) -> tuple[int, str | None, int]:
        """(length in notes, source piece name or None, note index in the query
        where the run starts) of the longest run of `notes` found in the index."""
        query = note_symbols(notes)
        h = _anchor_hashes(query, self.anchor)
        if len(h) == 0 or len(self.hashes) == 0:
            return 0, None, 0
        lo = np.searchsorted(self.hashes, h, side="left")
        hi = np.searchsorted(self.hashes, h, side="right")
        best = (0, None, 0)
        # run[p] = how many consecutive anchors match from query position i at corpus position p
        next_positions = np.zeros(0, dtype=np.int64)
        next_runs = np.zeros(0, dtype=np.int64)
        for i in range(len(h) - 1, -1, -1):
            cand = self.positions[lo[i]:min(hi[i], lo[i] + _MAX_CANDIDATES)]
            if len(cand):
                # verify (hash collisions) that the anchor really matches
                window = self.symbols[cand[:, None] + np.arange(self.anchor)]
                cand = np.sort(cand[(window == query[i:i + self.anchor]).all(axis=1)])
            runs = np.ones(len(cand), dtype=np.int64)
            if len(cand) and len(next_positions):
                j = np.searchsorted(next_positions, cand + 1)
                j_ok = j < len(next_positions)
                hit = np.zeros(len(cand), dtype=bool)
                hit[j_ok] = next_positions[j[j_ok]] == cand[j_ok] + 1
                runs[hit] += next_runs[j[hit]]
            if len(runs):
                k = int(np.argmax(runs))
                length = int(runs[k]) + self.anchor - 1
                if length > best[0] or (length == best[0] and best[1] is not None and i < best[2]):
                    best = (length, self.names[int(self.piece_of[cand[k]])], i)
            next_positions, next_runs = cand, runs
        return best


def copy_meter(song: Song | list[Note], index: CopyIndex) -> tuple[int, str | None]:
    """(longest run of consecutive notes of `song` that also occurs in the
    indexed training data, the file it occurs in); (0, None) when no run of
    `index.anchor` notes is shared."""
    notes = song.notes if isinstance(song, Song) else list(song)
    length, source, _ = index.longest_run(notes)
    return length, source


# ---- the training data of a model, and generation that avoids copies ------------------
def training_folder(loaded) -> str | None:
    """The training folder recorded in a model file's metadata, or None."""
    corpus = (loaded.training or {}).get("corpus") or {}
    folder = corpus.get("folder") if isinstance(corpus, dict) else None
    return str(folder) if folder else None


def index_for_model(loaded, *, folder: str | None = None, anchor: int = DEFAULT_ANCHOR, progress=None,
                    should_stop: Callable[[], bool] | None = None, workers: int | None = None) -> CopyIndex:
    """The copy index of a model's training data: of `folder` when given (every
    usable file, scanned with the model's own representation; results cached
    by training.ingest), else the one stored in the model file (the trainer
    stores it), else of the training folder the model file names. Raises
    ComposerError when there is none of these."""
    from pathlib import Path

    from training.ingest import scan_folder

    from .errors import ComposerError
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
    """The notes the model wrote: those starting at or after `primer_beats`
    (the primer a song begins with, when it was kept). A user's own primer is
    not the model copying."""
    return [n for n in song.notes if n.start >= primer_beats - 1e-9] if primer_beats > 0 else song.notes


def copy_meters(songs: list[Song], index: CopyIndex, primer_beats: float = 0.0) -> list[tuple[int, str | None]]:
    """`copy_meter` of each song's generated notes."""
    return [copy_meter(generated_notes(song, primer_beats), index) for song in songs]


@dataclass
class CopyCheck:
    """The copy meter of one generated piece after `limit_copies`."""

    piece: int                 # index in the result
    length: int                # longest shared run, notes
    source: str | None         # training file it occurs in
    attempts: int              # samples drawn for this piece (1 = the first was fine)
    ok: bool                   # length <= max_copy


def limit_copies(loaded, request, result, index: CopyIndex, max_copy: int, *, attempts: int = 4,
                 progress=None, should_stop: Callable[[], bool] | None = None):
    """Resample the pieces of `result` (a GenerationResult for `request`) that
    copy more than `max_copy` consecutive notes from `index`, up to `attempts`
    samples per piece in all. A piece still over the limit after that is kept
    and reported (ok=False). Returns (result with pieces replaced, [CopyCheck]).
    Resampling is reproducible: attempt a uses seed `result.seed + a * 1_000_003`."""
    from dataclasses import replace

    from .generate import generate
    if max_copy < 0:
        raise ValueError(f"max_copy must be >= 0 notes, got {max_copy}")
    songs, tokens = list(result.songs), list(result.tokens)
    checks = []
    for i, (length, source) in enumerate(copy_meters(songs, index, result.primer_beats)):
        checks.append(CopyCheck(i, length, source, 1, length <= max_copy))
    for attempt in range(1, attempts):
        bad = [c for c in checks if not c.ok]
        if not bad:
            break
        again = replace(request, count=len(bad), seed=(result.seed + attempt * 1_000_003) % 2**63)
        redo = generate(loaded, again, progress=progress, should_stop=should_stop)
        for check, song, toks in zip(bad, redo.songs, redo.tokens):
            length, source = copy_meter(generated_notes(song, redo.primer_beats), index)
            check.attempts += 1
            if length <= max_copy or length < check.length:     # keep the least copying sample
                songs[check.piece], tokens[check.piece] = song, toks
                check.length, check.source, check.ok = length, source, length <= max_copy
    return replace(result, songs=songs, tokens=tokens), checks
