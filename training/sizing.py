"""The transposition `train` chooses when none is given (TrainConfig.transpose
None): from how many times the run will see each note of the folder.

Random transposition holds back learning the training files by heart, and
costs progress while there is nothing to hold back. Measured on folk tunes
(docs/defaults.md): at 18 passes over the training notes no transposition
beat -2..+2 (2.99 against 3.04 bits per note); at 40 passes -2..+2 beat none
(2.946 against 3.020); at 83 passes over 50 tunes -2..+2 beat -5..+6 (4.751
against 4.818 on 215 other tunes); at about 120 passes over 50 Bach chorale
melodies (10 minutes, 300 steps), -5..+6 beat -2..+2 (5.984 against 6.123 on
41 other chorales). So: off below PASSES_FOR_TRANSPOSE passes, -2..+2 up to
PASSES_FOR_WIDE, -5..+6 beyond. Performances and grids are not transposed.

The passes come from the length of the run: epochs, or steps x tokens per
step, or, for a time budget, NOMINAL_TOKENS_PER_S of the device (measured on
an idle 2-core CPU; on a busy machine a run sees fewer). Without any length,
early stopping ends a run of at least DEFAULT_EPOCHS passes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from training.config import DEFAULT_EPOCHS, MELODY_TRANSPOSE, TrainConfig

PASSES_FOR_TRANSPOSE = 25           # between the measured 18 (off won) and 40 (-2..+2 won)
PASSES_FOR_WIDE = 100               # between the measured 83 (-2..+2 won) and ~120 (-5..+6 won)
WIDE_TRANSPOSE = (-5, 6)            # every key a tune can move to, once
NOMINAL_TOKENS_PER_S = {"cpu": 30_000, "mps": 100_000, "cuda": 300_000}   # 2x256 LSTM, batch 16 x 256
CHOSEN = (f"melody: off when the run sees each note fewer than {PASSES_FOR_TRANSPOSE} times, "
          f"{MELODY_TRANSPOSE[0]}:{MELODY_TRANSPOSE[1]} up to {PASSES_FOR_WIDE}, "
          f"{WIDE_TRANSPOSE[0]}:{WIDE_TRANSPOSE[1]} beyond; performance off")


@dataclass(frozen=True)
class Sizing:
    """The transposition chosen for a run and what it was chosen from."""

    transpose: tuple[int, int]
    passes: float              # expected passes over the training notes
    notes: int
    files: int
    representation: str = "melody"

    def lines(self) -> list[str]:
        low, high = self.transpose
        moved = "off" if (low, high) == (0, 0) else f"{low:+d}..{high:+d} semitones"
        if self.representation != "melody":
            why = "performances and grids are not transposed by default"
        elif (low, high) == (0, 0):
            why = f"fewer than {PASSES_FOR_TRANSPOSE} passes: too few for the files to be learnt by heart"
        elif self.passes < PASSES_FOR_WIDE:
            why = f"{PASSES_FOR_TRANSPOSE} passes or more: transposition keeps the files from being learnt by heart"
        else:
            why = f"{PASSES_FOR_WIDE} passes or more: the files would be learnt by heart in a few keys"
        return [f"chosen for {self.files:,} file(s), {self.notes:,} notes, about {self.passes:,.0f} passes over "
                f"them: transposition {moved}", f"why: {why}"]


def expected_passes(config: TrainConfig, train_tokens: int, device_kind: str = "cpu") -> float:
    """How many times a run of `config` sees its `train_tokens` (its shortest length wins)."""
    tokens = max(train_tokens, 1)
    per_step = config.batch * config.seq_len
    lengths = []
    if config.epochs:
        lengths.append(config.epochs)
    if config.steps:
        lengths.append(config.steps * per_step / tokens)
    if config.minutes:
        speed = NOMINAL_TOKENS_PER_S.get(device_kind, NOMINAL_TOKENS_PER_S["cpu"])
        lengths.append(config.minutes * 60.0 * speed / tokens)
    return min(lengths) if lengths else float(DEFAULT_EPOCHS)


def choose(config: TrainConfig, report, device_kind: str = "cpu") -> Sizing:
    """The Sizing of `config` for the used files of an ingestion report
    (composer.corpus.ingest.IngestReport); the validation share is not trained on."""
    used = report.used()
    notes, tokens = sum(f.n_notes for f in used), sum(f.n_tokens for f in used)
    passes = expected_passes(config, round(tokens * (1.0 - config.val_share)), device_kind)
    if config.representation != "melody":
        transpose = (0, 0)
    else:
        transpose = (WIDE_TRANSPOSE if passes >= PASSES_FOR_WIDE else
                     MELODY_TRANSPOSE if passes >= PASSES_FOR_TRANSPOSE else (0, 0))
    return Sizing(transpose=transpose, passes=passes, notes=notes, files=len(used),
                  representation=config.representation)


def resolve(config: TrainConfig, report, device_kind: str = "cpu") -> tuple[TrainConfig, Sizing | None]:
    """`config` with its transposition chosen when not given, and the Sizing (None when given,
    and for a harmoniser, whose windows of melody and parts move together by its own rule)."""
    if config.transpose is not None or config.objective == "accompany":
        return config, None
    sizing = choose(config, report, device_kind)
    return dataclasses.replace(config, transpose=sizing.transpose), sizing
