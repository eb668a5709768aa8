"""What every representation provides: the Tokenizer base class, its grammar and constraints."""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from composer.errors import ComposerError
from composer.music.progression import Progression
from composer.music.song import Song

PAD, BOS, EOS = 0, 1, 2


class UnusableMusic(ComposerError):
    """A song holds nothing this representation can use; the message says why
    in words a musician understands ("drums only", "no notes", ...)."""


@dataclass
class Encoded:
    """A song as tokens, with what was taken from it."""

    tokens: list[int]
    n_notes: int
    source: str = ""            # e.g. "track 2 'Flute' (program 73)"
    notes_dropped: int = 0      # e.g. chord notes removed by the melody policy
    info: dict = field(default_factory=dict)


@dataclass
class Constraints:
    """Hard limits applied while sampling, by masking logits."""

    bars: int | None = None                     # melody: exact number of new bars
    seconds: float | None = None                # performance: length in seconds
    pitch_classes: frozenset[int] | None = None  # allowed pitch classes (key + scale)
    pitch_low: int = 0
    pitch_high: int = 127
    time_signature: tuple[int, int] | None = None
    # melody: a chord progression from the first new bar on; notes sounding on strong beats are
    # its chord tones, others chord tones or `pitch_classes` (representations.melody.chords)
    chords: Progression | None = None

    def __post_init__(self):
        if not 0 <= self.pitch_low <= self.pitch_high <= 127:
            raise ComposerError("pitch range must satisfy 0 <= low <= high <= 127, "
                                f"got {self.pitch_low}..{self.pitch_high}")

    def in_range(self, pitch: int) -> bool:
        return self.pitch_low <= pitch <= self.pitch_high

    def pitch_ok(self, pitch: int) -> bool:
        return (self.pitch_low <= pitch <= self.pitch_high
                and (self.pitch_classes is None or pitch % 12 in self.pitch_classes))


class Decoder:
    """Decodes a token sequence that grows while it is sampled: `feed` the
    tokens added since the last call, `song()` is `decode` of all of them.
    This one decodes everything again on each `song()`; a representation
    whose previews are worth it (melody) keeps its state and decodes only
    the new tokens."""

    def __init__(self, tokenizer: Tokenizer, *, tempo: float = 120.0, program: int = 0):
        self.tokenizer, self.tempo, self.program = tokenizer, tempo, program
        self.tokens: list[int] = []

    def feed(self, tokens) -> None:
        self.tokens.extend(int(t) for t in tokens)

    def song(self) -> Song:
        return self.tokenizer.decode(self.tokens, tempo=self.tempo, program=self.program)


