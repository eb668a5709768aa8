"""The melody tokenizer: the melody line of a song, and its tokens in both
directions (the format and the policy are in the package docstring)."""
from __future__ import annotations

from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, Constraints, Encoded, Tokenizer, UnusableMusic
from composer.representations.melody.config import (
    BAR,
    DENOMINATORS,
    HOLD,
    NUMERATORS,
    REST,
    SPECIALS,
    MelodyConfig,
)
from composer.representations.melody.decoder import MelodyDecoder
from composer.representations.melody.grammar import MelodyGrammar


class MelodyTokenizer(Tokenizer):
    kind = "melody"
    config: MelodyConfig

    def __init__(self, config: MelodyConfig | None = None):
        super().__init__(config or MelodyConfig())
        c = self.config
        self.ts_base = len(SPECIALS)            # meter tokens: ts_base .. note_base
        self.den_base = self.ts_base + len(NUMERATORS)     # any-meter vocabulary: the denominator tokens
        meters = len(NUMERATORS) + len(DENOMINATORS) if c.any_meter else len(c.time_signatures)
        self.note_base = self.ts_base + meters
        self.dur_base = self.note_base + (c.pitch_high - c.pitch_low + 1)

    def _build_vocab(self) -> list[str]:
        c = self.config
        meters = ([f"num:{n}" for n in NUMERATORS] + [f"den:{d}" for d in DENOMINATORS] if c.any_meter
                  else [f"ts:{n}/{d}" for n, d in c.time_signatures])
        return (SPECIALS + meters
                + [f"note:{p}" for p in range(c.pitch_low, c.pitch_high + 1)]
                + [f"dur:{k}" for k in range(1, c.max_duration + 1)])

    # ---- token helpers -------------------------------------------------
    def note_token(self, pitch: int) -> int:
        return self.note_base + pitch - self.config.pitch_low

    def dur_token(self, steps: int) -> int:
        return self.dur_base + steps - 1

    def ts_token(self, ts: tuple[int, int]) -> int:
        """The one token of a listed meter (listed-meter vocabulary only; see `meter_tokens`)."""
        return self.ts_base + list(self.config.time_signatures).index(tuple(ts))

    def meter_tokens(self, ts: tuple[int, int]) -> list[int]:
        """The tokens that state meter `ts`; raises ValueError naming it when this vocabulary cannot."""
        problem = self.config.meter_problem(tuple(ts))
        if problem:
            raise ValueError(problem)
        if not self.config.any_meter:
            return [self.ts_token(ts)]
        return [self.ts_base + ts[0] - NUMERATORS[0], self.den_base + DENOMINATORS.index(ts[1])]

    def is_meter(self, tok: int) -> bool:
        return self.ts_base <= tok < self.note_base

    def read_meter(self, numerator: int | None, tok: int) -> tuple[int | None, tuple[int, int] | None]:
        """Meter tokens one at a time: (numerator waiting for its denominator, the meter
        `tok` completes or None). `numerator` is the first value of the previous call."""
        if not self.config.any_meter:
            return None, tuple(self.config.time_signatures[tok - self.ts_base])
        if tok < self.den_base:
            return NUMERATORS[tok - self.ts_base], None
        if numerator is None:
            return None, None
        ts = (numerator, DENOMINATORS[tok - self.den_base])
        return None, (None if self.config.meter_problem(ts) else ts)

    def is_note(self, tok: int) -> bool:
        return self.note_base <= tok < self.dur_base

    def is_dur(self, tok: int) -> bool:
        return self.dur_base <= tok < self.vocab_size

    # ---- melody policy ---------------------------------------------------
    def extract(self, song: Song) -> tuple[list[Note], str, int]:
        """The melody line of `song` (policy in the module docstring).

        Returns (notes, description of the source track, notes dropped)."""
        index, track = self.melody_track(song)
        notes, dropped = self.monophonic(track)
        label = f"track {index}" + (f" '{track.name}'" if track.name else "") + f" (program {track.program})"
        return notes, label, dropped

    def melody_track(self, song: Song) -> tuple[int, Track]:
        """(index, track) of the track the melody policy takes the line from."""
        tracks = [(i, t) for i, t in enumerate(song.tracks) if t.notes]
        if not tracks:
            raise UnusableMusic("no notes")
        pitched = [(i, t) for i, t in tracks if not t.is_drum]
        if not pitched:
            raise UnusableMusic("drums only")
        override = self.config.track
        if override is not None:
            chosen = [(i, t) for i, t in pitched
                      if (isinstance(override, int) and i == override)
                      or (isinstance(override, str) and override.lower() in t.name.lower())]
            if not chosen:
                raise UnusableMusic(f"no pitched track matches {override!r}")
            index, track = chosen[0]
        else:
            onsets = {i: len({n.start for n in t.notes}) for i, t in pitched}
            busiest = max(onsets.values())
            candidates = [(i, t) for i, t in pitched if onsets[i] * 3 >= busiest]
            index, track = max(candidates,
                               key=lambda it: (sum(n.pitch for n in it[1].notes) / len(it[1].notes), -it[0]))
        return index, track

    def monophonic(self, track: Track) -> tuple[list[Note], int]:
        """The track's notes as one line on the grid (chords reduced as `chords` says),
        and how many notes were dropped."""
        spq = self.config.steps_per_quarter
        by_step: dict[int, Note] = {}
        pick_high = self.config.chords == "highest"
        dropped = 0
        for note in track.notes:
            step = round(note.start * spq)
            other = by_step.get(step)
            if other is None:
                by_step[step] = note
                continue
            dropped += 1
            if (note.pitch > other.pitch) == pick_high:
                by_step[step] = note
        starts = sorted(by_step)
        out = []
        for k, step in enumerate(starts):
            note = by_step[step]
            end = max(step + 1, round(note.end * spq))
            if k + 1 < len(starts):
                end = min(end, starts[k + 1])
            out.append(Note(step / spq, end / spq, note.pitch, note.velocity))
        return out, dropped

    # ---- encode / decode -------------------------------------------------
    def encode(self, song: Song) -> Encoded:
        c = self.config
        ts = tuple(song.time_signature)
        problem = c.meter_problem(ts)
        if problem:
            raise UnusableMusic(f"unsupported time signature {ts[0]}/{ts[1]}" if not c.any_meter
                                else f"unsupported {problem}")
        notes, source, dropped = self.extract(song)
        changes, cut = self.meter_changes(song)
        if cut is not None:     # music after a meter this vocabulary cannot write is cut off: bars stay exact
            notes = [n for n in notes if n.start < cut]
            notes = [Note(n.start, min(n.end, cut), n.pitch, n.velocity) for n in notes]
        out_of_range = [n.pitch for n in notes if not c.pitch_low <= n.pitch <= c.pitch_high]
        if out_of_range:
            raise UnusableMusic(f"melody pitch {out_of_range[0]} is outside the range {c.pitch_low}..{c.pitch_high}")
        if len(notes) < c.min_notes:
            raise UnusableMusic(f"too short ({len(notes)} melody notes, need {c.min_notes})")
        tokens = self.encode_notes(notes, ts, changes=changes)
        return Encoded(tokens=tokens, n_notes=len(notes), source=source, notes_dropped=dropped,
                       info={"time_signature": f"{ts[0]}/{ts[1]}", "cut_at_meter_change": cut,
                             "meter_changes": len(changes)})

    def meter_changes(self, song: Song) -> tuple[list[tuple[int, tuple[int, int]]], float | None]:
        """The meter changes after the opening one as (grid step, meter), and the beat
        where the music must be cut (None: nowhere): at the first change this vocabulary
        cannot write, that is not on a bar line, or at any change (listed meters)."""
        c = self.config
        current = tuple(song.time_signature)
        origin, spb, changes = 0, c.steps_per_bar(current), []
        for beat, num, den in song.time_signatures[1:]:
            if (num, den) == current:
                continue
            step = round(beat * c.steps_per_quarter)
            if (not c.any_meter or c.meter_problem((num, den)) or abs(beat * c.steps_per_quarter - step) > 1e-6
                    or (step - origin) % spb):
                return changes, beat
            current, origin, spb = (num, den), step, c.steps_per_bar((num, den))
            changes.append((step, current))
        return changes, None

    def _bars(self, ts, changes, end: int) -> list[tuple[int, tuple[int, int]]]:
        """(first grid step, meter) of every bar that starts before step `end`."""
        out, start, k = [], 0, 0
        while start < end:
            while k < len(changes) and changes[k][0] <= start:
                ts, k = changes[k][1], k + 1
            out.append((start, ts))
            start += self.config.steps_per_bar(ts)
        return out

    def encode_notes(self, notes: list[Note], ts: tuple[int, int], *, end: bool = True,
                     changes: list[tuple[int, tuple[int, int]]] = ()) -> list[int]:
        """Tokens for monophonic grid notes (start/end in beats) in meter `ts`, changing
        to meter m at grid step s for each (s, m) of `changes` (on bar lines)."""
        c = self.config
        spq = c.steps_per_quarter
        events: list[tuple[int, int, int | None]] = []   # (start step, end step, pitch or None)
        pos = 0
        for note in notes:
            start, stop = round(note.start * spq), round(note.end * spq)
            if start > pos:
                events.append((pos, start, None))
            events.append((max(start, pos), stop, note.pitch))
            pos = stop
        bars = self._bars(tuple(ts), changes, pos)
        if bars and pos < bars[-1][0] + c.steps_per_bar(bars[-1][1]):
            events.append((pos, bars[-1][0] + c.steps_per_bar(bars[-1][1]), None))   # fill the last bar with rest
        tokens, bar = [BOS, *self.meter_tokens(ts)], -1
        for start, stop, pitch in events:
            first = True
            while start < stop:
                if bar + 1 < len(bars) and start == bars[bar + 1][0]:
                    bar += 1
                    if bar and bars[bar][1] != bars[bar - 1][1]:
                        tokens += self.meter_tokens(bars[bar][1])
                    tokens.append(BAR)
                bar_end = bars[bar][0] + c.steps_per_bar(bars[bar][1])
                length = min(stop - start, bar_end - start, c.max_duration)
                if first:
                    tokens.append(REST if pitch is None else self.note_token(pitch))
                else:
                    tokens.append(HOLD)
                tokens.append(self.dur_token(length))
                start += length
                first = False
        if end:
            tokens.append(EOS)
        return tokens

    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        decoder = self.decoder(tempo=tempo, program=program)
        decoder.feed(tokens)
        return decoder.song()

    def decode_notes(self, tokens) -> tuple[list[Note], tuple[int, int], int]:
        """Lenient decoding: returns (notes, meter, number of bars)."""
        decoder = MelodyDecoder(self)
        decoder.feed(tokens)
        return decoder.result()

    def decoder(self, *, tempo: float = 120.0, program: int = 0) -> MelodyDecoder:
        return MelodyDecoder(self, tempo=tempo, program=program)

    def count_notes(self, tokens) -> int:
        """Note tokens that a duration completes (holds are not new notes)."""
        count, pending = 0, False
        for tok in (int(t) for t in tokens):
            if self.is_note(tok):
                pending = True
            elif self.is_dur(tok):
                count += pending
                pending = False
            elif tok in (REST, HOLD):
                pending = False
        return count

    @property
    def position_classes(self) -> int:
        return self.config.max_duration

    def positions(self, tokens) -> list[int]:
        """The grid step within the bar where the next event will start, after
        each token (the same value the sampling grammar tracks)."""
        c = self.config
        spb = c.steps_per_bar((4, 4) if c.any_meter else tuple(c.time_signatures[0]))
        pos, numerator, out = 0, None, []
        for tok in (int(t) for t in tokens):
            if self.is_meter(tok):
                numerator, ts = self.read_meter(numerator, tok)
                spb = c.steps_per_bar(ts) if ts else spb
            elif tok == BAR:
                pos = 0
            elif self.is_dur(tok):
                pos = (pos + tok - self.dur_base + 1) % spb
            out.append(min(pos, c.max_duration - 1))
        return out

    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        if semitones == 0:
            return list(tokens)
        lo, hi = self.note_base, self.dur_base
        out = []
        for tok in tokens:
            if lo <= tok < hi:
                tok += semitones
                if not lo <= tok < hi:
                    return None
            out.append(tok)
        return out

    def grammar(self, batch: int, constraints: Constraints, device) -> MelodyGrammar:
        return MelodyGrammar(self, batch, constraints, device)
