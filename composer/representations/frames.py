"""The frame representation: a piano roll written one grid step at a time.

Tokens (after <pad> <bos> <eos>):
  pitch:P   pitch P sounds in the current frame (pitch_low..pitch_high)
  frame     end of the current frame (the grid advances one step)

A frame is its sounding pitches in strictly ascending order followed by
`frame`; an empty frame is `frame` alone. A frame is 1 / `steps_per_quarter`
quarter notes long. As in the piano-roll benchmarks (JSB Chorales,
Nottingham), a held note and a note repeated on the next step look the same:
decoding merges a pitch that sounds in consecutive frames into one note.

Position input ("what sounded a frame ago"): after each token the model may
get, as `Tokenizer.positions`, the next pitch of the previous frame above the
last pitch written in this frame (class 1 + its index; 0 when there is none).
In music most notes of a frame were sounding in the one before, so this
pointer says which pitch would continue the previous frame next. Options
(FramesConfig): `order="descending"` writes each frame from its highest
pitch down (the pointer then looks below the last pitch), and `frame_cycle`
adds the frame number modulo a cycle (a beat clock) to the position class.

Because every frame is spelled out in one fixed order, the model's
probability of a token sequence is exactly its probability of the piano roll,
so the negative log-likelihood in nats per frame is directly comparable with
the per-frame models of the benchmark tables (see benchmarks/polyphonic.py).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import torch

from composer.config import ConfigMixin
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, PAD, Constraints, Encoded, Grammar, Tokenizer, UnusableMusic

SECONDS_TEMPO = 120.0     # bpm used to turn a length in seconds into frames when sampling


@dataclass(frozen=True)
class FramesConfig(ConfigMixin):
    """`steps_per_quarter`: frames per quarter note (1 for JSB Chorales, 2 for
    Nottingham); pitches outside pitch_low..pitch_high (MIDI numbers) are
    dropped; a song needs at least `min_frames` frames and at most
    `max_frames` (the rest is cut)."""

    steps_per_quarter: int = 4
    pitch_low: int = 21
    pitch_high: int = 108
    min_frames: int = 2
    max_frames: int = 20_000
    order: str = "ascending"     # the order of a frame's pitches: "ascending" (bass first) or "descending"
    frame_cycle: int = 0         # > 0: the position input also says the frame number modulo this (a beat clock)

    def __post_init__(self):
        if not 1 <= self.steps_per_quarter <= 96:
            raise ValueError(f"steps_per_quarter must be in 1..96, got {self.steps_per_quarter}")
        if not 0 <= self.pitch_low <= self.pitch_high <= 127:
            raise ValueError(f"pitch range must be within 0..127, got {self.pitch_low}..{self.pitch_high}")
        if not 1 <= self.min_frames <= self.max_frames:
            raise ValueError(f"need 1 <= min_frames <= max_frames, got {self.min_frames} and {self.max_frames}")
        if not 0 <= self.frame_cycle <= 96:
            raise ValueError(f"frame_cycle must be in 0..96 frames (0 = off), got {self.frame_cycle}")
        if self.order not in ("ascending", "descending"):
            raise ValueError(f"order must be 'ascending' or 'descending', got {self.order!r}")


class FramesTokenizer(Tokenizer):
    kind = "frames"
    config: FramesConfig

    def __init__(self, config: FramesConfig | None = None):
        super().__init__(config or FramesConfig())
        c = self.config
        self.pitch_base = 3
        self.n_pitches = c.pitch_high - c.pitch_low + 1
        self.end_of_frame = self.pitch_base + self.n_pitches     # the `frame` token
        self.descending = c.order == "descending"

    def _build_vocab(self) -> list[str]:
        c = self.config
        return ["<pad>", "<bos>", "<eos>"] + [f"pitch:{p}" for p in range(c.pitch_low, c.pitch_high + 1)] + ["frame"]

    def is_pitch(self, token: int) -> bool:
        return self.pitch_base <= token < self.end_of_frame

    # ---- frames <-> tokens ---------------------------------------------------
    def encode_frames(self, frames, *, end: bool = True) -> list[int]:
        """Tokens for a list of frames, each an iterable of MIDI pitches;
        raises ValueError naming a pitch outside the range."""
        c = self.config
        tokens = [BOS]
        for k, frame in enumerate(frames):
            for p in sorted({int(p) for p in frame}, reverse=self.descending):
                if not c.pitch_low <= p <= c.pitch_high:
                    raise ValueError(f"frame {k}: pitch {p} is outside {c.pitch_low}..{c.pitch_high}")
                tokens.append(self.pitch_base + p - c.pitch_low)
            tokens.append(self.end_of_frame)
        if end:
            tokens.append(EOS)
        return tokens

    def decode_frames(self, tokens) -> list[list[int]]:
        """The frames (sorted MIDI pitches) that ANY token sequence writes:
        reading stops at <eos>, <pad>/<bos> are skipped, a pitch named twice
        in a frame counts once, and an unfinished last frame is kept if it
        holds a pitch."""
        frames, current = [], set()
        for tok in (int(t) for t in tokens):
            if tok == EOS:
                break
            if self.is_pitch(tok):
                current.add(tok - self.pitch_base + self.config.pitch_low)
            elif tok == self.end_of_frame:
                frames.append(sorted(current))
                current = set()
        if current:
            frames.append(sorted(current))
        return frames

    def encode_roll(self, roll, *, lowest_pitch: int = 21, end: bool = True) -> list[int]:
        """Tokens for a binary piano roll (frames, columns); column k is MIDI
        pitch `lowest_pitch` + k (21 in the benchmark .mat files)."""
        roll = np.asarray(roll)
        if roll.ndim != 2:
            raise ValueError(f"a piano roll must be 2-D (frames, pitches), got shape {roll.shape}")
        return self.encode_frames([(np.nonzero(row)[0] + lowest_pitch).tolist() for row in roll], end=end)

    def decode_roll(self, tokens, *, lowest_pitch: int = 21, columns: int = 88) -> np.ndarray:
        """The binary piano roll (frames, `columns`) uint8 that `tokens` write;
        pitches outside the columns are left out."""
        frames = self.decode_frames(tokens)
        roll = np.zeros((len(frames), columns), dtype=np.uint8)
        for k, frame in enumerate(frames):
            for p in frame:
                if 0 <= p - lowest_pitch < columns:
                    roll[k, p - lowest_pitch] = 1
        return roll

    def frame_spans(self, tokens) -> list[tuple[int, int]]:
        """(first, last) token index of every complete frame in `tokens`
        (pitch tokens then the `frame` token), in order; what the benchmark
        likelihood sums over."""
        spans, start = [], None
        for i, tok in enumerate(int(t) for t in tokens):
            if tok == EOS:
                break
            if start is None and (self.is_pitch(tok) or tok == self.end_of_frame):
                start = i
            if tok == self.end_of_frame:
                spans.append((start, i))
                start = None
        return spans

    # ---- Song <-> tokens -------------------------------------------------------
    def song_frames(self, song: Song) -> tuple[list[list[int]], int, int]:
        """(frames, notes used, notes dropped for their pitch) of `song` on the
        grid, from its first note's beat (or frame clock cycle) on."""
        c = self.config
        spq = c.steps_per_quarter
        cells: list[tuple[int, int, int]] = []
        dropped = 0
        for track in song.tracks:
            if track.is_drum:
                continue
            for n in track.notes:
                if not c.pitch_low <= n.pitch <= c.pitch_high:
                    dropped += 1
                    continue
                start = round(n.start * spq)
                end = max(start + 1, round(n.end * spq))
                cells.append((start, min(end, c.max_frames), n.pitch))
        cells = [cell for cell in cells if cell[0] < c.max_frames]
        n_frames = max((e for _, e, _ in cells), default=0)
        frames: list[set[int]] = [set() for _ in range(n_frames)]
        for start, end, pitch in cells:
            for k in range(start, end):
                frames[k].add(pitch)
        # silence before the first note goes, in whole cycles of the frame clock (whole beats
        # without one): in pieces that start on an upbeat it taught models to begin with
        # long silences (280 of 400 Bach chorales start with 2-51 silent beats)
        unit = c.frame_cycle or c.steps_per_quarter
        silent = next((k for k, f in enumerate(frames) if f), 0)
        return [sorted(f) for f in frames[silent // unit * unit:]], len(cells), dropped

    def encode(self, song: Song) -> Encoded:
        c = self.config
        if not any(t.notes for t in song.tracks):
            raise UnusableMusic("no notes")
        if all(t.is_drum for t in song.tracks if t.notes):
            raise UnusableMusic("drums only")
        frames, used, dropped = self.song_frames(song)
        if not used:
            raise UnusableMusic(f"no notes in the pitch range {c.pitch_low}..{c.pitch_high}")
        if len(frames) < c.min_frames:
            raise UnusableMusic(f"too short ({len(frames)} frames, need {c.min_frames})")
        tokens = self.encode_frames(frames)
        pitched = sum(1 for t in song.tracks if t.notes and not t.is_drum)
        return Encoded(tokens=tokens, n_notes=self.count_notes(tokens), source=f"{pitched} pitched track(s) merged",
                       notes_dropped=dropped, info={"frames": len(frames)})

    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        step = 1.0 / self.config.steps_per_quarter          # beats per frame
        notes, open_since = [], {}                           # pitch -> first frame of the sounding run
        frames = self.decode_frames(tokens)
        for k, frame in enumerate(frames + [[]]):
            now = set(frame)
            for p in [p for p in open_since if p not in now]:
                notes.append(Note(open_since.pop(p) * step, k * step, p, 80))
            for p in frame:
                open_since.setdefault(p, k)
        return Song(tracks=[Track(notes=sorted(notes), program=program, name="frames")],
                    tempos=[(0.0, float(tempo))], length=len(frames) * step)    # silent frames at the end too

    # ---- position input: the previous frame's next pitch -------------------------
    @property
    def position_classes(self) -> int:
        return (self.n_pitches + 1) * max(1, self.config.frame_cycle)

    def positions(self, tokens) -> list[int]:
        """After each token: 1 + the index of the pitch of the previous
        complete frame that comes next in the frame order after the last
        pitch of the current frame (the lowest above it, or the highest below
        it with order "descending"; at a frame start the first pitch of the
        previous frame), or 0 when there is none (also after <bos>). With
        `frame_cycle` C > 0, plus (n_pitches + 1) x (the number of the frame
        being written, counted from 0 at <bos>, modulo C). 0 after <eos>/<pad>."""
        n = self.n_pitches
        rank = (lambda i: n - 1 - i) if self.descending else (lambda i: i)   # rank order = writing order
        cycle = self.config.frame_cycle
        previous: list[int] = []          # sorted ranks of the previous frame's pitches
        current: list[int] = []
        frame = 0                         # frames completed since <bos>
        out = []
        for tok in (int(t) for t in tokens):
            if self.is_pitch(tok):
                current.append(rank(tok - self.pitch_base))
            elif tok == self.end_of_frame:
                previous, current = sorted(current), []
                frame += 1
            elif tok == BOS:
                previous, current, frame = [], [], 0
            if tok in (EOS, PAD):
                out.append(0)
                continue
            last = current[-1] if current else -1
            k = bisect.bisect_right(previous, last)
            pointer = rank(previous[k]) + 1 if k < len(previous) else 0
            out.append(pointer + (n + 1) * (frame % cycle) if cycle else pointer)
        return out

    def transpose_positions(self, positions, semitones: int):
        if not semitones:
            return positions
        clock, pointer = np.divmod(positions, self.n_pitches + 1)
        moved = np.where(pointer > 0, pointer + semitones, 0)
        moved = np.where((moved >= 1) & (moved <= self.n_pitches), moved, 0)
        return moved + (self.n_pitches + 1) * clock

    # ---- the rest of the interface ------------------------------------------------
    def count_notes(self, tokens) -> int:
        """Notes as decoded: a pitch starting a run of consecutive frames."""
        count, previous = 0, set()
        for frame in self.decode_frames(tokens):
            now = set(frame)
            count += len(now - previous)
            previous = now
        return count

    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        out = []
        for tok in tokens:
            tok = int(tok)
            if self.is_pitch(tok):
                tok += semitones
                if not self.is_pitch(tok):
                    return None
            out.append(tok)
        return out

    def grammar(self, batch: int, constraints: Constraints, device, *, frames: int | None = None) -> FramesGrammar:
        return FramesGrammar(self, batch, constraints, device, frames=frames)

    def frames_for(self, constraints: Constraints) -> int:
        """Frames to sample: `bars` bars of the time signature (4/4 when none),
        else `seconds` at SECONDS_TEMPO bpm."""
        spq = self.config.steps_per_quarter
        if constraints.bars is not None:
            num, den = constraints.time_signature or (4, 4)
            return max(1, round(constraints.bars * num * 4 / den * spq))
        if constraints.seconds is not None and constraints.seconds > 0:
            return max(1, math.ceil(constraints.seconds * SECONDS_TEMPO / 60.0 * spq - 1e-9))
        raise ValueError("frames sampling needs a length: bars or seconds > 0")


def following_pitches(tok: FramesTokenizer) -> torch.Tensor:
    """(n_pitches + 1, n_pitches) bool: row i + 1 = the pitch indices that
    may follow pitch index i in a frame (above it, or below it with order
    "descending"); row 0 = every pitch (the start of a frame)."""
    pitch = torch.arange(tok.n_pitches)[None, :]
    last = torch.arange(-1, tok.n_pitches)[:, None]
    if tok.descending:
        return (last == -1) | (pitch < last)
    return pitch > last


class FramesGrammar(Grammar):
    """Within a frame pitches rise strictly (fall with order "descending")
    and satisfy the key, scale and pitch range, then `frame`; after the requested number of frames only
    <eos>. <eos> is never allowed inside the length."""

    row_state = ("started", "done", "frames", "base", "last", "previous", "current", "ended")

    def __init__(self, tok: FramesTokenizer, batch: int, constraints: Constraints, device, *,
                 frames: int | None = None):
        if frames is not None and frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.tok, self.device = tok, device
        self.frames_wanted = frames if frames is not None else tok.frames_for(constraints)
        c, V = tok.config, tok.vocab_size
        self.started = torch.zeros(batch, dtype=torch.bool)
        self.done = torch.zeros(batch, dtype=torch.bool)
        self.frames = torch.zeros(batch, dtype=torch.long)
        self.base = torch.zeros(batch, dtype=torch.long)
        self.last = torch.full((batch,), -1, dtype=torch.long)     # index of the last pitch in this frame
        self.previous = torch.zeros(batch, tok.n_pitches, dtype=torch.bool)   # the last complete frame
        self.current = torch.zeros(batch, tok.n_pitches, dtype=torch.bool)
        self.ended = torch.zeros(batch, dtype=torch.bool)              # the last token was <eos>/<pad>
        ok = torch.tensor([constraints.pitch_ok(p) for p in range(c.pitch_low, c.pitch_high + 1)])
        if not ok.any():
            raise ValueError("no pitch in this model's range satisfies the key, scale and pitch range")
        # m_after[i + 1]: tokens allowed after pitch index i (row 0: at the start of a frame)
        self.m_after = torch.zeros(tok.n_pitches + 1, V, dtype=torch.bool)
        self.m_after[:, tok.pitch_base:tok.end_of_frame] = following_pitches(tok) & ok
        self.m_after[:, tok.end_of_frame] = True
        self.m_only = torch.eye(V, dtype=torch.bool)

    def mark_primed(self) -> None:
        self.base = self.frames.clone()

    def max_steps(self) -> int:
        return int(self.frames_wanted * (self.tok.n_pitches + 1) + 2)

    def mask(self) -> torch.Tensor:
        m = self.m_after[self.last + 1].clone()                  # (B, V)
        return self._bracket(m, (self.frames - self.base) >= self.frames_wanted).to(self.device)

    def update(self, tokens: torch.Tensor) -> None:
        tok = self.tok
        t = tokens.detach().to("cpu").long()
        live = self._start_and_end(t)
        is_pitch = live & (t >= tok.pitch_base) & (t < tok.end_of_frame)
        self.last[is_pitch] = t[is_pitch] - tok.pitch_base
        self.current[is_pitch, self.last[is_pitch]] = True
        is_end = live & (t == tok.end_of_frame)
        self.frames[is_end] += 1
        self.last[is_end] = -1
        self.previous[is_end] = self.current[is_end]
        self.current[is_end] = False
        is_bos = live & (t == BOS)
        self.previous[is_bos] = False
        self.current[is_bos] = False
        self.ended = (t == EOS) | (t == PAD)

    def positions(self) -> torch.Tensor:
        """The tokenizer's position class after each sequence's last token."""
        n = self.tok.n_pitches
        later = self.previous & following_pitches(self.tok)[self.last + 1]     # (B, n) still to come in order
        if self.tok.descending:
            first = n - 1 - later.flip(1).int().argmax(dim=1)                   # the highest of them
        else:
            first = later.int().argmax(dim=1)                                   # the lowest of them
        found = later.any(dim=1) & ~self.ended
        pointer = torch.where(found, first + 1, torch.zeros_like(first))
        cycle = self.tok.config.frame_cycle
        if not cycle:
            return pointer
        return torch.where(self.ended, torch.zeros_like(pointer), pointer + (n + 1) * (self.frames % cycle))

    def progress_rows(self) -> np.ndarray:
        return ((self.frames - self.base).float() / self.frames_wanted).clamp(max=1.0).numpy()