class Grammar(ABC):
    """Batched sampling state: which tokens may come next for each sequence.

    `mask()` returns a bool tensor (B, V), True = allowed; `update(tokens)`
    advances every sequence by one token (B,); `done` (B,) marks finished ones.
    A finished sequence is only ever allowed PAD.
    """

    done: torch.Tensor

    @abstractmethod
    def mask(self) -> torch.Tensor: ...

    @abstractmethod
    def update(self, tokens: torch.Tensor) -> None: ...

    @abstractmethod
    def max_steps(self) -> int:
        """An upper bound on the tokens still to sample (the loop's guard)."""

    def progress_rows(self) -> np.ndarray:
        """Fraction of the requested length each sequence has reached, 0..1 (B,)."""
        return np.zeros(self.size, dtype=np.float32)

    def progress(self) -> float:
        """Fraction of the requested length reached by the slowest sequence."""
        rows = self.progress_rows()
        return float(rows.min()) if len(rows) else 1.0

    # Shared by the grammars whose sequences are <bos> ... <eos> <pad>... and that
    # keep `started`, `done` (B,) and the one-hot rows `m_only` (V, V).
    def _bracket(self, m: torch.Tensor, at_end: torch.Tensor) -> torch.Tensor:
        """Force <eos> where the length is reached, <bos> first, <pad> after the end."""
        m[at_end] = self.m_only[EOS]
        m[~self.started] = self.m_only[BOS]
        m[self.done] = self.m_only[PAD]
        return m

    def _start_and_end(self, t: torch.Tensor) -> torch.Tensor:
        """Note <bos> and <eos>/<pad> in tokens t (B,); returns which sequences
        were still live before this token."""
        live = ~self.done
        self.started |= live & (t == BOS)
        self.done |= live & ((t == EOS) | ((t == PAD) & self.started))
        return live

    def positions(self) -> torch.Tensor:
        """Position class (B,) of each sequence after its last token (see
        `Tokenizer.positions`); zeros for representations without one."""
        return torch.zeros_like(self.done, dtype=torch.long)

    # Each sequence's state is one row of the arrays or tensors named here (first
    # dimension B), so the sampler can drop finished sequences and start new
    # ones in their places (continuous batching, composer.model.sampling).
    row_state: tuple[str, ...] = ()

    def keep(self, rows: np.ndarray) -> None:
        """Go on with the sequences `rows` (indices, in that order) only."""
        index = torch.from_numpy(rows)
        for name in self.row_state:
            value = getattr(self, name)
            setattr(self, name, value[rows] if isinstance(value, np.ndarray) else value[index])

    def repeat(self, k: int) -> Grammar:
        """A grammar of k sequences, each in the state of this one's first."""
        new = copy.copy(self)
        new.keep(np.zeros(k, dtype=np.int64))
        return new

    def restart(self, rows: np.ndarray, template: Grammar) -> None:
        """The sequences `rows` start again, in the state of `template`'s first."""
        index = torch.from_numpy(rows)
        for name in self.row_state:
            value, start = getattr(self, name), getattr(template, name)[:1]
            value[rows if isinstance(value, np.ndarray) else index] = start

    @property
    def size(self) -> int:
        """How many sequences this grammar holds."""
        return len(getattr(self, self.row_state[0]))


class Tokenizer(ABC):
    """A representation: Song <-> token ids, and a grammar for sampling."""

    kind: str = ""

    def __init__(self, config):
        self.config = config
        self.vocab: list[str] = self._build_vocab()
        self.index = {name: i for i, name in enumerate(self.vocab)}
        if self.vocab[:3] != ["<pad>", "<bos>", "<eos>"]:
            raise ValueError("a vocabulary must start with <pad>, <bos>, <eos>")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @abstractmethod
    def _build_vocab(self) -> list[str]: ...

    @abstractmethod
    def encode(self, song: Song) -> Encoded:
        """Tokens for `song`, starting with BOS and ending with EOS; raises
        UnusableMusic with the reason when nothing usable is in it."""

    @abstractmethod
    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        """A valid Song for ANY token sequence (unexpected tokens are skipped)."""

    def decoder(self, *, tempo: float = 120.0, program: int = 0) -> Decoder:
        """A Decoder for a sequence that is still growing (live previews)."""
        return Decoder(self, tempo=tempo, program=program)

    @abstractmethod
    def grammar(self, batch: int, constraints: Constraints, device) -> Grammar: ...

    @abstractmethod
    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        """The sequence moved by `semitones`, or None if a note leaves the range."""

    @abstractmethod
    def count_notes(self, tokens) -> int:
        """How many notes `tokens` encode (the denominator of bits per note)."""

    @property
    def position_classes(self) -> int:
        """How many position classes `positions` uses (1 = no position input)."""
        return 1

    def positions(self, tokens) -> list[int]:
        """For each token, a small integer the model gets as an extra input with
        that token: for melody the grid step within the bar after the token.
        Representations without such a notion return zeros."""
        return [0] * len(tokens)

    def transpose_positions(self, positions, semitones: int):
        """`positions` (a numpy array from `positions`) of the same tokens
        transposed by `semitones`; unchanged for representations whose
        positions do not name pitches."""
        return positions

    def strip_end(self, tokens: list[int]) -> list[int]:
        """Tokens without the trailing EOS/PAD, for priming a continuation."""
        out = list(tokens)
        while out and out[-1] in (EOS, PAD):
            out.pop()
        return out
