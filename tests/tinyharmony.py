"""Arrangements built in code (a melody on chord tones over I-IV-V-I with a
bass on the roots and inner voices on the other chord tones), for tests of
the harmoniser that need data or a tiny trained model."""
from __future__ import annotations

import numpy as np

from composer.music import harmony
from composer.representations.accompany.grid import HOLD, REST, AccompanyConfig, Arrangement

PROGRESSION = ((0, 0), (5, 0), (7, 0), (0, 0))      # (root, quality): C F G C in C major
VOICE_OFFSETS = {"soprano": 72, "alto": 60, "tenor": 52, "inner": 55, "chords": 60, "bass": 36}


def _row(pitches_per_beat: list[int], spb: int, config: AccompanyConfig) -> np.ndarray:
    row = []
    for pitch in pitches_per_beat:
        row += [config.onset(pitch) if pitch >= 0 else REST] + [HOLD if pitch >= 0 else REST] * (spb - 1)
    return np.array(row, dtype=np.int16)


def _in_register(pc: int, floor: int) -> int:
    return floor + (pc - floor) % 12


def make_arrangement(config: AccompanyConfig, *, key: int = 0, bars: int = 4, seed: int = 0,
                     name: str = "") -> Arrangement:
    """`bars` bars of 4/4, one chord a bar (the progression in `key`), the
    melody on a random chord tone each beat, each voice on a chord tone."""
    rng = np.random.default_rng(seed)
    spb = config.steps_per_beat
    rows = list(config.voices)
    melody, chords, voices = [], [], {v: [] for v in rows}
    for bar in range(bars):
        root, quality = PROGRESSION[bar % len(PROGRESSION)]
        root = (root + key) % 12
        tones = sorted(harmony.chord_tones(harmony.label(root, quality)))
        for beat in range(4):
            chords.append(harmony.label(root, quality))
            melody.append(_in_register(int(rng.choice(tones)), 67))
            for i, v in enumerate(rows):
                pc = root if v == "bass" else tones[(i + beat) % len(tones)]
                voices[v].append(_in_register(pc, VOICE_OFFSETS.get(v, 55)))
    steps = 4 * bars * spb
    return Arrangement(
        steps_per_beat=spb, melody=_row(melody, spb, config),
        voices=np.array([_row(voices[v], spb, config) for v in rows], dtype=np.int16).reshape(len(rows), steps),
        chords=np.array(chords, dtype=np.int16),
        step_in_bar=np.array([i % (4 * spb) for i in range(bars * 4 * spb)], dtype=np.int16),
        voice_names=tuple(rows), name=name or f"piece{seed}")


def arrangements(config: AccompanyConfig, count: int = 8) -> list[Arrangement]:
    return [make_arrangement(config, key=k % 5, bars=4 + k % 3, seed=k, name=f"piece{k}") for k in range(count)]


def tiny_train_config(folder, out, voices=("alto", "tenor", "bass"), **changes):
    from training.config import TrainConfig
    settings = dict(folder=str(folder), out=str(out), objective="accompany", accompany_voices=tuple(voices),
                    steps=30, hidden=32, embed=16, layers=1, batch=4, seq_len=32, eval_every=10, force=True,
                    device="cpu", warmup_steps=0)
    settings.update(changes)
    return TrainConfig(**settings)


def train_tiny_harmonizer(out, voices=("alto", "tenor", "bass"), **changes):
    """A 1-layer harmoniser trained 30 steps on `arrangements` (pieces 0 and 1 held out); the TrainResult."""
    from training.trainer import train_arrangements
    config = tiny_train_config(out.parent / "pieces", out, voices, **changes)
    return train_arrangements(config, arrangements(config.accompany_config(), 8), ["piece0", "piece1"])


def tiny_harmonizer_file(path, voices=("alto", "tenor", "bass"), steps: int = 20):
    """A harmoniser model file trained `steps` teacher-forced steps on `arrangements` (fast; no trainer)."""
    import torch

    from composer.model.harmonizer_data import batch_nll, collate
    from composer.model.harmonizer_network import HarmonizerConfig, HarmonizerRNN
    from composer.model.modelfile import save_model
    from composer.representations.accompany.representation import AccompanyRepresentation
    torch.manual_seed(0)
    rep = AccompanyRepresentation(AccompanyConfig(voices=tuple(voices)))
    model = HarmonizerRNN(HarmonizerConfig(vocab_size=rep.vocab_size, voices=len(rep.rows), embed_dim=16,
                                           hidden_size=32, num_layers=1, dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = collate(arrangements(rep.config, 8), len(rep.rows))
    for _ in range(steps):
        chord_nll, voice_nll = batch_nll(model, batch)
        loss = (chord_nll.sum() + voice_nll.sum()) / batch.n_targets
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return save_model(path, model.eval(), rep, {"objective": "accompany"})
