"""Loading behind the window. The window shows first; then a worker thread
imports torch and the services, reads the model files for the picker and
loads the model the picker will select. The views take the result on the GUI
thread (GenerateView.finish_loading, TrainView.finish_loading); until then
the picker says it is loading and Generate waits.

Importing torch alone takes ~3 s here, so the gui modules import it (through
composer.model, composer.services.generate, ...) only inside the functions
that run after this."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gui.catalog import ModelEntry, discover, file_stamp, preferred_index

if TYPE_CHECKING:
    from composer.model.modelfile import LoadedModel

EAGER_ENV = "RNN_COMPOSER_EAGER_LOAD"      # "1": load everything before the window shows (the old order)
REPORT_ENV = "RNN_COMPOSER_STARTUP_REPORT"  # "1": print when the window shows and when loading ends, then quit


@dataclass
class Loaded:
    """What the worker hands the views."""

    entries: list[ModelEntry]
    model: LoadedModel | None = None        # the entry the picker selects, loaded (None: none usable, or it failed)
    stamp: tuple[int, int] | None = None    # catalog.file_stamp of that file when it was loaded


def warm_up(user_dir: Path, recent: list[str], wanted: str) -> Loaded:
    """On the worker: the heavy imports, the picker's entries, and the model
    the picker will select for `wanted` (the last used model's path) loaded."""
    import composer.services.copylimit  # noqa: F401 - torch and the generation services, imported once here
    import composer.services.infill  # noqa: F401
    import gui.generation  # noqa: F401
    from gui.jobs import load_if_needed
    from gui.train_view import training_api

    training_api()
    entries = discover(user_dir, recent)
    index = preferred_index(entries, wanted)
    entry = entries[index] if index >= 0 else None
    if entry is None or not entry.usable or entry.infill:
        return Loaded(entries)
    try:
        model = load_if_needed(entry.path, None)
    except Exception:  # noqa: BLE001 - the Generate job loads it again and reports why it cannot
        return Loaded(entries)
    return Loaded(entries, model, file_stamp(entry.path))


WarmUp = Callable[[Path, list[str], str], Loaded]


def report(stage: str) -> None:
    """With REPORT_ENV set: the wall-clock time of `stage` for benchmarks/startup.py."""
    if os.environ.get(REPORT_ENV) == "1":
        sys.stdout.write(f"startup {stage} {time.time():.6f}\n")
        sys.stdout.flush()
