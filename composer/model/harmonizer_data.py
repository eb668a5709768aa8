"""Arrangements as the harmoniser's tensors, and its exact likelihood.

One layout (`collate`) is shared by training, evaluation and sampling, so the
model sees the same thing in all three. `harmony_bits` is the one
implementation of the held-out metric (the trainer's validation and
`composer eval` both call it):

    bits per chord label = -log2 P(chord labels | melody, ...) / beats
    bits per voice note  = -log2 P(voice step tokens | melody, chords, ...) / voice onsets

(as bits per note counts every token of a melody, rests and holds included,
and divides by its notes). Their sum over a piece divided by its beats is the
selection metric of a training run (bits per beat).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from composer.music import harmony
from composer.representations.accompany.grid import ONSET, AccompanyConfig, Arrangement

LN2 = float(np.log(2.0))


@dataclass
class HarmonyBatch:
    melody: torch.Tensor       # (B, T) step tokens (REST after a piece's end)
    positions: torch.Tensor    # (B, T) step in bar
    lengths: torch.Tensor      # (B,) real steps (stays on the CPU: pack_padded_sequence)
    voices: torch.Tensor       # (B, R, T) step tokens
    chords: torch.Tensor       # (B, T // steps_per_beat) labels
    step_mask: torch.Tensor    # (B, T) True = a real step
    beat_mask: torch.Tensor    # (B, beats) True = a real beat

    def to(self, device) -> HarmonyBatch:
        moved = {name: getattr(self, name).to(device) for name in
                 ("melody", "positions", "voices", "chords", "step_mask", "beat_mask")}
        return replace(self, **moved)

    @property
    def n_targets(self) -> int:
        """Chord labels and voice step tokens predicted (for the loss per target)."""
        return int(self.beat_mask.sum()) + int(self.step_mask.sum()) * self.voices.shape[1]


def collate(arrangements: Sequence[Arrangement], n_voices: int) -> HarmonyBatch:
    """Pad a list of arrangements of one steps_per_beat to one batch."""
    spb = arrangements[0].steps_per_beat
    B, T = len(arrangements), max(a.steps for a in arrangements)
    melody = torch.zeros((B, T), dtype=torch.long)
    positions = torch.zeros((B, T), dtype=torch.long)
    voices = torch.zeros((B, n_voices, T), dtype=torch.long)
    chords = torch.zeros((B, T // spb), dtype=torch.long)
    step_mask = torch.zeros((B, T), dtype=torch.bool)
    beat_mask = torch.zeros((B, T // spb), dtype=torch.bool)
    for row, a in enumerate(arrangements):
        n = a.steps
        if a.steps_per_beat != spb or a.voices.shape[0] != n_voices:
            raise ValueError(f"{a.name or 'an arrangement'}: {a.voices.shape[0]} voice rows at {a.steps_per_beat} "
                             f"steps a beat, the batch has {n_voices} at {spb}")
        melody[row, :n] = torch.from_numpy(a.melody.astype(np.int64))
        positions[row, :n] = torch.from_numpy(a.step_in_bar.astype(np.int64))
        voices[row, :, :n] = torch.from_numpy(a.voices.astype(np.int64))
        chords[row, :a.beats] = torch.from_numpy(a.chords.astype(np.int64))
        step_mask[row, :n] = True
        beat_mask[row, :a.beats] = True
    lengths = torch.tensor([max(1, a.steps) for a in arrangements], dtype=torch.long)
    return HarmonyBatch(melody, positions, lengths, voices, chords, step_mask, beat_mask)


def batch_nll(model, batch: HarmonyBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(chord nats (B,), voice nats (B,)) of a batch already on the model's device."""
    chord_logits, voice_logits = model(batch.melody, batch.positions, batch.lengths, batch.voices, batch.chords)
    B = batch.melody.shape[0]
    chord_nll = torch.zeros(B, device=batch.melody.device)
    if chord_logits is not None:
        nll = F.cross_entropy(chord_logits.float().transpose(1, 2), batch.chords, reduction="none")   # (B, beats)
        chord_nll = (nll * batch.beat_mask).sum(dim=1)
    voice_nll = torch.zeros(B, device=batch.melody.device)
    for v, logits in enumerate(voice_logits):
        nll = F.cross_entropy(logits.float().transpose(1, 2), batch.voices[:, v], reduction="none")   # (B, T)
        voice_nll = voice_nll + (nll * batch.step_mask).sum(dim=1)
    return chord_nll, voice_nll


