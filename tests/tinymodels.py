"""Tiny models trained in a few steps on melodies built in code, for tests
that need a real model file (sampling, CLI, GUI)."""
from __future__ import annotations

from pathlib import Path

import torch

from composer.model.modelfile import save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.music.song import Note, Song, Track
from composer.representations.frames import FramesConfig, FramesTokenizer
from composer.representations.melody import MelodyTokenizer
from composer.representations.performance import PerformanceTokenizer

C_MAJOR_TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 67, 64, 62, 60]


def scale_tune(offset: int = 0, *, beats: float = 0.5) -> list[Note]:
    """A 2-bar 4/4 tune of eighth notes (C major arpeggios, transposed by offset)."""
    return [Note(i * beats, (i + 1) * beats, p + offset) for i, p in enumerate(C_MAJOR_TUNE)]


def chord_song(offset: int = 0) -> Song:
    """A short piano piece with three-note chords (for the performance representation)."""
    notes = []
    for bar, root in enumerate([60, 65, 67, 60]):
        for k in range(4):
            for interval in (0, 4, 7):
                notes.append(Note(bar * 4 + k, bar * 4 + k + 0.9, root + interval + offset, 60 + 10 * k))
    return Song(tracks=[Track(notes=notes)])


def training_sequences(tokenizer) -> list[list[int]]:
    if isinstance(tokenizer, MelodyTokenizer):
        return [tokenizer.encode_notes(scale_tune(k), (4, 4)) for k in range(-3, 4)]
    return [tokenizer.encode(chord_song(k)).tokens for k in range(-3, 4)]


def train_tiny(kind: str = "melody", cell: str = "lstm", steps: int = 40, hidden: int = 48,
               position: bool = True, seed: int = 0) -> tuple[MusicRNN, object]:
    """Teacher-forced training of a 1-layer model on the code-made tunes."""
    torch.manual_seed(seed)
    tokenizer = {"melody": MelodyTokenizer, "performance": PerformanceTokenizer,
                 "frames": lambda: FramesTokenizer(FramesConfig(frame_cycle=4))}[kind]()
    config = ModelConfig(vocab_size=tokenizer.vocab_size, cell=cell, embed_dim=32, hidden_size=hidden,
                         num_layers=1, dropout=0.0,
                         position_classes=tokenizer.position_classes if position else 0)
    model = MusicRNN(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    seqs = training_sequences(tokenizer)
    length = max(len(s) for s in seqs)
    batch = torch.tensor([s + [0] * (length - len(s)) for s in seqs])
    pos = torch.tensor([tokenizer.positions(s) + [0] * (length - len(s)) for s in seqs])
    model.train()
    for _ in range(steps):
        logits, _ = model(batch[:, :-1], positions=pos[:, :-1] if position else None)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                                 ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, tokenizer


def tiny_model_file(path: Path, kind: str = "melody", cell: str = "lstm", **kwargs) -> Path:
    model, tokenizer = train_tiny(kind, cell, **kwargs)
    save_model(path, model, tokenizer, {"steps": kwargs.get("steps", 40), "corpus": {"name": "tiny test tunes"}})
    return path
