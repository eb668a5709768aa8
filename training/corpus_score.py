"""music21 score -> `Song`, with bar lines where the tune has them (see
training.corpus for the policy: pickups right-aligned, split bars joined,
repeats expanded, ties merged, grace notes and chord symbols dropped)."""
from __future__ import annotations

from contextlib import contextmanager
from fractions import Fraction

from composer.errors import ComposerError
from composer.music.song import Note, Song, Track
from composer.representations.melody.config import LISTED_METERS

DEFAULT_TEMPO = 120.0                   # bpm when a tune has no tempo mark
VOICE_NAMES = ("soprano", "alto", "tenor", "bass")
_EPS = 1e-6
EXPANSION_SECONDS = 10.0                # music21 can take minutes on odd repeat structures: give up then
# the listed meters (of the shipped model's melody vocabulary): tunes in others are renotated into them,
# so converted corpora stay usable by listed-meter models (any-meter models would take them as written)
MELODY_METERS = LISTED_METERS
MAX_EXPANSION = 4.0                     # expanded repeats may make a tune at most this many times longer


# ---- bar lines -------------------------------------------------------------
def layout_measures(measures: list[tuple[float, float]]) -> tuple[list[float], int]:
    """Start beat of each measure so that bar lines fall where the tune's do.

    `measures` are (duration, bar_length) in quarter-note beats, in playing
    order. A short measure on a bar line followed by a complete one in the same
    meter is a pickup and is right-aligned to end on the next bar line; a short measure inside a
    bar completes it (split bars at repeats); a measure that would cross a bar
    line it should start on is moved to that bar line. Returns (starts, number
    of measures moved because the bars before them did not add up)."""
    starts, moved = [], 0
    beat, origin, current_bar = 0.0, 0.0, None
    for i, (duration, bar) in enumerate(measures):
        if current_bar is not None and abs(bar - current_bar) > _EPS:      # meter change: restart the grid
            offset = (beat - origin) % current_bar
            if offset > _EPS and current_bar - offset > _EPS:
                beat += current_bar - offset
            origin = beat
        current_bar = bar
        offset = (beat - origin) % bar
        if bar - offset < _EPS:
            offset = 0.0
        following = measures[i + 1] if i + 1 < len(measures) else None
        if offset > _EPS:
            if offset + duration > bar + _EPS:
                beat += bar - offset
                moved += 1
        elif (duration < bar - _EPS and following is not None and abs(following[1] - bar) < _EPS
              and following[0] >= bar - _EPS):
            beat += bar - duration
        starts.append(beat)
        beat += duration
    return starts, moved


@contextmanager
def _without_beams():
    """music21's ABC reader spends most of its time drawing beams, which MIDI
    does not have: skip that while parsing (restored afterwards)."""
    from music21 import stream
    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None if kwargs.get("inPlace") else self
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


class ExpansionTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Raise ExpansionTimeout after `seconds` of wall time; only in the main
    thread of a POSIX process (the conversion workers), else no limit."""
    import signal
    import threading
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum, _frame):
        raise ExpansionTimeout(f"gave up after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_score(text: str | None, path: str):
    """Parse ABC `text` (one tune), or the file at `path` when text is None;
    an Opus gives its first score."""
    from music21 import converter, stream
    with _without_beams():
        parsed = converter.parse(text, format="abc") if text is not None else converter.parse(path)
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise ComposerError("no tune in the file")
        parsed = scores[0]
    return parsed


def _voices(score) -> list:
    """The parts to keep: the four SATB voices when a chorale also has
    instrument doublings, else every part."""
    parts = list(score.parts) or [score]
    named = [p for p in parts if (p.partName or "").strip().lower().startswith(VOICE_NAMES)]
    return named if len(named) == 4 and len(parts) > 4 else parts


def _part_notes(measures: list, starts: list[float]) -> list[Note]:
    """The notes of one part placed at the measures' new starts (beats). Tied
    notes of the same pitch become one note; a tie to a different pitch (ABC
    books such as O'Neill's write slurs as ties) is ignored. Grace notes and
    chord symbols are dropped."""
    from music21 import harmony
    out: dict[tuple[float, int], Note] = {}
    open_ties: dict[int, list[float]] = {}        # pitch -> [onset, end] of a note whose tie is not closed

    def emit(pitch: int, onset: float, end: float) -> None:
        out.setdefault((round(onset, 6), pitch), Note(onset, end, pitch))

    for start, m in zip(starts, measures):
        for el in m.flatten().notes:
            if isinstance(el, harmony.Harmony) or el.duration.isGrace or el.quarterLength <= 0:
                continue
            onset = start + float(Fraction(el.offset))
            end = onset + float(el.quarterLength)
            tie = el.tie.type if getattr(el, "tie", None) is not None else None
            pitches = {p.midi for p in el.pitches if 0 <= p.midi <= 127}
            for q in [q for q in open_ties if q not in pitches]:
                emit(q, *open_ties.pop(q))
            for p in sorted(pitches):
                if p in open_ties and tie in ("stop", "continue"):
                    open_ties[p][1] = end
                    if tie == "stop":
                        emit(p, *open_ties.pop(p))
                    continue
                if p in open_ties:
                    emit(p, *open_ties.pop(p))
                if tie in ("start", "continue"):
                    open_ties[p] = [onset, end]
                else:
                    emit(p, onset, end)
    for q, (onset, end) in open_ties.items():
        emit(q, onset, end)
    return sorted(out.values())


def _meter_change(marks: list, i: int, current) -> bool:
    """Whether measure i's time signature (marks[i], None if it has none)
    really changes the meter. Not: a power-of-two check fails (music21 reads
    some ABC grace-note triplets as 1/6), a 1/N "meter", or a one-measure
    meter that the next measure reverts to `current` - music21 marks short
    measures (split bars at repeats, mid-tune pickups) that way, which would
    cut the melody at the first one."""
    mark = marks[i]
    if mark is None or not _real_meter(mark) or mark.numerator == 1:
        return False
    if current is not None and mark.ratioString == current.ratioString:
        return False
    following = marks[i + 1] if i + 1 < len(marks) else None
    reverts = following is not None and current is not None and following.ratioString == current.ratioString
    return not reverts


def _real_meter(ts) -> bool:
    """False for the odd meters music21 makes of some ABC triplets with grace
    notes (e.g. 1/6): MIDI needs a power-of-two denominator."""
    den = ts.denominator
    return den > 0 and den & (den - 1) == 0 and ts.numerator > 0


def _bar_length(ts) -> float:
    return float(ts.barDuration.quarterLength)


def score_to_song(score, *, expand_repeats: bool = True, program: int = 0,
                  renotate_meters: bool = True) -> tuple[Song, dict]:
    """A music21 Score as a `Song` with bar lines laid out by `layout_measures`.

    Returns (song, info) where info has "pickup" (beats of rest added before
    the first note), "realigned" (measures moved), "expanded" ("" or the reason
    repeats were left as written), "meter" and "renotated" ("" or e.g.
    "3/2 -> 3/4", see `renotate`)."""
    from music21 import meter, stream, tempo
    info = {"expanded": ""}
    if expand_repeats:
        try:
            with _time_limit(EXPANSION_SECONDS):
                expanded = score.expandRepeats()
        except Exception as exc:  # music21 raises several types for repeats it cannot follow
            info["expanded"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
        else:
            written, played = float(score.highestTime), float(expanded.highestTime)
            if played > MAX_EXPANSION * max(written, 1.0):      # e.g. P: parts read as nested repeats
                info["expanded"] = f"expansion too long ({played:.0f} beats from {written:.0f})"
            else:
                score = expanded
    parts = _voices(score)
    measures = [list(p.getElementsByClass(stream.Measure)) for p in parts]
    if not measures[0]:
        raise ComposerError("no measures")
    if any(len(m) != len(measures[0]) for m in measures):
        raise ComposerError(f"parts have different numbers of bars ({', '.join(str(len(m)) for m in measures)})")
    ts = measures[0][0].timeSignature or score.flatten().getElementsByClass(meter.TimeSignature).first()
    ts = ts or meter.TimeSignature("4/4")
    shape, signatures = [], []
    marks = [m.timeSignature for m in measures[0]]
    for i, m in enumerate(measures[0]):
        if _meter_change(marks, i, ts):
            ts = m.timeSignature
        shape.append((float(m.duration.quarterLength), _bar_length(ts)))
        signatures.append((ts.numerator, ts.denominator))
    starts, moved = layout_measures(shape)
    time_sigs: list[tuple[float, int, int]] = []
    for start, sig in zip(starts, signatures):
        if not time_sigs or time_sigs[-1][1:] != sig:
            time_sigs.append((0.0 if not time_sigs else start, *sig))
    tracks = []
    for part, part_measures in zip(parts, measures):
        notes = _part_notes(part_measures, starts)
        if notes:
            tracks.append(Track(notes=notes, program=program, name=part.partName or ""))
    if not tracks:
        raise ComposerError("no notes")
    mark = score.flatten().getElementsByClass(tempo.MetronomeMark).first()
    bpm = float(mark.getQuarterBPM()) if mark is not None and mark.getQuarterBPM() else DEFAULT_TEMPO
    song = Song(tracks=tracks, tempos=[(0.0, min(max(bpm, 20.0), 400.0))], time_signatures=time_sigs)
    written = f"{time_sigs[0][1]}/{time_sigs[0][2]}"
    song, factor = renotate(song) if renotate_meters else (song, 1)
    first = min(n.start for t in song.tracks for n in t.notes)
    num, den = song.time_signature
    info.update(pickup=starts[0] / factor, realigned=moved, meter=f"{num}/{den}", first_note=first,
                renotated=f"{written} -> {num}/{den}" if factor > 1 else "")
    return song, info


def renotate(song: Song, meters: tuple = MELODY_METERS) -> tuple[Song, int]:
    """A song whose opening meter is not in `meters` written with shorter note
    values, if that gives one of them: 3/2 -> 3/4, 4/2 -> 4/4, 6/2 -> 6/8,
    3/1 -> 3/4, 6/4 -> 6/8 (every duration divided by 2, 4 or 8; tempo in
    quarter notes divided likewise, so it sounds the same). Returns (song, factor)."""
    num, den = song.time_signature
    if (num, den) in meters:
        return song, 1
    factor = next((f for f in (2, 4, 8) if (num, den * f) in meters), 1)
    if factor == 1:
        return song, 1
    tracks = [Track(notes=[Note(n.start / factor, n.end / factor, n.pitch, n.velocity) for n in t.notes],
                    program=t.program, is_drum=t.is_drum, name=t.name) for t in song.tracks]
    return Song(tracks=tracks, tempos=[(b / factor, max(bpm / factor, 10.0)) for b, bpm in song.tempos],
                time_signatures=[(b / factor, n, d * factor) for b, n, d in song.time_signatures]), factor
