"""The melody vocabulary's fixed tokens and its config (grid, pitch range,
meters, and the policy that takes one line from a multi-track file)."""
from __future__ import annotations

from dataclasses import dataclass

from composer.config import ConfigMixin

SPECIALS = ["<pad>", "<bos>", "<eos>", "bar", "rest", "hold"]
BAR, REST, HOLD = 3, 4, 5

# The nine meters of the listed-meter vocabulary (one token each): what models
# trained before any meter could be stated were given.
LISTED_METERS = ((2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 8), (5, 4))
NUMERATORS = range(1, 33)                   # as MIDI files state them
DENOMINATORS = (1, 2, 4, 8, 16, 32)
MAX_BAR_QUARTERS = 32                       # the longest bar: 8 whole notes (e.g. 32/4, 16/2, 8/1)


def meter_range_problem(time_signature: tuple[int, int]) -> str | None:
    """Why `time_signature` is no meter the any-meter vocabulary writes, whatever its
    grid (numerator 1-32, denominator a power of two 1-32, at most MAX_BAR_QUARTERS
    quarter notes a bar); None if it is one."""
    num, den = time_signature
    name = f"time signature {num}/{den}"
    if num not in NUMERATORS or den not in DENOMINATORS:
        return f"{name}: the numerator must be 1-32 and the denominator one of 1, 2, 4, 8, 16, 32"
    if num * 4 > MAX_BAR_QUARTERS * den:
        return f"{name}: a bar longer than {MAX_BAR_QUARTERS // 4} whole notes"
    return None


@dataclass(frozen=True)
class MelodyConfig(ConfigMixin):
    steps_per_quarter: int = 4
    pitch_low: int = 36
    pitch_high: int = 96
    # None: any meter, written as a numerator and a denominator token; a tuple of
    # (num, den): only those meters, one token each (models made before; their files store it)
    time_signatures: tuple | None = None
    longest_quarters: int = 8          # any-meter vocabulary: the longest duration token (a longer note is note + hold)
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
        if not 1 <= self.longest_quarters <= MAX_BAR_QUARTERS:
            raise ValueError(f"longest_quarters must be in 1..{MAX_BAR_QUARTERS}, got {self.longest_quarters}")
        if self.time_signatures is not None:     # a model file's JSON gives lists
            object.__setattr__(self, "time_signatures", tuple(tuple(ts) for ts in self.time_signatures))
        for num, den in self.time_signatures or ():
            if self._steps(num, den) != int(self._steps(num, den)):
                raise ValueError(f"time signature {num}/{den} does not fit the grid")

    def _steps(self, num, den) -> float:
        return num * 4 / den * self.steps_per_quarter

    @property
    def any_meter(self) -> bool:
        """Meters are a numerator and a denominator token (else one token per listed meter)."""
        return self.time_signatures is None

    def steps_per_bar(self, time_signature: tuple[int, int]) -> int:
        return int(self._steps(*time_signature))

    def meter_problem(self, time_signature: tuple[int, int]) -> str | None:
        """Why this vocabulary cannot write `time_signature`, in words; None if it can."""
        num, den = time_signature
        name = f"time signature {num}/{den}"
        if not self.any_meter:
            if (num, den) in [tuple(t) for t in self.time_signatures]:
                return None
            known = ", ".join(f"{n}/{d}" for n, d in self.time_signatures)
            return f"{name} is not one this model knows ({known})"
        problem = meter_range_problem((num, den))
        if problem:
            return problem
        if num * 4 * self.steps_per_quarter % den:
            return f"{name}: a bar that does not fit the grid of {self.steps_per_quarter} steps per quarter note"
        return None

    @property
    def max_duration(self) -> int:
        """The longest duration token, in grid steps."""
        if self.any_meter:
            return self.longest_quarters * self.steps_per_quarter
        return max(self.steps_per_bar(ts) for ts in self.time_signatures)

    @property
    def max_bar_steps(self) -> int:
        """The longest bar any meter of this vocabulary makes, in grid steps."""
        if self.any_meter:
            return MAX_BAR_QUARTERS * self.steps_per_quarter
        return self.max_duration
