"""Paths as the system gives them, and inputs that are safe to read.

On Linux a file name is bytes. Python hands a name that is not UTF-8 over as
a str with surrogate escapes (os.fsdecode); os and open() take it back as
the same bytes, but str.encode(), print() to a UTF-8 stream and libraries
that want UTF-8 (safetensors' file API) refuse it. So messages show paths
through `shown`, and files go to such libraries as bytes.

An input is read only when it is a regular file of bounded size, checked
before it is opened and again on the open descriptor: /dev/zero would be
read until memory runs out, and opening a FIFO blocks until someone writes.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from composer.errors import ComposerError

__all__ = ["kind_of", "open_input", "read_input", "shown"]

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISREG, "a file"))


def shown(path: str | bytes | os.PathLike) -> str:
    """`path` as a message prints it: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def kind_of(path: str | os.PathLike) -> str | None:
    """What is at `path` ("a file", "a folder", "a FIFO (named pipe)", ...;
    a symbolic link counts as what it points to), or None when nothing is."""
    try:
        return _kind(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:                  # a NUL byte in the name: nothing can be there
        return None


def _kind(mode: int) -> str:
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_input(path: str | os.PathLike, limit: int, error: type[ComposerError] = ComposerError,
               what: str = "file") -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file of at most
    `limit` bytes; else `error` naming the path and what is there instead."""
    try:
        kind = kind_of(path)
    except OSError as exc:
        raise error(f"{shown(path)}: cannot read {what}: {exc.strerror or exc}") from None
    _check_input(kind, None, path, limit, error, what)
    try:          # O_NONBLOCK: a FIFO swapped in since the check must not block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{shown(path)}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _check_input(_kind(info.st_mode), info.st_size, path, limit, error, what)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_input(path: str | os.PathLike, limit: int, error: type[ComposerError] = ComposerError,
               what: str = "file") -> bytes:
    """The bytes of `path` (see `open_input`); never more than `limit`."""
    with open_input(path, limit, error, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise error(f"{shown(path)}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:          # it grew after the check
        raise error(f"{shown(path)}: file too large (over {limit:,} bytes)")
    return data


def _check_input(kind: str | None, size: int | None, path, limit: int, error, what: str) -> None:
    if kind is None:
        raise error(f"{shown(path)}: no such {what}")
    if kind != "a file":
        raise error(f"{shown(path)} is {kind}, not a {what}")
    if size is not None and size > limit:
        raise error(f"{shown(path)}: file too large ({size:,} bytes, limit {limit:,})")
