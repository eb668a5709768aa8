"""The training/validation split of a folder's files, shared by the trainer and eval."""
from __future__ import annotations

import hashlib
import os


def split_files(paths, val_share: float, seed: int) -> tuple[list[str], list[str]]:
    """Split file names (not chunks) into (train, validation), deterministic
    from `seed` and independent of the order the names come in. At least one
    file is held out when there are two or more files and `val_share` > 0."""
    if not 0 <= val_share < 1:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")
    paths = sorted(paths)
    key = lambda p: hashlib.sha256(f"{seed}:".encode() + os.fsencode(p)).hexdigest()   # names are bytes
    shuffled = sorted(paths, key=key)
    n_val = 0
    if val_share > 0 and len(paths) >= 2:
        n_val = min(len(paths) - 1, max(1, round(len(paths) * val_share)))
    val = sorted(shuffled[:n_val])
    train = sorted(shuffled[n_val:])
    return train, val
