"""The Arrangement: a melody and the parts under it on one time grid.

Every part (the melody and each voice) is a row of step tokens: REST (nothing
sounds), HOLD (the note of the step before goes on) or ONSET + pitch - low (a
note of that pitch starts). Chords are one label per beat
(composer.music.harmony). A step is 1/steps_per_beat of a quarter note.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from composer.config import ConfigMixin
from composer.music import harmony

REST, HOLD, ONSET = 0, 1, 2
VOICE_NAMES = ("soprano", "alto", "tenor", "bass", "inner", "chords")   # names a voice row may have


@dataclass(frozen=True)
class AccompanyConfig(ConfigMixin):
    steps_per_beat: int = 2                 # grid steps per quarter note (2: eighth notes)
    voices: tuple = ("bass",)               # rows predicted under the melody, top to bottom
    low: int = 24                           # lowest pitch of any row
    high: int = 96                          # highest pitch of any row
    programs: tuple = ()                    # General MIDI program per voice row (empty: chosen by name)
    chords: bool = True                     # predict a chord label per beat

    def __post_init__(self):
        if self.steps_per_beat not in (1, 2, 4):
            raise ValueError(f"steps_per_beat must be 1, 2 or 4, got {self.steps_per_beat}")
        if not 0 <= self.low < self.high <= 127:
            raise ValueError(f"pitch range must be within 0..127, got {self.low}..{self.high}")
        object.__setattr__(self, "voices", tuple(self.voices))
        object.__setattr__(self, "programs", tuple(self.programs))
        for name in self.voices:
            if name not in VOICE_NAMES:
                raise ValueError(f"voice {name!r} is not one of {', '.join(VOICE_NAMES)}")
        if self.programs and len(self.programs) != len(self.voices):
            raise ValueError(f"programs must give one program per voice ({len(self.voices)}), got {self.programs}")

    @property
    def step_vocab(self) -> int:
        """Tokens a part row uses: REST, HOLD and one onset per pitch."""
        return ONSET + self.high - self.low + 1

    def onset(self, pitch: int) -> int:
        if not self.low <= pitch <= self.high:
            raise ValueError(f"pitch {pitch} is outside {self.low}..{self.high}")
        return ONSET + pitch - self.low

    def pitch_of(self, token: int) -> int | None:
        return self.low + token - ONSET if token >= ONSET else None


@dataclass
class Arrangement:
    """One piece on the grid. T steps; beats = T // steps_per_beat."""

    steps_per_beat: int
    melody: np.ndarray                      # int16 [T]: step tokens of the melody
    voices: np.ndarray                      # int16 [V, T]: step tokens, one row per voice
    chords: np.ndarray                      # int16 [beats]: harmony label per beat (harmony.NO_CHORD: none)
    step_in_bar: np.ndarray                 # int16 [T]: the step's index within its bar (0 = downbeat)
    voice_names: tuple = ()
    time_signatures: list = field(default_factory=lambda: [(0.0, 4, 4)])   # (beat, num, den), as Song
    tempo: float = 120.0
    name: str = ""
    source: str = ""                        # which tracks the parts come from, in words

    def __post_init__(self):
        steps = len(self.melody)
        if steps % self.steps_per_beat:
            raise ValueError(f"{steps} steps is not a whole number of beats at {self.steps_per_beat} a beat")
        if self.voices.ndim != 2 or self.voices.shape[1] != steps:
            raise ValueError(f"voices must be [voices, {steps}], got {list(self.voices.shape)}")
        if len(self.chords) != steps // self.steps_per_beat or len(self.step_in_bar) != steps:
            raise ValueError("chords need one label per beat and step_in_bar one value per step")
        if len(self.voice_names) != self.voices.shape[0]:
            raise ValueError(f"voice_names {self.voice_names} do not name the {self.voices.shape[0]} voice rows")
        if len(self.chords) and (self.chords.min() < 0 or self.chords.max() >= harmony.LABEL_COUNT):
            raise ValueError("chord labels must be in 0..harmony.LABEL_COUNT - 1")

    @property
    def steps(self) -> int:
        return len(self.melody)

    @property
    def beats(self) -> int:
        return len(self.chords)

    def strong_beat_steps(self) -> np.ndarray:
        """Step indices of each bar's downbeat (harmony_stats.strong_steps adds the middle of 4/4 bars)."""
        return np.flatnonzero(self.step_in_bar == 0)


def sounding_pitches(row: np.ndarray, config: AccompanyConfig) -> np.ndarray:
    """The pitch sounding at each step of a row of step tokens (-1 where none)."""
    out = np.full(len(row), -1, dtype=np.int16)
    current = -1
    for i, token in enumerate(row):
        if token == REST:
            current = -1
        elif token >= ONSET:
            current = config.low + int(token) - ONSET
        out[i] = current
    return out
