"""The performance representation ends notes at `max_note_seconds` when decoding
(composer/representations/performance.py), and model files without the
setting get the default."""
import json

import pytest
from safetensors import safe_open
from safetensors.torch import save

from composer.model.modelfile import load_model, save_model
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS
from composer.representations.performance import PerformanceConfig, PerformanceTokenizer
from tests.tinymodels import train_tiny


def on(tok, pitch):
    return tok.index[f"on:{pitch}"]


def off(tok, pitch):
    return tok.index[f"off:{pitch}"]


def shift(tok, seconds):
    """Shift tokens worth `seconds` (1 s each at the defaults)."""
    steps = round(seconds * 1000 / tok.config.shift_ms)
    return [tok.index[f"shift:{tok.config.max_shift}"]] * (steps // tok.config.max_shift)


def test_a_note_never_ended_decodes_to_the_cap():
    tok = PerformanceTokenizer()
    # C4 struck and never released; E4 played for 1 s within the 12 s of the piece
    tokens = [BOS, on(tok, 60), *shift(tok, 2), on(tok, 64), *shift(tok, 1), off(tok, 64), *shift(tok, 9), EOS]
    notes = tok.decode(tokens, tempo=60).tracks[0].notes       # 60 bpm: one beat a second
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 0.0, 5.0), (64, 2.0, 3.0)]
    assert tok.long_notes(tokens) == (2, 1, 12.0)


def test_a_note_ended_by_its_note_off_is_unchanged():
    tok = PerformanceTokenizer()
    tokens = [BOS, on(tok, 60), *shift(tok, 4), off(tok, 60), *shift(tok, 8), EOS]
    notes = tok.decode(tokens, tempo=60).tracks[0].notes
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 0.0, 4.0)]
    assert tok.long_notes(tokens) == (1, 0, 4.0)


def test_the_cap_is_a_setting_and_a_late_note_off_changes_nothing():
    tok = PerformanceTokenizer(PerformanceConfig(max_note_seconds=2.0))
    held = [BOS, on(tok, 60), *shift(tok, 3), off(tok, 60), on(tok, 60), *shift(tok, 1), off(tok, 60), EOS]
    notes = tok.decode(held, tempo=60).tracks[0].notes
    assert [(n.start, n.end) for n in notes] == [(0.0, 2.0), (3.0, 4.0)]
    with pytest.raises(ValueError, match="max_note_seconds"):
        PerformanceConfig(max_note_seconds=0)


def test_a_long_note_of_the_data_is_capped_like_generated_ones():
    tok = PerformanceTokenizer()
    song = Song(tracks=[Track(notes=[Note(0, 16, 48)] + [Note(i, i + 1, 72) for i in range(16)])],
                tempos=[(0.0, 120.0)])                          # the low note lasts 8 s
    notes = tok.decode(tok.encode(song).tokens, tempo=120).tracks[0].notes
    low = [n for n in notes if n.pitch == 48]
    assert [(n.start, n.end) for n in low] == [(0.0, 10.0)]     # 5 s at 120 bpm
    assert len(notes) == 17


def test_a_model_file_without_the_setting_decodes_with_the_default(tmp_path):
    model, _ = train_tiny("performance", steps=2)
    path = save_model(tmp_path / "new.model", model, PerformanceTokenizer(PerformanceConfig(max_note_seconds=2.5)))
    assert load_model(path, "cpu").tokenizer.config.max_note_seconds == 2.5
    with safe_open(str(path), framework="pt") as handle:
        tensors, meta = {k: handle.get_tensor(k) for k in handle.keys()}, json.loads(handle.metadata()["composer"])
    del meta["representation"]["config"]["max_note_seconds"]           # as written before the setting existed
    old = tmp_path / "old.model"
    old.write_bytes(save(tensors, metadata={"format": "composer-model", "composer": json.dumps(meta)}))
    assert load_model(old, "cpu").tokenizer.config.max_note_seconds == 5.0
