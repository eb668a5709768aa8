"""The melody representation: one monophonic line on a grid.

Tokens (after <pad> <bos> <eos>):
  ts:N/D    the meter, once, right after <bos>
  bar       start of every bar
  note:P    a note of MIDI pitch P ... followed by its duration
  rest      silence ...                followed by its duration
  hold      continue the previous note or rest across a bar line ...
  dur:K     K grid steps (1 .. steps in the longest bar)

A piece is <bos> ts bar (event dur)+ bar (event dur)+ ... <eos>. Events never
cross a bar line (a long note becomes note + hold), so the number of bars is
exact and a sampler can count them.

Melody policy (how one line is taken from a multi-track file), see
`MelodyConfig`: drum tracks are ignored; unless `track` names one, the chosen
track is the one with the highest mean pitch among tracks that have at least
a third as many onsets as the busiest track (the tune is usually the top
voice); chords are reduced to their highest note (`chords="highest"`) or
lowest (`"lowest"`); each note is cut where the next one starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import ConfigMixin
from .music import Note, Song, Track
from .tokenizer import BOS, EOS, PAD, Constraints, Encoded, Grammar, Tokenizer, UnusableMusic

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


class MelodyTokenizer(Tokenizer):
    kind = "melody"
    config: MelodyConfig

    def __init__(self, config: MelodyConfig | None = None):
        super().__init__(config or MelodyConfig())
        c = self.config
        self.ts_base = len(SPECIALS)
        self.note_base = self.ts_base + len(c.time_signatures)
        self.dur_base = self.note_base + (c.pitch_high - c.pitch_low + 1)

    def _build_vocab(self) -> list[str]:
        c = self.config
        return (SPECIALS + [f"ts:{n}/{d}" for n, d in c.time_signatures]
                + [f"note:{p}" for p in range(c.pitch_low, c.pitch_high + 1)]
                + [f"dur:{k}" for k in range(1, c.max_duration + 1)])

    # ---- token helpers -------------------------------------------------
    def note_token(self, pitch: int) -> int:
        return self.note_base + pitch - self.config.pitch_low

    def dur_token(self, steps: int) -> int:
        return self.dur_base + steps - 1

    def ts_token(self, ts: tuple[int, int]) -> int:
        return self.ts_base + list(self.config.time_signatures).index(tuple(ts))

    def is_note(self, tok: int) -> bool:
        return self.note_base <= tok < self.dur_base

    def is_dur(self, tok: int) -> bool:
        return self.dur_base <= tok < self.vocab_size

    # ---- melody policy ---------------------------------------------------
    def extract(self, song: Song) -> tuple[list[Note], str, int]:
        """The melody line of `song` (policy in the module docstring).

        Returns (notes, description of the source track, notes dropped)."""
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
            index, track = max(candidates, key=lambda it: (sum(n.pitch for n in it[1].notes) / len(it[1].notes), -it[0]))
        notes, dropped = self._monophonic(track)
        label = f"track {index}" + (f" '{track.name}'" if track.name else "") + f" (program {track.program})"
        return notes, label, dropped

    def _monophonic(self, track: Track) -> tuple[list[Note], int]:
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
        if ts not in [tuple(t) for t in c.time_signatures]:
            raise UnusableMusic(f"unsupported time signature {ts[0]}/{ts[1]}")
        notes, source, dropped = self.extract(song)
        # Music after a change to another meter is cut off: bars must stay exact.
        change = next((b for b, n, d in song.time_signatures[1:] if (n, d) != ts), None)
        if change is not None:
            notes = [n for n in notes if n.start < change]
            notes = [Note(n.start, min(n.end, change), n.pitch, n.velocity) for n in notes]
        out_of_range = [n.pitch for n in notes if not c.pitch_low <= n.pitch <= c.pitch_high]
        if out_of_range:
            raise UnusableMusic(f"melody pitch {out_of_range[0]} is outside the range {c.pitch_low}..{c.pitch_high}")
        if len(notes) < c.min_notes:
            raise UnusableMusic(f"too short ({len(notes)} melody notes, need {c.min_notes})")
        tokens = self.encode_notes(notes, ts)
        return Encoded(tokens=tokens, n_notes=len(notes), source=source, notes_dropped=dropped,
                       info={"time_signature": f"{ts[0]}/{ts[1]}", "cut_at_meter_change": change})

    def encode_notes(self, notes: list[Note], ts: tuple[int, int], *, end: bool = True) -> list[int]:
        """Tokens for monophonic grid notes (start/end in beats) in meter `ts`."""
        spq, spb = self.config.steps_per_quarter, self.config.steps_per_bar(ts)
        events: list[tuple[int, int, int | None]] = []   # (start step, end step, pitch or None)
        pos = 0
        for note in notes:
            start, stop = round(note.start * spq), round(note.end * spq)
            if start > pos:
                events.append((pos, start, None))
            events.append((max(start, pos), stop, note.pitch))
            pos = stop
        if pos % spb:
            events.append((pos, pos + spb - pos % spb, None))   # fill the last bar with rest
        tokens = [BOS, self.ts_token(ts)]
        for start, stop, pitch in events:
            first = True
            while start < stop:
                if start % spb == 0:
                    tokens.append(BAR)
                length = min(stop - start, spb - start % spb)
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
        notes, ts, _ = self.decode_notes(tokens)
        return Song(tracks=[Track(notes=notes, program=program, name="melody")],
                    tempos=[(0.0, float(tempo))], time_signatures=[(0.0, *ts)])

    def decode_notes(self, tokens) -> tuple[list[Note], tuple[int, int], int]:
        """Lenient decoding: returns (notes, meter, number of bars)."""
        c = self.config
        ts = tuple(c.time_signatures[0]) if (4, 4) not in c.time_signatures else (4, 4)
        spq = c.steps_per_quarter
        spb = c.steps_per_bar(ts)
        pos, pending, started = 0, None, False
        last_note: list | None = None   # [start, end, pitch] of the note that ended at `pos`
        notes: list[list[int]] = []
        bars = 0
        for tok in (int(t) for t in tokens):
            if tok == EOS:
                break
            if self.ts_base <= tok < self.note_base and not started:
                ts = tuple(c.time_signatures[tok - self.ts_base])
                spb = c.steps_per_bar(ts)
            elif tok == BAR:
                started = True
                if pos % spb:
                    pos += spb - pos % spb
                    last_note = None
                bars = max(bars, pos // spb + 1)
            elif tok in (REST, HOLD) or self.is_note(tok):
                started = True
                pending = tok
            elif self.is_dur(tok) and pending is not None:
                steps = tok - self.dur_base + 1
                if pending == HOLD and last_note is not None and last_note[1] == pos:
                    last_note[1] += steps
                elif self.is_note(pending):
                    last_note = [pos, pos + steps, pending - self.note_base + c.pitch_low]
                    notes.append(last_note)
                else:
                    last_note = None
                pos += steps
                bars = max(bars, -(-pos // spb))
                pending = None
        return ([Note(s / spq, e / spq, p) for s, e, p in notes], ts, bars)

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
        spb = c.steps_per_bar(tuple(c.time_signatures[0]))
        pos, out = 0, []
        for tok in (int(t) for t in tokens):
            if self.ts_base <= tok < self.note_base:
                spb = c.steps_per_bar(tuple(c.time_signatures[tok - self.ts_base]))
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

    def grammar(self, batch: int, constraints: Constraints, device) -> "MelodyGrammar":
        return MelodyGrammar(self, batch, constraints, device)


class MelodyGrammar(Grammar):
    """<bos> ts bar (event dur)... with durations that never cross a bar line,
    exactly `constraints.bars` new bars, then <eos>."""

    # phases
    START, METER, EVENT, DURATION, FINISHED = range(5)

    def __init__(self, tok: MelodyTokenizer, batch: int, constraints: Constraints, device):
        c = tok.config
        if constraints.bars is None or constraints.bars < 1:
            raise ValueError(f"melody sampling needs bars >= 1, got {constraints.bars}")
        self.tok, self.device = tok, device
        self.bars_wanted = constraints.bars
        self.fixed_ts = tuple(constraints.time_signature) if constraints.time_signature else None
        if self.fixed_ts and self.fixed_ts not in [tuple(t) for t in c.time_signatures]:
            known = ", ".join(f"{n}/{d}" for n, d in c.time_signatures)
            raise ValueError(f"time signature {self.fixed_ts[0]}/{self.fixed_ts[1]} is not one this model knows ({known})")
        V = tok.vocab_size
        self.phase = torch.full((batch,), self.START, dtype=torch.long)
        self.pos = torch.zeros(batch, dtype=torch.long)          # step within the current bar
        self.spb = torch.full((batch,), c.steps_per_bar(self.fixed_ts or (4, 4)), dtype=torch.long)
        self.bars_done = torch.zeros(batch, dtype=torch.long)    # complete bars so far
        self.bars_base = torch.zeros(batch, dtype=torch.long)    # bars of the primer
        self.primed = False
        self.has_prev = torch.zeros(batch, dtype=torch.bool)
        self.done = torch.zeros(batch, dtype=torch.bool)
        self.bar_open = torch.zeros(batch, dtype=torch.bool)     # a bar token was just written
        spb_of_ts = torch.tensor([c.steps_per_bar(ts) for ts in c.time_signatures])
        self._spb_of_ts = spb_of_ts
        # static masks
        allowed_notes = torch.zeros(V, dtype=torch.bool)
        for p in range(c.pitch_low, c.pitch_high + 1):
            if constraints.pitch_ok(p):
                allowed_notes[tok.note_token(p)] = True
        if not allowed_notes.any():
            raise ValueError("no pitch in this model's range satisfies the key, scale and pitch range")
        self.m_event = allowed_notes.clone()
        self.m_event[REST] = True
        self.m_event_hold = self.m_event.clone()
        self.m_event_hold[HOLD] = True
        D = c.max_duration
        self.m_dur = torch.zeros(D + 1, V, dtype=torch.bool)   # row r: durations 1..r allowed
        for r in range(1, D + 1):
            self.m_dur[r, tok.dur_base:tok.dur_base + r] = True
        self.m_ts = torch.zeros(V, dtype=torch.bool)
        if self.fixed_ts:
            self.m_ts[tok.ts_token(self.fixed_ts)] = True
        else:
            self.m_ts[tok.ts_base:tok.note_base] = True
        self.m_only = torch.eye(V, dtype=torch.bool)

    def max_steps(self) -> int:
        remaining = (self.bars_wanted + 1) * (2 * self.tok.config.max_duration + 1) + 3
        return int(remaining)

    def mark_primed(self) -> None:
        """Call after feeding a primer: new bars are counted from here."""
        self.bars_base = self.bars_done + (self.pos > 0).long()
        self.primed = True

    def mask(self) -> torch.Tensor:
        B = self.phase.shape[0]
        V = self.tok.vocab_size
        m = torch.zeros(B, V, dtype=torch.bool)
        ph = self.phase
        m[ph == self.START] = self.m_only[BOS]
        m[ph == self.METER] = self.m_ts
        event = ph == self.EVENT
        at_bar = self.pos == 0
        need_bar = event & at_bar & ~self.bar_open
        finished_bars = (self.bars_done - self.bars_base) >= self.bars_wanted
        m[need_bar & finished_bars] = self.m_only[EOS]
        m[need_bar & ~finished_bars] = self.m_only[BAR]
        ev = event & ~need_bar
        m[ev & self.has_prev] = self.m_event_hold
        m[ev & ~self.has_prev] = self.m_event
        dur = ph == self.DURATION
        if dur.any():
            remaining = (self.spb - self.pos).clamp(1, self.m_dur.shape[0] - 1)
            m[dur] = self.m_dur[remaining[dur]]
        m[ph == self.FINISHED] = self.m_only[PAD]
        return m.to(self.device)

    def update(self, tokens: torch.Tensor) -> None:
        tok = self.tok
        t = tokens.detach().to("cpu").long()
        ph = self.phase.clone()
        is_bos = (ph == self.START) & (t == BOS)
        self.phase[is_bos] = self.METER
        is_ts = (ph == self.METER) & (t >= tok.ts_base) & (t < tok.note_base)
        if is_ts.any():
            self.spb[is_ts] = self._spb_of_ts[t[is_ts] - tok.ts_base]
            self.phase[is_ts] = self.EVENT
        ev = ph == self.EVENT
        is_bar = ev & (t == BAR)
        self.bar_open[is_bar] = True
        is_event = ev & ((t == REST) | (t == HOLD) | ((t >= tok.note_base) & (t < tok.dur_base)))
        self.phase[is_event] = self.DURATION
        self.bar_open[is_event] = False
        is_end = (t == EOS) | ((t == PAD) & (ph != self.START))
        self.phase[is_end] = self.FINISHED
        self.done |= is_end
        is_dur = (ph == self.DURATION) & (t >= tok.dur_base)
        if is_dur.any():
            self.pos[is_dur] += t[is_dur] - tok.dur_base + 1
            self.has_prev[is_dur] = True
            full = is_dur & (self.pos >= self.spb)
            self.bars_done[full] += 1
            self.pos[full] = 0
            self.phase[is_dur] = self.EVENT

    def positions(self) -> torch.Tensor:
        return self.pos.clamp(max=self.tok.config.max_duration - 1)

    def progress(self) -> float:
        made = (self.bars_done - self.bars_base).clamp(min=0).float() + self.pos.float() / self.spb.float()
        return float((made / self.bars_wanted).clamp(max=1.0).min())
