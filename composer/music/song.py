"""In-memory music: the value types every other module speaks.

Times are in quarter-note beats (float) from the start of the piece; the tempo
map turns beats into seconds. Pitches are MIDI numbers 0..127.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from composer.errors import ComposerError

GM_DRUM_CHANNEL = 9  # channel 10 when counted from 1
MIN_BAR_BEATS = 0.125  # the shortest bar a meter can make: 1/32, in quarter notes


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note; `start`/`end` in beats (quarter notes)."""

    start: float
    end: float
    pitch: int
    velocity: int = 80

    def __post_init__(self):
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch must be in 0..127, got {self.pitch}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity must be in 1..127, got {self.velocity}")
        if not self.end > self.start >= 0:
            raise ValueError(f"note needs 0 <= start < end, got start={self.start} end={self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Track:
    notes: list[Note] = field(default_factory=list)
    program: int = 0          # General MIDI program 0..127
    is_drum: bool = False
    name: str = ""

    def __post_init__(self):
        if not 0 <= self.program <= 127:
            raise ValueError(f"program must be in 0..127, got {self.program}")


@dataclass
class Song:
    """A whole piece: tracks plus the tempo and meter maps.

    `tempos` is a sorted list of (beat, bpm) starting at beat 0;
    `time_signatures` a sorted list of (beat, numerator, denominator).
    `length` is where the piece ends, in beats from 0, when that is after its
    last note (a piece can end in bars of rest): the melody decoder sets it to
    the bars it decoded, `read_midi` to the file's end-of-track, and
    `write_midi` ends the file there (or at the last note, if later). None: the
    piece ends with its last note. `ticks_per_beat` is the resolution of the
    file it was read from; `write_midi` writes at it, so every tick is kept
    (None: composer.music.midifile.WRITE_TICKS_PER_BEAT). `damage`: for a song
    read from a damaged file, what was wrong and what was kept ("truncated at
    byte 1,234 (...): kept 212 notes"); "" otherwise (not compared).
    """

    tracks: list[Track] = field(default_factory=list)
    tempos: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 120.0)])
    time_signatures: list[tuple[float, int, int]] = field(default_factory=lambda: [(0.0, 4, 4)])
    length: float | None = None
    ticks_per_beat: int | None = None
    damage: str = field(default="", compare=False, repr=False)

    def __post_init__(self):
        for _, bpm in self.tempos:
            if not bpm > 0:
                raise ValueError(f"tempo must be > 0 bpm, got {bpm}")
        if self.length is not None and not 0 <= self.length < float("inf"):
            raise ValueError(f"length must be a finite number of beats >= 0, got {self.length}")
        if self.ticks_per_beat is not None:
            if isinstance(self.ticks_per_beat, bool) or not isinstance(self.ticks_per_beat, int):
                raise TypeError(f"ticks_per_beat must be an int, got {self.ticks_per_beat!r}")
            if not 1 <= self.ticks_per_beat <= 0x7FFF:
                raise ValueError(f"ticks_per_beat must be in 1..32767, got {self.ticks_per_beat}")
        if not self.tempos or self.tempos[0][0] != 0:
            self.tempos = [(0.0, self.tempos[0][1] if self.tempos else 120.0)] + list(self.tempos)

    @property
    def tempo(self) -> float:
        """The opening tempo in bpm."""
        return self.tempos[0][1]

    @property
    def time_signature(self) -> tuple[int, int]:
        """The opening time signature as (numerator, denominator)."""
        return self.time_signatures[0][1:] if self.time_signatures else (4, 4)

    @property
    def notes(self) -> list[Note]:
        """All notes of all non-drum tracks, sorted by start."""
        return sorted(n for t in self.tracks if not t.is_drum for n in t.notes)

    @property
    def end_beat(self) -> float:
        """Where the last note (any track) ends, in beats; 0 without notes."""
        return max((n.end for t in self.tracks for n in t.notes), default=0.0)

    @property
    def length_beats(self) -> float:
        """Where the piece ends, in beats: `length`, or `end_beat` if that is later
        (or `length` is None)."""
        return max(self.end_beat, self.length or 0.0)

    def seconds_at(self, beat: float) -> float:
        """Seconds from the start at `beat`, following the tempo map."""
        seconds, prev_beat, prev_bpm = 0.0, 0.0, self.tempos[0][1]
        for change_beat, bpm in self.tempos[1:]:
            if change_beat >= beat:
                break
            seconds += (change_beat - prev_beat) * 60.0 / prev_bpm
            prev_beat, prev_bpm = change_beat, bpm
        return seconds + (beat - prev_beat) * 60.0 / prev_bpm

    def beat_at(self, seconds: float) -> float:
        """Inverse of `seconds_at`."""
        elapsed, prev_beat, prev_bpm = 0.0, 0.0, self.tempos[0][1]
        for change_beat, bpm in self.tempos[1:]:
            span = (change_beat - prev_beat) * 60.0 / prev_bpm
            if elapsed + span >= seconds:
                break
            elapsed += span
            prev_beat, prev_bpm = change_beat, bpm
        return prev_beat + (seconds - elapsed) * prev_bpm / 60.0

    @property
    def duration_seconds(self) -> float:
        return self.seconds_at(self.end_beat)

    def bar_length(self) -> float:
        """Length of one bar of the opening meter, in beats."""
        num, den = self.time_signature
        return num * 4.0 / den

    def bar_starts(self, end: float | None = None) -> list[float]:
        """The beat of every bar line from 0 up to `end` (default: `length_beats`; a bar
        that starts before it counts), following the meter map: a change starts a bar
        (one it falls inside ends early, as the melody representation's cut). A meter
        whose bar is shorter than a 32nd note (0/4, a denominator of 2**20: a MIDI file
        may state one) is no change: bars of the meter before go on."""
        end = self.length_beats if end is None else end
        meters = [m for m in sorted(self.time_signatures)
                  if m[2] > 0 and m[1] * 4.0 / m[2] >= MIN_BAR_BEATS] or [(0.0, 4, 4)]
        starts, beat, k = [], 0.0, 0
        while beat < end - 1e-9:
            while k + 1 < len(meters) and meters[k + 1][0] <= beat + 1e-9:
                k += 1
            starts.append(beat)
            beat += meters[k][1] * 4.0 / meters[k][2]
            if k + 1 < len(meters) and meters[k + 1][0] < beat - 1e-9:
                beat = meters[k + 1][0]
        return starts


def melody_song(notes: list[Note], *, tempo: float = 120.0, program: int = 0,
                time_signature: tuple[int, int] = (4, 4), name: str = "melody") -> Song:
    """A one-track song, the shape generation returns."""
    return Song(tracks=[Track(notes=sorted(notes), program=program, name=name)],
                tempos=[(0.0, float(tempo))],
                time_signatures=[(0.0, *time_signature)])


_NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def pitch_name(pitch: int) -> str:
    """MIDI pitch to scientific name: 60 -> 'C4'."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def parse_time_signature(text: str) -> tuple[int, int]:
    """'6/8' -> (6, 8); whether a model knows the meter is the model's to say."""
    try:
        num, den = (int(x) for x in text.strip().split("/"))
    except ValueError:
        raise ComposerError(f"time signature must look like 6/8, got {text!r}") from None
    return num, den
