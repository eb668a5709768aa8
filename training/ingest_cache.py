"""On-disk cache of each file's parse + encode result.

One SQLite database, CACHE_DIR/ingest.sqlite, maps a key to the result (JSON).
The key is the sha256 of: the file's content sha256, the tokenizer kind and
config, the read limits and `CACHE_VERSION`; changing any of them misses the
cache, renaming or moving a MIDI file does not. One database rather than a
file per entry: creating 1,000 small files costs seconds on some file
systems, an insert costs microseconds. New entries are committed in batches
and when the scan ends (also when it is cancelled), so several processes can
share the cache (SQLite locks; a writer waits up to `LOCK_TIMEOUT_S`).

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

from composer.midi_io import ReadLimits

from .ingest_pool import ParsedFile

log = logging.getLogger(__name__)

CACHE_VERSION = 1        # bump when parsing or encoding changes what a file yields
COMMIT_EVERY = 256       # entries per transaction
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

    def __enter__(self) -> IngestCache:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.directory / "ingest.sqlite", timeout=LOCK_TIMEOUT_S)
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)
        return self

    def __exit__(self, *exc_info) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _disable(self, exc: Exception) -> None:
        log.warning("ingest cache in %s unusable (%s); continuing without it", self.directory, exc)
        if self._db is not None:
            self._db.close()
        self._db, self._pending = None, []

    def _key(self, sha256: str) -> str:
        return hashlib.sha256((self._salt + sha256).encode()).hexdigest()

    def get(self, sha256: str) -> ParsedFile | None:
        """The cached result for a file of this content, or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM results WHERE key = ?", (self._key(sha256),)).fetchone()
        except sqlite3.Error as exc:
            self._disable(exc)
            return None
        if row is None:
            return None
        try:
            parsed = ParsedFile(**json.loads(row[0]))
        except (ValueError, TypeError):
            return None
        if parsed.status not in ("used", "skipped") or not all(isinstance(t, int) for t in parsed.tokens):
            return None
        return parsed

    def put(self, sha256: str, parsed: ParsedFile) -> None:
        """Remember `parsed` (unless it depends on this run: crash, time-out)."""
        if self._db is None or not parsed.cacheable:
            return
        value = {"status": parsed.status, "reason": parsed.reason, "tokens": parsed.tokens,
                 "n_notes": parsed.n_notes, "source": parsed.source}
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
