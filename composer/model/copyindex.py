"""The copy index: the notes of a model's training data, hashed by runs of
`anchor` notes, so that the longest run a piece shares with them is found in
milliseconds. The trainer stores it in the model file (composer.model.modelfile);
the copy meter (composer.analysis.copymeter) queries it.

A note is compared as (MIDI pitch, inter-onset interval), the time in beats
from its onset to the next note's onset (the last note: its own length),
rounded to 1/12 beat; so a copy is found whatever the articulation, and a
rest is part of the interval before it. Pitches are compared exactly (a
transposed copy is not counted). For polyphonic music all notes are taken in
order of onset, highest pitch first.

The index keeps a 64-bit hash of every `anchor`-note run of the corpus, sorted
(numpy; 16 bytes per note, about 20 MB for a million notes); a query looks up
all anchors of the piece at once and extends the matches run by run. Runs
shorter than `anchor` notes are reported as 0 (they are too common to mean
anything).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from composer.music.song import Note, Song

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
        """Index token sequences (e.g. `composer.corpus.ingest.scan_folder(...).sequences`)
        decoded with `tokenizer`: the notes the model was trained on."""
        from composer.errors import Cancelled
        pieces = {}
        for name, tokens in sequences.items():
            if should_stop is not None and should_stop():
                raise Cancelled("copy index cancelled")
            pieces[name] = tokenizer.decode(tokens).notes
        return cls.from_notes(pieces, anchor=anchor)

    @property
    def n_notes(self) -> int:
        return int((self.symbols >= 0).sum())

    # ---- stored inside a model file (composer.model.modelfile): the notes, not the hashes ----
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
