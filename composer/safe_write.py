"""The one rule for output paths: never replace what is not a file.

A device node, FIFO, socket or folder at an output path is never written over
or replaced, `force` or not (as root, replacing /dev/null breaks the machine;
opening a FIFO for writing blocks until someone reads it). Front ends call
`check_target` for each output option before any work, naming the option;
`composer.midi_io.write_atomic`, through which every file is written, calls
it again at the moment of writing, so nothing slips through.
"""
from __future__ import annotations

import os
from pathlib import Path

from composer.errors import NotAFileError
from composer.paths import kind_of, shown

__all__ = ["check_folder_target", "check_target", "kind_of"]


def check_target(path: str | os.PathLike, option: str | None = None) -> None:
    """Raise NotAFileError unless `path` is a regular file or nothing at all.
    `option` ("--out", "--report") is the choice the message asks to change."""
    kind = kind_of(path)
    if kind is not None and kind != "a file":
        raise NotAFileError(f"{shown(path)} is {kind}, not a file: choose another {option or 'file name'}")


def check_folder_target(path: str | os.PathLike, option: str | None = None) -> None:
    """Raise NotAFileError unless `path` (or its first existing parent) is a
    folder: the folder files are written into."""
    for part in (Path(path), *Path(path).parents):
        kind = kind_of(part)
        if kind is not None:
            if kind != "a folder":
                raise NotAFileError(f"{shown(part)} is {kind}, not a folder to write into: "
                                    f"choose another {option or 'folder'}")
            return
