"""The melody vocabulary's fixed tokens and its config (grid, pitch range,
meters, and the policy that takes one line from a multi-track file)."""
from __future__ import annotations

from dataclasses import dataclass

from composer.config import ConfigMixin

SPECIALS = ["<pad>", "<bos>", "<eos>", "bar", "rest", "hold"]
BAR, REST, HOLD = 3, 4, 5


@dataclass(frozen=True)
class MelodyConfig(ConfigMixin):
    steps_per_quarter: int = 4
    pitch_low: int = 36
    pitch_high: int = 96
    time_signatures: tuple = ((2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 8), (5, 4))
    track: int | str | None = None     # policy override: a track index or part of its name
    chords: str = "highest"            # "highest" or "lowest"
    min_notes: int = 8

    def __post_init__(self):
        if self.steps_per_quarter not in (1, 2, 3, 4, 6, 8, 12):
            raise ValueError(f"steps_per_quarter must be one of 1,2,3,4,6,8,12, got {self.steps_per_quarter}")
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise ValueError(f"pitch range must be within 0..127, got {self.pitch_low}..{self.pitch_high}")
        if self.chords not in ("highest", "lowest"):
            raise ValueError(f"chords must be 'highest' or 'lowest', got {self.chords!r}")
        for num, den in self.time_signatures:
            if self._steps(num, den) != int(self._steps(num, den)):
                raise ValueError(f"time signature {num}/{den} does not fit the grid")

    def _steps(self, num, den) -> float:
        return num * 4 / den * self.steps_per_quarter

    def steps_per_bar(self, time_signature: tuple[int, int]) -> int:
        return int(self._steps(*time_signature))

    @property
    def max_duration(self) -> int:
        return max(self.steps_per_bar(ts) for ts in self.time_signatures)
