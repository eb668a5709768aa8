"""The generation settings a user starts from, in one place: the generation
service's GenerateRequest, the CLI's options and the app's controls take their
defaults here, so one seed gives the same music from either front end.
(Imports nothing heavy: the CLI reads it before torch is loaded.)"""
from __future__ import annotations

from dataclasses import dataclass

FREE = "free"
AUTO = "auto"
NAMED_FORMS = ("AABB", "AABA", "ABAB", "ABAC")      # others are accepted too
FORMS = (AUTO, FREE) + NAMED_FORMS                  # the choices offered (the app's list)


@dataclass(frozen=True)
class GenerateDefaults:
    count: int = 1
    bars: int = 8                 # a melody's length when a request gives neither bars nor seconds
    temperature: float = 1.0
    top_k: int = 0                # off
    top_p: float = 0.95           # the tail's rare tokens break the repeats a model has learned (docs/form.md)
    pitch_low: int = 0            # no pitch constraint
    pitch_high: int = 127
    tempo: float = 120.0
    program: int = 0              # General MIDI piano
    form: str = AUTO

    @property
    def seconds(self) -> float:
        """A performance's length when none is given: `bars` of 4/4 at `tempo`."""
        return self.bars * 4 * 60.0 / self.tempo


DEFAULTS = GenerateDefaults()
APP_COUNT = 4        # the app lists four variations; piece k of a seed is the same at any count
