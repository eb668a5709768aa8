"""The harmoniser: chords and voices under a whole melody, on the Arrangement grid.

    melody step tokens + step in bar -> bidirectional RNN (+ the step's own inputs) -> memory (B, T, E)
    at every step t, a forward RNN reads memory[t] + the previous step's
    chord and voice tokens -> h (B, T, H); from h, in turn:
        chord label (only at beat starts; the beat's label holds for its steps)
        voice 0's step token, given the chord
        voice 1's step token, given the chord and voice 0's token, ...

Every output is a softmax over a closed set, conditioned on everything chosen
before it (earlier steps, then earlier outputs of the same step), so the sum
of the log-probabilities is the exact likelihood of an arrangement given its
melody: bits per chord label and per voice note are exact. The encoder reads
the whole melody, as the infill model reads both sides of a span.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from composer.config import ConfigMixin
from composer.model.network import CELLS
from composer.music import harmony

ARCHITECTURE = "harmonizer"


@dataclass(frozen=True)
class HarmonizerConfig(ConfigMixin):
    vocab_size: int                       # step tokens of a row (AccompanyConfig.step_vocab)
    architecture: str = ARCHITECTURE      # tells a model file's loader which class to build
    voices: int = 1                       # voice rows predicted under the melody
    chords: bool = True                   # predict a chord label per beat
    steps_per_beat: int = 2
    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    position_classes: int = 64            # step-in-bar classes (clamped), 0 = no position input

    def __post_init__(self):
        if self.architecture != ARCHITECTURE:
            raise ValueError(f"architecture must be {ARCHITECTURE!r}, got {self.architecture!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers", "steps_per_beat"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.voices < 0 or (self.voices == 0 and not self.chords):
            raise ValueError(f"a harmoniser predicts chords or at least one voice, got {self.voices} voices "
                             f"and chords={self.chords}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.position_classes < 0:
            raise ValueError(f"position_classes must be >= 0, got {self.position_classes}")


def is_harmonizer_config(model_config: dict) -> bool:
    """True when a model file's "model" metadata describes a HarmonizerRNN."""
    return isinstance(model_config, dict) and model_config.get("architecture") == ARCHITECTURE


CHORDS = harmony.LABEL_COUNT      # the chord classes; index CHORDS is "before the first step"


class HarmonizerRNN(nn.Module):
    def __init__(self, config: HarmonizerConfig):
        super().__init__()
        self.config = c = config
        rnn = CELLS[c.cell]
        drop = c.dropout if c.num_layers > 1 else 0.0
        E, H, V = c.embed_dim, c.hidden_size, c.vocab_size
        self.melody_embed = nn.Embedding(V, E)
        self.pos_embed = nn.Embedding(c.position_classes, E) if c.position_classes > 1 else None
        self.encoder = rnn(E, H, num_layers=c.num_layers, dropout=drop, batch_first=True, bidirectional=True)
        self.memory_proj = nn.Linear(2 * H, E)
        # the previous step's outputs, as decoder inputs (one extra class: before the first step)
        self.prev_chord = nn.Embedding(CHORDS + 1, E) if c.chords else None
        self.prev_voice = nn.ModuleList(nn.Embedding(V + 1, E) for _ in range(c.voices))
        self.decoder = rnn(E, H, num_layers=c.num_layers, dropout=drop, batch_first=True)
        self.drop = nn.Dropout(c.dropout)
        self.chord_head = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, CHORDS)) if c.chords else None
        # voice v reads h, this step's chord and the tokens voices 0..v-1 chose at this step
        self.voice_in = nn.ModuleList(nn.Linear(H, H) for _ in range(c.voices))
        self.voice_chord = nn.ModuleList(nn.Embedding(CHORDS, H) for _ in range(c.voices if c.chords else 0))
        self.voice_above = nn.ModuleList(nn.ModuleList(nn.Embedding(V, H) for _ in range(v)) for v in range(c.voices))
        self.voice_head = nn.ModuleList(nn.Linear(H, V) for _ in range(c.voices))

    # ---- the parts -----------------------------------------------------------------
    def encode(self, melody: torch.Tensor, positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Melody step tokens (B, T), step in bar (B, T), real lengths (B,) -> memory (B, T, E)."""
        x = self.melody_embed(melody) + self._positions(positions)              # (B, T, E)
        packed = pack_padded_sequence(self.drop(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=melody.shape[1])   # (B, T, 2H)
        # the step's own melody note and place in the bar go straight on: the chord of a beat
        # depends most on them, and the RNN need not learn to carry them through
        return self.memory_proj(self.drop(out)) + x                              # (B, T, E)

    def _positions(self, positions: torch.Tensor) -> torch.Tensor | float:
        if self.pos_embed is None:
            return 0.0
        return self.pos_embed(positions.clamp(0, self.config.position_classes - 1))

    def decode(self, memory: torch.Tensor, prev_chord: torch.Tensor | None, prev_voices: torch.Tensor, state=None):
        """memory (B, T, E), the previous step's chord (B, T) and voice tokens
        (B, R, T) (the "before" class at the first step) -> h (B, T, H), state."""
        x = memory
        if self.prev_chord is not None:
            x = x + self.prev_chord(prev_chord)
        for v, embed in enumerate(self.prev_voice):
            x = x + embed(prev_voices[:, v])
        h, state = self.decoder(self.drop(x), state)
        return self.drop(h), state

    def chord_logits(self, h: torch.Tensor) -> torch.Tensor:
        """h (..., H) -> chord label logits (..., CHORDS)."""
        return self.chord_head(h)

    def voice_logits(self, v: int, h: torch.Tensor, chord: torch.Tensor | None, above: list[torch.Tensor]):
        """Voice v's step-token logits (..., V) from h (..., H), this step's
        chord (...) and the tokens of voices 0..v-1 at this step (each (...))."""
        z = self.voice_in[v](h)
        if self.config.chords:
            z = z + self.voice_chord[v](chord)
        for u, tokens in enumerate(above):
            z = z + self.voice_above[v][u](tokens)
        return self.voice_head[v](torch.relu(z))

    # ---- teacher forcing -------------------------------------------------------------
    def forward(self, melody, positions, lengths, voices, chords):
        """Melody (B, T), positions (B, T), lengths (B,), the true voices
        (B, R, T) and chords (B, T // steps_per_beat) -> (chord logits at beat
        starts (B, beats, CHORDS) or None, [voice logits (B, T, V)] per row)."""
        c = self.config
        B, T = melody.shape
        memory = self.encode(melody, positions, lengths)
        chord_steps = chords.repeat_interleave(c.steps_per_beat, dim=1)           # (B, T)
        prev_chord = torch.cat([chords.new_full((B, 1), CHORDS), chord_steps[:, :-1]], dim=1)
        prev_voices = torch.cat([voices.new_full((B, c.voices, 1), c.vocab_size), voices[:, :, :-1]], dim=2)
        h, _ = self.decode(memory, prev_chord if c.chords else None, prev_voices)   # (B, T, H)
        chord_out = self.chord_logits(h[:, ::c.steps_per_beat]) if c.chords else None   # (B, beats, CHORDS)
        voice_out = [self.voice_logits(v, h, chord_steps, [voices[:, u] for u in range(v)])
                     for v in range(c.voices)]
        return chord_out, voice_out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
