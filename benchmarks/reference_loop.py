"""The plain reference of the defaults benchmark (benchmarks/defaults.py, issue 18):
a textbook training loop to measure `train`'s defaults against.

Tokens, three per note: time-shift (grid steps from the previous note's
onset, the first from the start of the piece), pitch (MIDI 0..127), duration
(grid steps), between <bos> and <eos>. A shift or duration longer than
`SPAN` steps is preceded by one `more` token per `SPAN` steps, so every
melody is written exactly. The notes are those the project's melody policy
takes from each file (`reference_tokens` reads them from the project's own
tokens), so both sides model the same melodies.

Model and loop: embedding 128 -> nn.LSTM 2 x 256 -> linear, dropout 0.3;
AdamW at a constant 3e-3; batches of 32 windows of 128 tokens drawn uniformly
from the concatenated training tokens, each window transposed by a random
shift in -5..+5 semitones (0 if that leaves 0..127); gradient clipping 1.0;
validation every 20 s, the best weights kept.
"""
from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

SPAN = 96                       # shift / duration tokens: 0..95 and 1..96 grid steps
BOS, EOS, MORE_SHIFT, MORE_DUR = 0, 1, 2, 3
SHIFT0 = 4
PITCH0 = SHIFT0 + SPAN
DUR0 = PITCH0 + 128
VOCAB = DUR0 + SPAN
BATCH, WINDOW, LR, CLIP, TRANSPOSE, VALIDATE_EVERY_S = 32, 128, 3e-3, 1.0, 5, 20.0


def reference_tokens(tokenizer, project_tokens: Sequence[int]) -> list[int]:
    """The reference's tokens of the melody that `project_tokens` (the project's
    melody tokens of one file, from `tokenizer`) holds."""
    notes, _, _ = tokenizer.decode_notes(project_tokens)
    spq = tokenizer.config.steps_per_quarter
    out, previous = [BOS], 0
    for note in notes:
        start = round(note.start * spq)
        shift, duration = start - previous, max(1, round(note.end * spq) - start)
        previous = start
        out += [MORE_SHIFT] * (shift // SPAN) + [SHIFT0 + shift % SPAN, PITCH0 + note.pitch]
        out += [MORE_DUR] * ((duration - 1) // SPAN) + [DUR0 + (duration - 1) % SPAN]
    return out + [EOS]


def count_notes(tokens: Sequence[int]) -> int:
    return sum(1 for t in tokens if PITCH0 <= t < DUR0)


class ReferenceLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 128)
        self.drop = nn.Dropout(0.3)
        self.rnn = nn.LSTM(128, 256, num_layers=2, dropout=0.3, batch_first=True)
        self.head = nn.Linear(256, VOCAB)

    def forward(self, x):
        h, _ = self.rnn(self.drop(self.embed(x)))
        return self.head(self.drop(h))


@torch.no_grad()
def sequence_bits(model: ReferenceLSTM, sequences: Sequence[Sequence[int]], batch: int = 16) -> float:
    """Total negative log2-likelihood of every token after <bos> of `sequences`."""
    model.eval()
    order = sorted(sequences, key=len)
    total = 0.0
    for i in range(0, len(order), batch):
        group = order[i:i + batch]
        length = max(len(s) for s in group)
        tokens = torch.full((len(group), length), EOS, dtype=torch.long)
        for row, seq in enumerate(group):
            tokens[row, :len(seq)] = torch.tensor(seq)
        real = torch.arange(1, length)[None, :] < torch.tensor([len(s) for s in group])[:, None]
        nll = F.cross_entropy(model(tokens[:, :-1]).transpose(1, 2), tokens[:, 1:], reduction="none")
        total += float((nll * real).sum().double()) / math.log(2.0)
    return total


def _transposed(windows: torch.Tensor, rng: random.Random) -> torch.Tensor:
    pitch = (windows >= PITCH0) & (windows < DUR0)
    for row in range(windows.shape[0]):
        shift = rng.randint(-TRANSPOSE, TRANSPOSE)
        pitches = windows[row][pitch[row]] - PITCH0 + shift
        if len(pitches) and (pitches.min() < 0 or pitches.max() > 127):
            continue
        windows[row][pitch[row]] += shift
    return windows


def train_reference(train: Sequence[Sequence[int]], val: Sequence[Sequence[int]], seconds: float, *,
                    seed: int = 0, report: Callable[[dict], None] | None = None) -> dict:
    """Train for `seconds` of wall-clock time (validation included); returns
    {"state": best weights, "steps", "tokens", "seconds", "best_val_bits_per_note", "validations"}."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    stream = torch.tensor([t for seq in train for t in seq], dtype=torch.long)
    window = min(WINDOW, len(stream) - 1)
    offsets = torch.arange(window + 1)
    model = ReferenceLSTM()
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    val_notes = sum(count_notes(s) for s in val)
    best, best_state, validations, steps = math.inf, copy.deepcopy(model.state_dict()), 0, 0
    start = time.monotonic()
    next_validation = start + VALIDATE_EVERY_S
    while True:
        now = time.monotonic()
        if now >= next_validation or now - start >= seconds:
            bits = sequence_bits(model, val) / val_notes
            validations += 1
            if bits < best:
                best, best_state = bits, copy.deepcopy(model.state_dict())
            next_validation = time.monotonic() + VALIDATE_EVERY_S
            if now - start >= seconds:
                break
        batch = _transposed(stream[torch.randint(0, len(stream) - window, (BATCH,))[:, None] + offsets], rng)
        model.train()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        steps += 1
        if report is not None:
            report({"step": steps, "best": best if validations else None, "loss": loss.item()})
    return {"state": best_state, "steps": steps, "tokens": steps * BATCH * window,
            "seconds": time.monotonic() - start, "best_val_bits_per_note": best, "validations": validations}
