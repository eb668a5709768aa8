"""What a model file's JSON metadata may hold: one rule per field.

A model file is input from anywhere: every field is checked for type, range,
length and nesting before any code uses it, so odd metadata is refused with
one line naming the field ("metadata field model.hidden_size must be an
integer 1..8192, got null") instead of failing deep inside with a traceback.
Relations between fields (pitch_low < pitch_high, a meter that fits the grid,
a vocabulary that is the representation's) are the config classes' checks.

Fields a file may lack take the config classes' defaults; the files of format
versions 1-3 fit these rules. The ranges are wide enough for any model this
program trains and narrow enough that no field can ask for absurd memory
(the weights' shapes are checked against the config on loading).
"""
from __future__ import annotations

import json

from composer.model.metadata_rules import (
    Bool,
    Either,
    FieldError,
    Int,
    Json,
    ListOf,
    Null,
    Number,
    Pair,
    Record,
    Switch,
    Text,
    nesting_depth,
)
from composer.model.network import CELLS, LOOKBACK_MAX
from composer.representations.accompany.grid import VOICE_NAMES

__all__ = ["FieldError", "MAX_DEPTH", "check_metadata", "parse_metadata"]

MAX_DEPTH = 32          # lists and objects nested anywhere in the metadata (the deepest written is 5)
FREE = Json(depth=8)    # free-form parts (training summary, settings): any JSON, nested at most 8 deep

COUNT = Int(0, 1_000_000_000)
PITCH = Int(0, 127)
SIZE = Int(1, 8192)                     # embedding and hidden units
FRACTION = Number(0, 1, below_high=True)
NAME = Text(4096)                       # a file or folder name
CELL = Text(choices=tuple(CELLS))

COMMON_MODEL = {
    "vocab_size": Int(1, 100_000),
    "cell": CELL,
    "embed_dim": SIZE,
    "hidden_size": SIZE,
    "num_layers": Int(1, 64),
    "dropout": FRACTION,
    "position_classes": Int(0, 100_000),
}
PLAIN_MODEL = Record({
    **COMMON_MODEL,
    "tie_weights": Bool(),
    "weight_drop": FRACTION,
    "locked_dropout": Bool(),
    "lookback": ListOf(Int(1, 64), most=LOOKBACK_MAX),
    "lookback_copy": Bool(),
}, required=("vocab_size",))
INFILL_MODEL = Record({
    **COMMON_MODEL,
    "architecture": Text(choices=("infill",)),
    "remaining_classes": Int(1, 100_000),
    "context_bars": Int(1, 1024),
    "attention": Bool(),
}, required=("vocab_size",))
HARMONIZER_MODEL = Record({
    **COMMON_MODEL,
    "architecture": Text(choices=("harmonizer",)),
    "voices": Int(0, 16),
    "chords": Bool(),
    "steps_per_beat": Int(choices=(1, 2, 4)),
}, required=("vocab_size",))

MELODY = Record({
    "steps_per_quarter": Int(1, 12),
    "pitch_low": PITCH,
    "pitch_high": PITCH,
    # null: any meter (a numerator and a denominator token); a list: only those meters (older models)
    "time_signatures": Either((Null(), ListOf(Pair(Int(1, 64), Int(choices=(1, 2, 4, 8, 16, 32, 64))),
                                              least=1, most=64))),
    "longest_quarters": Int(1, 64),
    "track": Either((Null(), Int(0, 65_535), Text(1000))),
    "chords": Text(choices=("highest", "lowest")),
    "min_notes": COUNT,
})
PERFORMANCE = Record({
    "shift_ms": Int(1, 1000),
    "max_shift": Int(1, 1000),
    "velocity_bins": Int(1, 127),
    "pitch_low": PITCH,
    "pitch_high": PITCH,
    "min_notes": COUNT,
    "max_simultaneous": Int(1, 128),
    "max_note_seconds": Number(0.01, 3600),
})
FRAMES = Record({
    "steps_per_quarter": Int(1, 96),
    "pitch_low": PITCH,
    "pitch_high": PITCH,
    "min_frames": Int(1, 10**9),
    "max_frames": Int(1, 10**9),
    "order": Text(choices=("ascending", "descending")),
    "frame_cycle": Int(0, 96),
})
DRUMS = Record({
    "steps_per_quarter": Int(1, 12),
    "min_hits": COUNT,
})
ACCOMPANY = Record({
    "steps_per_beat": Int(choices=(1, 2, 4)),
    "voices": ListOf(Text(choices=VOICE_NAMES), most=16),
    "low": PITCH,
    "high": PITCH,
    "programs": ListOf(Int(0, 127), most=16),
    "chords": Bool(),
})


def _representation(kind: str, config: Record) -> Record:
    return Record({"kind": Text(choices=(kind,)), "config": config}, required=("kind", "config"))


TRAINING = Record({
    "corpus": Either((Text(1000), Record({
        "name": Text(1000),
        "folder": Either((Null(), NAME)),
        "val_files": COUNT,
    }, others=FREE))),
    "val_bits_per_note": Either((Null(), Number(0, 1e9))),
    "train_config": Record({
        "folder": Either((Null(), NAME)),
        "val_share": Number(0, 1),
        "seed": Int(-2**63, 2**64),
    }, others=FREE),
}, others=FREE)

METADATA = Record({
    "format": Text(100),
    "format_version": Int(1, 1000),            # newer than this program: refused before these rules
    "created": Text(100),
    "model": Switch("architecture", {None: PLAIN_MODEL, "infill": INFILL_MODEL, "harmonizer": HARMONIZER_MODEL}),
    "representation": Switch("kind", {"melody": _representation("melody", MELODY),
                                      "performance": _representation("performance", PERFORMANCE),
                                      "frames": _representation("frames", FRAMES),
                                      "drums": _representation("drums", DRUMS),
                                      "accompany": _representation("accompany", ACCOMPANY)}),
    "vocabulary": ListOf(Text(100), least=1, most=100_000),
    "training": TRAINING,
    "library_versions": Record({}, others=Text(200)),
    "copy_index": FREE,       # checked when the copy meter uses it (CopyIndex.from_stored): a bad one costs
                              # the meter, not the model
}, required=("format_version", "model", "representation", "vocabulary"), others=FREE)


def check_metadata(meta) -> None:
    """Raise FieldError naming the first field of `meta` (parsed metadata) that breaks its rule."""
    METADATA.check(meta, "")


def parse_metadata(text: str):
    """The JSON `text` parsed, once its nesting is known to be sane; raises
    ValueError for text that is not such JSON."""
    if nesting_depth(text) > MAX_DEPTH:
        raise ValueError(f"metadata nests lists or objects deeper than {MAX_DEPTH} levels")
    return json.loads(text)
