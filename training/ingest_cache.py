"""On-disk cache of each file's parse + encode result.

One small JSON file per entry, at CACHE_DIR/ab/abcdef....json, where the key
is the sha256 of: the file's content sha256, the tokenizer kind and config,
the read limits and `CACHE_VERSION`. Changing any of them misses the cache;
renaming or moving a MIDI file does not. Entries are written atomically, so
concurrent scans (several training processes) can share a cache directory.
The cache is only an accelerator: an unreadable entry is a miss, and a cache
directory that cannot be written is logged once and otherwise ignored.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from composer.midi_io import ReadLimits

from .ingest_pool import ParsedFile

log = logging.getLogger(__name__)

CACHE_VERSION = 1     # bump when parsing or encoding changes what a file yields


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/rnn-composer/ingest, or ~/.cache/rnn-composer/ingest."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnn-composer" / "ingest"


class IngestCache:
    def __init__(self, directory: str | os.PathLike, tokenizer, limits: ReadLimits):
        self.directory = Path(directory)
        config = json.dumps(tokenizer.config.to_dict(), sort_keys=True, default=str)
        self._salt = f"{CACHE_VERSION}|{tokenizer.kind}|{config}|{dataclasses.asdict(limits)}|"
        self._write_failed = False

    def _path(self, sha256: str) -> Path:
        key = hashlib.sha256((self._salt + sha256).encode()).hexdigest()
        return self.directory / key[:2] / f"{key}.json"

    def get(self, sha256: str) -> ParsedFile | None:
        """The cached result for a file of this content, or None."""
        try:
            entry = json.loads(self._path(sha256).read_bytes())
            parsed = ParsedFile(**entry)
        except (OSError, ValueError, TypeError):
            return None
        if parsed.status not in ("used", "skipped") or not all(isinstance(t, int) for t in parsed.tokens):
            return None
        return parsed

    def put(self, sha256: str, parsed: ParsedFile) -> None:
        if not parsed.cacheable or self._write_failed:
            return
        path = self._path(sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_replace(path, json.dumps(dataclasses.asdict(parsed), separators=(",", ":")).encode())
        except OSError as exc:
            self._write_failed = True
            log.warning("cannot write the ingest cache in %s (%s); continuing without it", self.directory, exc)


def _write_replace(path: Path, data: bytes) -> None:
    """Temp file + rename: readers see the old entry or the new one, never half.
    No fsync (unlike composer.midi_io.write_atomic): a cache entry lost or
    emptied by a power cut is just a miss, and 1,000 fsyncs would cost seconds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
