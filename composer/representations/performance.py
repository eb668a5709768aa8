"""The polyphonic performance representation, in the spirit of Performance RNN.

Tokens (after <pad> <bos> <eos>):
  on:P      note-on of pitch P at the current time, with the current velocity
  off:P     note-off of pitch P
  shift:K   advance time by K * `shift_ms` milliseconds (1..max_shift)
  vel:B     set the velocity bin (1..velocity_bins) for following note-ons

All pitched (non-drum) tracks are merged, as for a piano. Lossless on what it
keeps: times quantized to `shift_ms`, velocities to their bin, and notes no
longer than `max_note_seconds`: decoding ends a longer note there, as
Magenta's performance decoder does (5 s), so a note-on whose note-off the
model never writes does not hang to the end of the piece.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from composer.config import ConfigMixin
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, Constraints, Encoded, Grammar, Tokenizer, UnusableMusic


@dataclass(frozen=True)
class PerformanceConfig(ConfigMixin):
    shift_ms: int = 10
    max_shift: int = 100          # longest single shift, in steps (1 s at 10 ms)
    velocity_bins: int = 32
    pitch_low: int = 21
    pitch_high: int = 108
    min_notes: int = 16
    max_simultaneous: int = 16    # sampling: at most this many tokens without a time shift
    max_note_seconds: float = 5.0  # decoding ends a note held longer than this (model files without it: 5 s)

    def __post_init__(self):
        if not 1 <= self.shift_ms <= 1000:
            raise ValueError(f"shift_ms must be in 1..1000, got {self.shift_ms}")
        if not 1 <= self.velocity_bins <= 127:
            raise ValueError(f"velocity_bins must be in 1..127, got {self.velocity_bins}")
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise ValueError(f"pitch range must be within 0..127, got {self.pitch_low}..{self.pitch_high}")
        if not 0.01 <= self.max_note_seconds <= 3600:
            raise ValueError(f"max_note_seconds must be in 0.01..3600, got {self.max_note_seconds}")


class PerformanceTokenizer(Tokenizer):
    kind = "performance"
    config: PerformanceConfig

    def __init__(self, config: PerformanceConfig | None = None):
        super().__init__(config or PerformanceConfig())
        c = self.config
        n_pitch = c.pitch_high - c.pitch_low + 1
        self.on_base = 3
        self.off_base = self.on_base + n_pitch
        self.shift_base = self.off_base + n_pitch
        self.vel_base = self.shift_base + c.max_shift

    def _build_vocab(self) -> list[str]:
        c = self.config
        pitches = range(c.pitch_low, c.pitch_high + 1)
        return (["<pad>", "<bos>", "<eos>"] + [f"on:{p}" for p in pitches] + [f"off:{p}" for p in pitches]
                + [f"shift:{k}" for k in range(1, c.max_shift + 1)]
                + [f"vel:{b}" for b in range(1, c.velocity_bins + 1)])

    def velocity_bin(self, velocity: int) -> int:
        return min(self.config.velocity_bins, 1 + (velocity - 1) * self.config.velocity_bins // 127)

    def bin_velocity(self, b: int) -> int:
        """The velocity a bin decodes to (the middle of the bin)."""
        lo = -(-((b - 1) * 127) // self.config.velocity_bins) + 1
        hi = (b * 127) // self.config.velocity_bins
        return max(1, min(127, (lo + max(lo, hi)) // 2))

    # ---- encode / decode -------------------------------------------------
    def quantize(self, song: Song) -> list[tuple[int, int, int, int]]:
        """(start step, end step, pitch, velocity bin) of every pitched note."""
        c = self.config
        step = c.shift_ms / 1000.0
        out = []
        for track in song.tracks:
            if track.is_drum:
                continue
            for n in track.notes:
                start = round(song.seconds_at(n.start) / step)
                end = max(start + 1, round(song.seconds_at(n.end) / step))
                out.append((start, end, n.pitch, self.velocity_bin(n.velocity)))
        return sorted(out)

    def encode(self, song: Song) -> Encoded:
        c = self.config
        if not any(t.notes for t in song.tracks):
            raise UnusableMusic("no notes")
        if all(t.is_drum for t in song.tracks if t.notes):
            raise UnusableMusic("drums only")
        notes = self.quantize(song)
        outside = [p for _, _, p, _ in notes if not c.pitch_low <= p <= c.pitch_high]
        notes = [n for n in notes if c.pitch_low <= n[2] <= c.pitch_high]
        if len(notes) < c.min_notes:
            raise UnusableMusic(f"too short ({len(notes)} notes, need {c.min_notes})")
        return Encoded(tokens=self.encode_quantized(notes), n_notes=len(notes),
                       source=f"{sum(1 for t in song.tracks if t.notes and not t.is_drum)} pitched track(s) merged",
                       notes_dropped=len(outside))

    def encode_quantized(self, notes: list[tuple[int, int, int, int]], *, end: bool = True) -> list[int]:
        # events: (time, order, pitch, vel) with offs (order 0) before ons (order 1)
        events = sorted([(e, 0, p, 0) for s, e, p, v in notes] + [(s, 1, p, v) for s, e, p, v in notes])
        tokens, now, vel, sounding = [BOS], 0, None, {}
        for time, order, pitch, vbin in events:
            if order == 0:
                if sounding.get(pitch, 0) == 0:
                    continue   # already ended by a re-struck note of the same pitch
            while time > now:
                k = min(time - now, self.config.max_shift)
                tokens.append(self.shift_base + k - 1)
                now += k
            if order == 0:
                sounding[pitch] -= 1
                tokens.append(self.off_base + pitch - self.config.pitch_low)
            else:
                if sounding.get(pitch, 0):
                    # same pitch struck again while sounding: end the old one here
                    tokens.append(self.off_base + pitch - self.config.pitch_low)
                    sounding[pitch] -= 1
                if vbin != vel:
                    tokens.append(self.vel_base + vbin - 1)
                    vel = vbin
                tokens.append(self.on_base + pitch - self.config.pitch_low)
                sounding[pitch] = sounding.get(pitch, 0) + 1
        if end:
            tokens.append(EOS)
        return tokens

    @property
    def max_note_steps(self) -> int:
        """The longest note decoding writes, in time steps (at least one)."""
        return max(1, round(self.config.max_note_seconds * 1000 / self.config.shift_ms))

    def decode_quantized(self, tokens) -> list[tuple[int, int, int, int]]:
        """(start step, end step, pitch, velocity bin) of every note `tokens`
        write, none longer than `max_note_steps`."""
        cap = self.max_note_steps
        return sorted((s, min(e, s + cap), p, v) for s, e, p, v in self.decode_unlimited(tokens))

    def long_notes(self, tokens) -> tuple[int, int, float]:
        """(notes, notes decoding ends at the cap, the longest note in seconds before the cap)."""
        lengths = [e - s for s, e, _, _ in self.decode_unlimited(tokens)]
        capped = sum(1 for n in lengths if n > self.max_note_steps)
        return len(lengths), capped, max(lengths, default=0) * self.config.shift_ms / 1000.0

    def decode_unlimited(self, tokens) -> list[tuple[int, int, int, int]]:
        """The notes as the tokens write them: a note-on ends at its pitch's
        next note-off or note-on, else at the end of the sequence."""
        c = self.config
        now, vel = 0, self.velocity_bin(80)
        open_notes: dict[int, tuple[int, int]] = {}
        out = []
        for tok in (int(t) for t in tokens):
            if tok == EOS:
                break
            if self.on_base <= tok < self.off_base:
                pitch = tok - self.on_base + c.pitch_low
                if pitch in open_notes:
                    start, v = open_notes.pop(pitch)
                    if now > start:
                        out.append((start, now, pitch, v))
                    else:
                        out.append((start, start + 1, pitch, v))
                open_notes[pitch] = (now, vel)
            elif self.off_base <= tok < self.shift_base:
                pitch = tok - self.off_base + c.pitch_low
                if pitch in open_notes:
                    start, v = open_notes.pop(pitch)
                    out.append((start, max(now, start + 1), pitch, v))
            elif self.shift_base <= tok < self.vel_base:
                now += tok - self.shift_base + 1
            elif self.vel_base <= tok < self.vocab_size:
                vel = tok - self.vel_base + 1
        for pitch, (start, v) in open_notes.items():     # close what never ended
            out.append((start, max(now, start + 1), pitch, v))
        return sorted(out)

    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        step_beats = self.config.shift_ms / 1000.0 * tempo / 60.0
        notes = [Note(s * step_beats, e * step_beats, p, self.bin_velocity(v))
                 for s, e, p, v in self.decode_quantized(tokens)]
        return Song(tracks=[Track(notes=sorted(notes), program=program, name="performance")],
                    tempos=[(0.0, float(tempo))])

    def count_notes(self, tokens) -> int:
        return sum(1 for t in tokens if self.on_base <= int(t) < self.off_base)

    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        if semitones == 0:
            return list(tokens)
        out = []
        for tok in tokens:
            for base, top in ((self.on_base, self.off_base), (self.off_base, self.shift_base)):
                if base <= tok < top:
                    tok += semitones
                    if not base <= tok < top:
                        return None
            out.append(tok)
        return out

    def grammar(self, batch: int, constraints: Constraints, device) -> PerformanceGrammar:
        return PerformanceGrammar(self, batch, constraints, device)


class PerformanceGrammar(Grammar):
    """Time runs until `constraints.seconds`; offs only for sounding pitches;
    a shift is forced after `max_simultaneous` tokens at one time."""

    row_state = ("started", "now", "base", "since_shift", "sounding", "done")

    def __init__(self, tok: PerformanceTokenizer, batch: int, constraints: Constraints, device):
        c = tok.config
        if constraints.seconds is None or not constraints.seconds > 0:
            raise ValueError(f"performance sampling needs seconds > 0, got {constraints.seconds}")
        self.tok, self.device = tok, device
        self.steps_wanted = int(round(constraints.seconds * 1000 / c.shift_ms))
        V = tok.vocab_size
        self.started = torch.zeros(batch, dtype=torch.bool)
        self.now = torch.zeros(batch, dtype=torch.long)
        self.base = torch.zeros(batch, dtype=torch.long)
        self.since_shift = torch.zeros(batch, dtype=torch.long)
        n_pitch = c.pitch_high - c.pitch_low + 1
        self.sounding = torch.zeros(batch, n_pitch, dtype=torch.bool)
        self.done = torch.zeros(batch, dtype=torch.bool)
        self.m_static = torch.zeros(V, dtype=torch.bool)
        for p in range(c.pitch_low, c.pitch_high + 1):
            if constraints.pitch_ok(p):
                self.m_static[tok.on_base + p - c.pitch_low] = True
        if not self.m_static.any():
            raise ValueError("no pitch in this model's range satisfies the key, scale and pitch range")
        self.m_static[tok.shift_base:] = True          # shifts and velocities
        self.m_shift = torch.zeros(c.max_shift + 1, V, dtype=torch.bool)   # row r: shifts 1..r allowed
        for r in range(1, c.max_shift + 1):
            self.m_shift[r, tok.shift_base:tok.shift_base + r] = True
        self.m_only = torch.eye(V, dtype=torch.bool)

    def mark_primed(self) -> None:
        self.base = self.now.clone()

    def max_steps(self) -> int:
        return int(self.steps_wanted * (self.tok.config.max_simultaneous + 1) + 2)

    def mask(self) -> torch.Tensor:
        tok = self.tok
        B, V = self.now.shape[0], tok.vocab_size
        m = self.m_static.expand(B, V).clone()
        m[:, tok.off_base:tok.shift_base] = self.sounding
        remaining = (self.steps_wanted - (self.now - self.base)).clamp(1, tok.config.max_shift)
        m[:, tok.shift_base:tok.vel_base] &= self.m_shift[remaining, tok.shift_base:tok.vel_base]
        crowded = self.since_shift >= tok.config.max_simultaneous
        m[crowded] = self.m_shift[remaining[crowded]]
        return self._bracket(m, (self.now - self.base) >= self.steps_wanted).to(self.device)

    def update(self, tokens: torch.Tensor) -> None:
        tok = self.tok
        t = tokens.detach().to("cpu").long()
        live = self._start_and_end(t)
        rows = torch.arange(t.shape[0])
        is_on = live & (t >= tok.on_base) & (t < tok.off_base)
        self.sounding[rows[is_on], t[is_on] - tok.on_base] = True
        is_off = live & (t >= tok.off_base) & (t < tok.shift_base)
        self.sounding[rows[is_off], t[is_off] - tok.off_base] = False
        is_shift = live & (t >= tok.shift_base) & (t < tok.vel_base)
        self.now[is_shift] += t[is_shift] - tok.shift_base + 1
        self.since_shift[is_shift] = 0
        self.since_shift[live & ~is_shift] += 1

    def progress_rows(self) -> np.ndarray:
        return ((self.now - self.base).float() / self.steps_wanted).clamp(max=1.0).numpy()
