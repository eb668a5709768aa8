"""On-disk cache of each file's parse + encode result.

One SQLite database, CACHE_DIR/ingest.sqlite, maps a key to the result (JSON).
The key is the sha256 of: the file's content sha256, the tokenizer kind and
config, the read limits and `CACHE_VERSION`; changing any of them misses the
cache, renaming or moving a MIDI file does not. One database rather than a
file per entry: creating 1,000 small files costs seconds on some file
systems, an insert costs microseconds. New entries are committed in batches
and when the scan ends (also when it is cancelled), so several processes can
share the cache (SQLite locks; a writer waits up to `LOCK_TIMEOUT_S`).
Lookups go `LOOKUP_BATCH` files to a query.

Commits do not wait for the disk (`PRAGMA synchronous=OFF`): with the
default, each commit waited 25-35 ms for fsync here, 90 ms of a 1,000-file
cold scan that otherwise takes 0.3 s of wall time on 2 cores. Every entry is
recomputable from its file, so what that risks is small: a power cut or OS
crash right after a scan can damage the database (a crash of the program
itself cannot). Every value read back is checked, and a database SQLite
reports as damaged is logged and removed: when opening it, a new one is
started at once; in the middle of a scan, that scan goes on without a cache.

The cache is only an accelerator: a damaged or locked database, or a cache
folder that cannot be written, is logged once and the scan goes on without it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
from pathlib import Path

from composer.corpus.pool import ParsedFile
from composer.music.midifile import ReadLimits

log = logging.getLogger(__name__)

CACHE_VERSION = 4        # bump when parsing or encoding changes what a file yields
COMMIT_EVERY = 256       # entries per transaction
LOOKUP_BATCH = 256       # keys per SELECT (SQLite allows at least 999 parameters)
LOCK_TIMEOUT_S = 30.0    # how long to wait for another process holding the database, in seconds


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/rnn-composer/ingest, or ~/.cache/rnn-composer/ingest."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnn-composer" / "ingest"


class IngestCache:
    """Use as a context manager: `with IngestCache(dir, tokenizer, limits) as cache:`."""

    def __init__(self, directory: str | os.PathLike, tokenizer, limits: ReadLimits):
        self.directory = Path(directory)
        config = json.dumps(tokenizer.config.to_dict(), sort_keys=True, default=str)
        self._salt = f"{CACHE_VERSION}|{tokenizer.kind}|{config}|{dataclasses.asdict(limits)}|"
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str]] = []

    @property
    def path(self) -> Path:
        return self.directory / "ingest.sqlite"

    def __enter__(self) -> IngestCache:
        for _attempt in range(2):            # a damaged database is removed, then one new try
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
                self._db.execute("PRAGMA synchronous=OFF")     # why: see the module docstring
                self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db.commit()
                return self
            except (OSError, sqlite3.Error) as exc:
                if not self._disable(exc):
                    break
        return self

    def __exit__(self, *exc_info) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _disable(self, exc: Exception) -> bool:
        """Go on without the cache; True if the database was damaged and is now removed."""
        if self._db is not None:
            self._db.close()
        self._db, self._pending = None, []
        # DatabaseError but not OperationalError (locked, cannot open, disk full): the file is
        # damaged or not a database ("database disk image is malformed", "file is not a database")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            try:
                self.path.unlink()
            except OSError:
                pass
            else:
                log.warning("ingest cache %s was damaged (%s) and is removed", self.path, exc)
                return True
        log.warning("ingest cache in %s unusable (%s); continuing without it", self.directory, exc)
        return False

    def _key(self, sha256: str) -> str:
        return hashlib.sha256((self._salt + sha256).encode()).hexdigest()

    def get_many(self, sha256s: list[str]) -> dict[str, ParsedFile]:
        """Cached results for files of these contents, by content sha256 (misses left out)."""
        if self._db is None or not sha256s:
            return {}
        by_key = {self._key(sha256): sha256 for sha256 in sha256s}
        keys = list(by_key)
        rows = []
        try:
            for start in range(0, len(keys), LOOKUP_BATCH):
                chunk = keys[start:start + LOOKUP_BATCH]
                rows += self._db.execute(f"SELECT key, value FROM results WHERE key IN ({','.join('?' * len(chunk))})",
                                         chunk).fetchall()
        except sqlite3.Error as exc:
            self._disable(exc)
            return {}
        found = {}
        for key, value in rows:
            parsed = _parsed_from_json(value)
            if parsed is not None:
                found[by_key[key]] = parsed
        return found

    def put(self, sha256: str, parsed: ParsedFile) -> None:
        """Remember `parsed` (unless it depends on this run: crash, time-out)."""
        if self._db is None or not parsed.cacheable:
            return
        value = {"status": parsed.status, "reason": parsed.reason, "tokens": parsed.tokens,
                 "n_notes": parsed.n_notes, "source": parsed.source, "damage": parsed.damage}
        self._pending.append((self._key(sha256), json.dumps(value, separators=(",", ":"))))
        if len(self._pending) >= COMMIT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", self._pending)
            self._pending = []
        except sqlite3.Error as exc:
            self._disable(exc)


def _parsed_from_json(value: str) -> ParsedFile | None:
    """A stored value as a ParsedFile; None for anything that is not one (a damaged or foreign entry)."""
    try:
        parsed = ParsedFile(**json.loads(value))
    except (ValueError, TypeError):
        return None
    if parsed.status not in ("used", "skipped") or not all(isinstance(t, int) for t in parsed.tokens):
        return None
    return parsed
