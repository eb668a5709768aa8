"""Safetensors files (model files, training checkpoints) read as bytes.

safetensors' own file API takes a path as UTF-8 text, and a Linux path is
bytes that need not be UTF-8; so the file is opened here (a regular file of
bounded size: composer.paths.open_input), its header parsed here, and its
tensors made by safetensors from the file's bytes. Nothing is unpickled:
the format holds only tensors and strings.
"""
from __future__ import annotations

import json
import math
import os
import struct

from safetensors.torch import load as tensors_from_bytes

from composer.errors import ComposerError
from composer.model.metadata_rules import nesting_depth
from composer.paths import open_input, shown

MAX_FILE = 2_000_000_000     # bytes of a model file or checkpoint (the shipped model is 4 MB)
MAX_HEADER = 50_000_000      # bytes of its JSON header
METADATA = "__metadata__"


def read_header(path: str | os.PathLike, error: type[ComposerError], what: str) -> dict:
    """The header of the safetensors file at `path` (tensor name -> {"dtype",
    "shape", "data_offsets"}, and METADATA -> {str: str}), without its tensors."""
    with open_input(path, MAX_FILE, error, what) as handle:
        return _header(handle, os.fstat(handle.fileno()).st_size, path, error, what)


def read_tensors(path: str | os.PathLike, error: type[ComposerError], what: str) -> tuple[dict, dict]:
    """(header, tensors by name) of the safetensors file at `path`, on the CPU;
    the header is checked before the rest of the file is read."""
    with open_input(path, MAX_FILE, error, what) as handle:
        size = os.fstat(handle.fileno()).st_size
        header = _header(handle, size, path, error, what)
        handle.seek(0)
        data = handle.read(size)
    try:
        return header, tensors_from_bytes(data)
    except Exception as exc:  # safetensors raises its own error types
        raise error(f"{shown(path)}: corrupt {what} ({_one_line(exc)[:300]})") from None


def stored_shapes(header: dict) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor a header lists."""
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != METADATA}


def parameter_count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def _header(handle, size: int, path, error, what: str) -> dict:
    head = handle.read(8)
    _sniff(head + handle.read(8), path, error, what)
    length = struct.unpack("<Q", head)[0]
    if length > min(size - 8, MAX_HEADER):
        raise error(f"{shown(path)}: not a {what} or truncated (header claims {length:,} bytes, file has {size:,})")
    handle.seek(8)
    text = handle.read(length)
    try:
        text = text.decode("utf-8")
        if nesting_depth(text) > 3:       # {name: {"shape": [...]}}; deeper text could overflow the parser
            raise ValueError("it nests too deep")
        header = json.loads(text)
        _check_header(header, size - 8 - length)
    except (ValueError, TypeError, KeyError) as exc:
        raise error(f"{shown(path)}: corrupt {what} (bad header: {_one_line(exc)[:200]})") from None
    return header


def _check_header(header, data_bytes: int) -> None:
    if not isinstance(header, dict):
        raise ValueError("not a JSON object")
    metadata = header.get(METADATA, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{METADATA} is not an object of texts")
    for name, entry in header.items():
        if name == METADATA:
            continue
        shape, (start, end) = entry["shape"], entry["data_offsets"]
        if not (isinstance(shape, list) and all(_whole(n, 2**40) for n in shape) and len(shape) <= 8
                and _whole(start, end) and _whole(end, data_bytes)):
            raise ValueError(f"tensor {name!r} has a bad shape or offsets")


def _whole(value, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def _sniff(head: bytes, path, error, what: str) -> None:
    """Reject files that are plainly not safetensors with a helpful reason."""
    if not head:
        raise error(f"{shown(path)}: empty file")
    looks_safetensors = len(head) >= 9 and head[8:9] == b"{"
    if len(head) < 9:                      # (too short for any checkpoint, pickled or not)
        raise error(f"{shown(path)}: truncated file ({len(head)} bytes)")
    if head[:2] == b"PK" or (head[:1] == b"\x80" and not looks_safetensors):
        raise error(f"{shown(path)}: is a pickle/PyTorch checkpoint, which is refused because loading "
                    f"it could run code; only safetensors {what}s are accepted")
    if not looks_safetensors:
        raise error(f"{shown(path)}: not a {what} (no safetensors header)")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


__all__ = ["MAX_FILE", "METADATA", "parameter_count", "read_header", "read_tensors", "stored_shapes"]
