"""The shipped models and their cards (package data: installed with composer)."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

MELODY_MODEL = "melody.model"          # the default of generate and of the app
INFILL_MODEL = "melody-infill.model"   # the default of Regenerate selection with a melody model
HARMONIZER_MODEL = "bach-harmonizer.model"   # `harmonize default ...`, `--accompany default`, the app's Harmonise


def assets_dir() -> Path:
    """The folder holding the shipped model files (inside the installed package)."""
    return Path(str(files(__name__)))


def asset_path(name: str) -> Path:
    """Path of the shipped file `name`, e.g. asset_path("melody.model"); it may not exist."""
    return assets_dir() / name