@dataclass(frozen=True)
class HarmonyBits:
    """Summed bits and counts; add two to pool them."""

    chord_bits: float = 0.0
    beats: int = 0                 # chord labels scored (0 when the model predicts none)
    voice_bits: float = 0.0
    voice_notes: int = 0           # onsets in the voice rows
    voice_steps: int = 0
    pieces: int = 0

    def __add__(self, other: HarmonyBits) -> HarmonyBits:
        return HarmonyBits(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple:
        return (self.chord_bits, self.beats, self.voice_bits, self.voice_notes, self.voice_steps, self.pieces)

    @property
    def bits_per_chord(self) -> float | None:
        return self.chord_bits / self.beats if self.beats else None

    @property
    def bits_per_voice_note(self) -> float | None:
        return self.voice_bits / self.voice_notes if self.voice_notes else None

    @property
    def bits_per_beat(self) -> float | None:
        """Chord and voice bits per beat of melody: the selection metric of a run."""
        beats = self.beats or self.voice_steps
        return (self.chord_bits + self.voice_bits) / beats if beats else None


@torch.no_grad()
def harmony_bits(model, arrangements: Sequence[Arrangement], *, device="cpu", batch_size: int = 16) -> HarmonyBits:
    """The exact held-out bits of `model` on whole arrangements (eval mode)."""
    model.eval()
    c = model.config
    total = HarmonyBits()
    pieces = [a for a in arrangements if a.steps >= c.steps_per_beat]
    for at in range(0, len(pieces), batch_size):
        chunk = pieces[at:at + batch_size]
        batch = collate(chunk, c.voices).to(device)
        chord_nll, voice_nll = batch_nll(model, batch)
        for a, cn, vn in zip(chunk, chord_nll.tolist(), voice_nll.tolist()):
            total = total + HarmonyBits(
                chord_bits=cn / LN2 if c.chords else 0.0, beats=a.beats if c.chords else 0,
                voice_bits=vn / LN2, voice_notes=int((a.voices >= ONSET).sum()),
                voice_steps=a.steps // a.steps_per_beat if c.voices else 0, pieces=1)
    return total


# ---- moving arrangements ------------------------------------------------------------

def transposed(arr: Arrangement, shift: int, config: AccompanyConfig) -> Arrangement | None:
    """`arr` moved by `shift` semitones (melody, voices and chord roots), or
    None when a note would leave config.low..config.high."""
    if shift == 0:
        return arr
    rows = np.vstack([arr.melody[None, :], arr.voices]).astype(np.int32)
    onsets = rows >= ONSET
    moved = np.where(onsets, rows + shift, rows)
    if onsets.any() and (moved[onsets].min() < ONSET or moved[onsets].max() >= config.step_vocab):
        return None
    return replace(arr, melody=moved[0].astype(np.int16), voices=moved[1:].astype(np.int16),
                   chords=CHORD_SHIFT[shift % 12][arr.chords.astype(np.int64)])


def _chord_shift_table(shift: int) -> np.ndarray:
    table = np.zeros(harmony.LABEL_COUNT, dtype=np.int16)
    for label in range(1, harmony.LABEL_COUNT):
        root, quality = harmony.root_and_quality(label)
        table[label] = harmony.label(root + shift, quality)
    return table


CHORD_SHIFT = [_chord_shift_table(s) for s in range(12)]


def window(arr: Arrangement, start: int, steps: int) -> Arrangement:
    """Steps [start, start + steps) of `arr`; `start` and `steps` whole beats."""
    spb = arr.steps_per_beat
    stop = min(arr.steps, start + steps)
    return replace(arr, melody=arr.melody[start:stop], voices=arr.voices[:, start:stop],
                   chords=arr.chords[start // spb:stop // spb], step_in_bar=arr.step_in_bar[start:stop])
