"""Settings `train` chooses from the folder when they are not given: the
transposition range and the dropout (TrainConfig.transpose / .dropout None).

Both hold back learning the training files by heart. How much a folder needs
depends on how many notes it has: a small folder is seen many times in any
budget and is learnt by heart within minutes; a folder of hundreds of tunes
is not. The choice is a function of the folder alone (not of the machine's
speed), so the Train tab can show it after a scan and a resumed run makes
the same one. Measured in docs/training.md ("Defaults and why").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from training.config import DEFAULT_DROPOUT, MELODY_TRANSPOSE, TrainConfig

SMALL_FOLDER_NOTES = 15_000              # below this, a folder is "small" (about 80 folk tunes)
SMALL_TRANSPOSE = (-5, 6)                # every key a tune can be moved to without repeating one
SMALL_DROPOUT = 0.5
CHOSEN = (f"melody {MELODY_TRANSPOSE[0]}:{MELODY_TRANSPOSE[1]} and dropout {DEFAULT_DROPOUT}; "
          f"{SMALL_TRANSPOSE[0]}:{SMALL_TRANSPOSE[1]} and {SMALL_DROPOUT} under {SMALL_FOLDER_NOTES:,} notes; "
          "performance not transposed")


@dataclass(frozen=True)
class Sizing:
    """What was chosen for a folder of `notes` notes in `files` files, and why."""

    transpose: tuple[int, int]
    dropout: float
    notes: int
    files: int
    small: bool

    def lines(self) -> list[str]:
        low, high = self.transpose
        moved = "off" if (low, high) == (0, 0) else f"{low:+d}..{high:+d} semitones"
        size = "a small folder" if self.small else "a folder of this size"
        why = ("it would be learnt by heart within minutes; wider transposition and more dropout hold that back"
               if self.small else "the settings measured on folders of hundreds of tunes")
        return [f"chosen for {self.files:,} file(s), {self.notes:,} notes ({size}): "
                f"transposition {moved}, dropout {self.dropout:g}", f"why: {why}"]


def choose(notes: int, files: int, representation: str = "melody") -> Sizing:
    """The settings for a folder whose usable files hold `notes` notes."""
    small = notes < SMALL_FOLDER_NOTES
    if representation == "melody":
        transpose = SMALL_TRANSPOSE if small else MELODY_TRANSPOSE
    else:               # a performance or grid is not transposed by default: its pitches are not one line
        transpose = (0, 0)
    return Sizing(transpose=transpose, dropout=SMALL_DROPOUT if small else DEFAULT_DROPOUT,
                  notes=notes, files=files, small=small)


def choose_for_report(report, representation: str = "melody") -> Sizing:
    """`choose` for the used files of an ingestion report (composer.corpus.ingest.IngestReport)."""
    used = report.used()
    return choose(sum(f.n_notes for f in used), len(used), representation)


def resolve(config: TrainConfig, report) -> tuple[TrainConfig, Sizing | None]:
    """`config` with its unset transposition and dropout chosen for the scanned
    folder, and the Sizing (None when both were given)."""
    if config.transpose is not None and config.dropout is not None:
        return config, None
    sizing = choose_for_report(report, config.representation)
    changes = {}
    if config.transpose is None:
        changes["transpose"] = sizing.transpose
    if config.dropout is None:
        changes["dropout"] = sizing.dropout
    return dataclasses.replace(config, **changes), sizing
