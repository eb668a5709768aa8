"""The models the picker offers: shipped defaults, the user's trained models
and recently opened files, each described from its metadata alone (the
weights are not loaded until the model is used)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from composer.assets import assets_dir
from composer.errors import ComposerError
from composer.paths import shown

# model files are read through composer.model (which imports torch) inside the functions:
# the app calls them behind its window (gui/startup.py)

ASSETS_DIR = assets_dir()
INFILL_NOTE = ("An infill model: it rewrites selected bars (Regenerate selection), it cannot generate "
               "from scratch; pick a left-to-right model to generate")


@dataclass(frozen=True)
class ModelEntry:
    """One model file as the picker shows it."""

    path: Path
    origin: str                 # "default" | "trained" | "recent"
    representation: str = ""    # "melody" | "performance"
    cell: str = ""              # "LSTM" | "GRU" | "RNN"
    layers: int = 0
    hidden: int = 0
    parameters: int = 0
    corpus: str = ""
    val_bits_per_note: float | None = None   # best validation score from training, when there was one
    val_files: int = 0
    error: str = ""             # why the file cannot be used ("" when fine)
    infill: bool = False        # an infill model: it rewrites selected bars, it does not generate

    @property
    def name(self) -> str:
        return shown(self.path.stem)          # (Qt drops the bytes of a name that are not UTF-8)

    @property
    def usable(self) -> bool:
        return not self.error

    @property
    def generates(self) -> bool:
        """A model Generate can use: not infill, accompaniment or drums (those act on a song)."""
        return self.usable and not self.infill and self.representation not in ("accompany", "drums")

    def label(self) -> str:
        if self.error:
            return f"{self.name} (unusable)"
        kind = f"{self.representation} infill" if self.infill else self.representation
        return f"{self.name} — {kind}, {self.cell} {self.layers}x{self.hidden}"

    def description(self) -> str:
        """One line: representation, cell type, size and corpus."""
        if self.error:
            return self.error
        corpus = f", trained on {self.corpus}" if self.corpus else ""
        score = ""
        if self.val_bits_per_note is not None:
            score = f", {self.val_bits_per_note:.2f} bits/note on {self.val_files} held-out file(s)"
        text = (f"{self.representation} {self.cell} {self.layers}x{self.hidden}, "
                f"{self.parameters / 1e6:.2f}M parameters{corpus}{score} ({self.origin} model)")
        return text + (f". {INFILL_NOTE}" if self.infill else "")


def describe(path: str | os.PathLike, origin: str) -> ModelEntry:
    """A picker entry for `path` (composer.services.describe); a bad file becomes an entry with `error` set."""
    from composer.services.describe import describe_model
    path = Path(path)
    try:
        d = describe_model(path)
    except (ComposerError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return ModelEntry(path=path, origin=origin, error=" ".join(str(exc).split()))
    return ModelEntry(path=path, origin=origin, representation=d.representation, cell=d.cell, layers=d.layers,
                      hidden=d.hidden, parameters=d.parameters, corpus=d.corpus,
                      val_bits_per_note=d.val_bits_per_note, val_files=d.val_files, infill=d.infill)


def discover(user_dir: Path, recent: list[str], assets_dir: Path = ASSETS_DIR) -> list[ModelEntry]:
    """Every model to offer, defaults first (the models that generate before infill,
    accompaniment and drums ones), without duplicates."""
    from composer.model.modelfile import MODEL_SUFFIX
    seen: set[Path] = set()
    out: list[ModelEntry] = []

    def add(path: Path, origin: str) -> None:
        key = path.resolve()
        if key in seen or not path.is_file():
            return
        seen.add(key)
        out.append(describe(path, origin))

    for path in sorted(assets_dir.glob(f"*{MODEL_SUFFIX}")):
        add(path, "default")
    out.sort(key=lambda e: not e.generates)    # stable: "melody" before "melody-infill" and "bach-harmonizer"
    if user_dir.is_dir():
        for path in sorted(user_dir.glob(f"*{MODEL_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True):
            add(path, "trained")
    for text in recent:
        add(Path(text), "recent")
    return out


def preferred_index(entries: list[ModelEntry], current: str) -> int:
    """The entry at path `current`, else the first model that generates, else the first (-1: none)."""
    fallback = next((i for i, e in enumerate(entries) if e.generates), 0 if entries else -1)
    return next((i for i, e in enumerate(entries) if str(e.path) == current
                 or e.path.resolve() == Path(current).resolve()), fallback)


def file_stamp(path: Path | None) -> tuple[int, int] | None:
    """(modification time in ns, size in bytes) of a model file, None if it is gone."""
    try:
        stat = Path(path).stat()
    except (OSError, TypeError):
        return None
    return stat.st_mtime_ns, stat.st_size
