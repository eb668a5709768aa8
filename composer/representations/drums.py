"""The drum-pattern representation: the drum track of a song on a grid, one
token per grid step, as Magenta's Drums RNN writes it.

Tokens (after <pad> <bos> <eos>):
  bar          start of every bar
  num:N den:D  the meter N/D right after <bos>, and again before the bar where it changes
  hit:...      one grid step: the set of drum classes struck on it ("hit:-" is a silent step)

A piece is <bos> num den bar step*S bar step*S ... <eos>, with S the steps of a
bar of the meter (16 for 4/4, 12 for 6/8 and 3/4, 14 for 7/8 at 4 steps a
quarter note). Every bar has exactly its S steps, so a sampler writes an exact
number of bars in any meter by counting, and the model gets the step within
the bar as its position input (`positions`), as the melody model does.

Why one token per step for the set of classes (512 tokens) rather than one
event per hit: the length of a bar in tokens is fixed, so the step within the
bar and the bar count follow from the token count alone (no duration tokens
to sample and constrain), and a step with kick and hat together is one choice
of the model, not two that must agree.

Drum classes, from General MIDI drum notes (Magenta's drum models' reduction;
a note not listed is dropped and counted in `notes_dropped`). Decoding writes
the first note of each class:
  kick        36, 35
  snare       38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85
  closed hat  42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22
  open hat    46, 67, 72, 74, 79, 81, 26
  low tom     45, 29, 41, 43, 61, 64, 84
  mid tom     48, 47, 60, 63, 77, 86, 87
  high tom    50, 30, 62, 76, 83
  crash       49, 52, 55, 57, 58
  ride        51, 53, 59, 82

Velocities are not learned: decoding accents the metre (`accent`: 112 on the
downbeat, 96 on the other beats, 80 halfway between, 64 elsewhere). Learned
velocity bins would multiply the 512 step tokens, or add a token per hit, for
something a metric accent already makes sound played.

Policy: every drum track of the file (is_drum, MIDI channel 10) is merged; a
file without one is skipped with "no drum track". The grid has
`steps_per_quarter` steps a quarter note (4: sixteenths; 12 also catches
triplets, at three times the tokens). Bars are those of the file's meter map;
a meter change that does not fall on a bar line, or to a meter the grid
cannot hold, cuts the music at the last bar line before it. Whole silent bars
before the first hit are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from composer.config import ConfigMixin
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, Constraints, Encoded, Tokenizer, UnusableMusic
from composer.representations.melody.config import DENOMINATORS, MAX_BAR_QUARTERS, NUMERATORS, meter_range_problem

DRUM_CLASSES = (
    ("kick", (36, 35)),
    ("snare", (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85)),
    ("closed hat", (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22)),
    ("open hat", (46, 67, 72, 74, 79, 81, 26)),
    ("low tom", (45, 29, 41, 43, 61, 64, 84)),
    ("mid tom", (48, 47, 60, 63, 77, 86, 87)),
    ("high tom", (50, 30, 62, 76, 83)),
    ("crash", (49, 52, 55, 57, 58)),
    ("ride", (51, 53, 59, 82)),
)
CLASS_OF_PITCH = {p: k for k, (_, pitches) in enumerate(DRUM_CLASSES) for p in pitches}
N_STEP_TOKENS = 1 << len(DRUM_CLASSES)
BAR = 3


@dataclass(frozen=True)
class DrumsConfig(ConfigMixin):
    steps_per_quarter: int = 4
    min_hits: int = 8               # a drum track with fewer hits is too short to learn from

    def __post_init__(self):
        if self.steps_per_quarter not in (1, 2, 3, 4, 6, 8, 12):
            raise ValueError(f"steps_per_quarter must be one of 1,2,3,4,6,8,12, got {self.steps_per_quarter}")
        if self.min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {self.min_hits}")

    def steps_per_bar(self, time_signature: tuple[int, int]) -> int:
        num, den = time_signature
        return num * 4 * self.steps_per_quarter // den

    def meter_problem(self, time_signature: tuple[int, int]) -> str | None:
        """Why this grid cannot hold `time_signature`, in words; None if it can."""
        num, den = time_signature
        problem = meter_range_problem((num, den))
        if problem is None and num * 4 * self.steps_per_quarter % den:
            problem = (f"time signature {num}/{den}: a bar that does not fit the grid of "
                       f"{self.steps_per_quarter} steps per quarter note")
        return problem


def accent(step: int, time_signature: tuple[int, int], steps_per_quarter: int) -> int:
    """The velocity of a hit on grid `step` of a bar: the downbeat, the other beats
    (dotted quarters in 6/8, 9/8, 12/8), the half beats, the rest."""
    num, den = time_signature
    beat = Fraction(4 * steps_per_quarter, den) * (3 if den >= 8 and num % 3 == 0 and num > 3 else 1)
    if step == 0:
        return 112
    if step % beat == 0:
        return 96
    return 80 if (2 * step) % beat == 0 else 64


class DrumsTokenizer(Tokenizer):
    kind = "drums"
    config: DrumsConfig

    def __init__(self, config: DrumsConfig | None = None):
        super().__init__(config or DrumsConfig())
        self.num_base = BAR + 1
        self.den_base = self.num_base + len(NUMERATORS)
        self.step_base = self.den_base + len(DENOMINATORS)

    def _build_vocab(self) -> list[str]:
        steps = ["hit:" + ("+".join(name for k, (name, _) in enumerate(DRUM_CLASSES) if mask >> k & 1) or "-")
                 for mask in range(N_STEP_TOKENS)]
        return (["<pad>", "<bos>", "<eos>", "bar"] + [f"num:{n}" for n in NUMERATORS]
                + [f"den:{d}" for d in DENOMINATORS] + steps)

    # ---- token helpers -------------------------------------------------------
    def meter_tokens(self, ts: tuple[int, int]) -> list[int]:
        """The two tokens that state meter `ts`; ValueError naming it when the grid cannot hold it."""
        problem = self.config.meter_problem(tuple(ts))
        if problem:
            raise ValueError(problem)
        return [self.num_base + ts[0] - NUMERATORS[0], self.den_base + DENOMINATORS.index(ts[1])]

    def is_step(self, tok: int) -> bool:
        return self.step_base <= tok < self.step_base + N_STEP_TOKENS

    def step_token(self, classes: int) -> int:
        """The token of one grid step that strikes the drum classes of bit mask `classes`."""
        return self.step_base + classes

    # ---- encode ----------------------------------------------------------------
    def drum_hits(self, song: Song) -> tuple[dict[int, int], int, int]:
        """({grid step: class bit mask}, notes dropped for their pitch, drum tracks) of `song`."""
        spq, hits, dropped = self.config.steps_per_quarter, {}, 0
        tracks = [t for t in song.tracks if t.is_drum and t.notes]
        for track in tracks:
            for note in track.notes:
                k = CLASS_OF_PITCH.get(note.pitch)
                if k is None:
                    dropped += 1
                    continue
                step = round(note.start * spq)
                hits[step] = hits.get(step, 0) | (1 << k)
        return hits, dropped, len(tracks)

    def song_bars(self, song: Song, end: int) -> list[tuple[int, tuple[int, int]]]:
        """(first grid step, meter) of the bars of `song` that start before grid step
        `end`, following its meter map up to where it must be cut (module docstring).
        Raises UnusableMusic when the opening meter does not fit the grid."""
        c = self.config
        ts = tuple(song.time_signature)
        problem = c.meter_problem(ts)
        if problem:
            raise UnusableMusic(f"unsupported {problem}")
        changes = sorted((b * c.steps_per_quarter, (n, d)) for b, n, d in song.time_signatures[1:])
        bars, start, k = [], 0, 0
        while start < end:
            while k < len(changes) and changes[k][0] < start + c.steps_per_bar(ts):
                at, new = changes[k]
                if new != ts and (at != start or c.meter_problem(new)):
                    return bars            # off the bar line, or a meter the grid cannot hold: cut here
                ts, k = new, k + 1
            bars.append((start, ts))
            start += c.steps_per_bar(ts)
        return bars

    def encode(self, song: Song) -> Encoded:
        hits, dropped, n_tracks = self.drum_hits(song)
        if not n_tracks:
            raise UnusableMusic("no drum track")
        bars = self.song_bars(song, max(hits, default=-1) + 1)
        end = bars[-1][0] + self.config.steps_per_bar(bars[-1][1]) if bars else 0
        hits = {s: m for s, m in hits.items() if s < end}
        n_hits = sum(bin(m).count("1") for m in hits.values())
        if n_hits < self.config.min_hits:
            raise UnusableMusic(f"too short ({n_hits} drum hits, need {self.config.min_hits})")
        first = min(hits)
        bars = [(s, ts) for k, (s, ts) in enumerate(bars) if k + 1 == len(bars) or bars[k + 1][0] > first]
        tokens = self.encode_bars([[hits.get(s + i, 0) for i in range(self.config.steps_per_bar(ts))]
                                   for s, ts in bars], [ts for _, ts in bars])
        return Encoded(tokens=tokens, n_notes=n_hits, source=f"{n_tracks} drum track(s) merged",
                       notes_dropped=dropped, info={"time_signature": "{}/{}".format(*bars[0][1]), "bars": len(bars)})

    def encode_bars(self, bars: list[list[int]], meters: list[tuple[int, int]], *, end: bool = True) -> list[int]:
        """Tokens for bars of class bit masks (one per grid step) in `meters` (one per bar)."""
        tokens, previous = [BOS], None
        for steps, ts in zip(bars, meters):
            if tuple(ts) != previous:
                tokens += self.meter_tokens(ts)
                previous = tuple(ts)
            if len(steps) != self.config.steps_per_bar(ts):
                raise ValueError(f"a bar of {ts[0]}/{ts[1]} has {self.config.steps_per_bar(ts)} steps, "
                                 f"got {len(steps)}")
            tokens.append(BAR)
            tokens += [self.step_token(m) for m in steps]
        if end:
            tokens.append(EOS)
        return tokens

    # ---- decode ----------------------------------------------------------------
    def decode_bars(self, tokens) -> list[tuple[tuple[int, int], list[int]]]:
        """Lenient decoding: (meter, class masks of its steps) of every bar; reading
        stops at <eos>, a step past the end of its bar is dropped, a bar cut short
        ends in silent steps, steps before the first bar line open a bar of 4/4."""
        bars: list[tuple[tuple[int, int], list[int]]] = []
        meter, numerator = (4, 4), None
        for tok in (int(t) for t in tokens):
            if tok == EOS:
                break
            if self.num_base <= tok < self.den_base:
                numerator = NUMERATORS[tok - self.num_base]
            elif self.den_base <= tok < self.step_base and numerator is not None:
                ts = (numerator, DENOMINATORS[tok - self.den_base])
                meter, numerator = (meter if self.config.meter_problem(ts) else ts), None
            elif tok == BAR or (self.is_step(tok) and not bars):
                bars.append((meter, []))
            if self.is_step(tok) and len(bars[-1][1]) < self.config.steps_per_bar(bars[-1][0]):
                bars[-1][1].append(tok - self.step_base)
        return [(ts, steps + [0] * (self.config.steps_per_bar(ts) - len(steps))) for ts, steps in bars]

    def bar_notes(self, ts: tuple[int, int], steps: list[int], start: float, stop: float | None = None) -> list[Note]:
        """The notes of one bar of class masks `steps` in meter `ts` that starts at beat
        `start`; hits at or after beat `stop` (a bar cut short) are left out."""
        spq = self.config.steps_per_quarter
        notes = []
        for i, mask in enumerate(steps):
            beat = start + i / spq
            if stop is not None and beat >= stop - 1e-9:
                break
            velocity = accent(i, ts, spq)
            notes += [Note(beat, beat + 1 / spq, DRUM_CLASSES[k][1][0], velocity)
                      for k in range(len(DRUM_CLASSES)) if mask >> k & 1]
        return notes

    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        notes, meters, beat = [], [], 0.0
        for ts, steps in self.decode_bars(tokens):
            if not meters or meters[-1][1:] != ts:
                meters.append((beat, *ts))
            notes += self.bar_notes(ts, steps, beat)
            beat += ts[0] * 4 / ts[1]
        return Song(tracks=[drum_track(notes)], tempos=[(0.0, float(tempo))],
                    time_signatures=meters or [(0.0, 4, 4)], length=beat)

    # ---- the rest of the Tokenizer interface -------------------------------------
    def count_notes(self, tokens) -> int:
        """Drum hits (each class struck on a step is one)."""
        return sum(bin(int(t) - self.step_base).count("1") for t in tokens if self.is_step(int(t)))

    @property
    def position_classes(self) -> int:
        return MAX_BAR_QUARTERS * self.config.steps_per_quarter

    def positions(self, tokens) -> list[int]:
        """The grid step within the bar that the next step token fills, after each
        token (the same value the sampling grammar tracks)."""
        pos, spb, numerator, out = 0, self.config.steps_per_bar((4, 4)), None, []
        for tok in (int(t) for t in tokens):
            if self.num_base <= tok < self.den_base:
                numerator = NUMERATORS[tok - self.num_base]
            elif self.den_base <= tok < self.step_base and numerator is not None:
                ts = (numerator, DENOMINATORS[tok - self.den_base])
                spb = spb if self.config.meter_problem(ts) else self.config.steps_per_bar(ts)
            elif tok == BAR:
                pos = 0
            elif self.is_step(tok):
                pos = (pos + 1) % spb
            out.append(min(pos, self.position_classes - 1))
        return out

    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        """Drums have no pitch to move: the same tokens."""
        return list(tokens)

    def grammar(self, batch: int, constraints: Constraints, device):
        from composer.representations.drum_grammar import DrumGrammar
        if constraints.bars is None or constraints.bars < 1:
            raise ValueError(f"drum sampling needs bars >= 1, got {constraints.bars}")
        return DrumGrammar(self, batch, [tuple(constraints.time_signature or (4, 4))] * constraints.bars, device)


def drum_track(notes: list[Note]) -> Track:
    """A General MIDI drum track (written on MIDI channel 10)."""
    return Track(notes=sorted(notes), program=0, is_drum=True, name="Drums")
