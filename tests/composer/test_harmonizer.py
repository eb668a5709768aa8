"""The harmoniser network: exact likelihood, sampling, constraints, model files."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tinyharmony import arrangements, make_arrangement

from composer.model.harmonizer_data import batch_nll, collate, harmony_bits, transposed, window
from composer.model.harmonizer_network import CHORDS, HarmonizerConfig, HarmonizerRNN
from composer.model.harmonizer_sampling import sample_harmony
from composer.model.modelfile import load_model, save_model
from composer.model.sampling import SamplingConfig
from composer.music import harmony
from composer.representations.accompany.grid import HOLD, ONSET, REST, AccompanyConfig
from composer.representations.accompany.representation import AccompanyRepresentation

CONFIG = AccompanyConfig(voices=("alto", "tenor", "bass"))


def _model(chords=True, voices=3, seed=0):
    torch.manual_seed(seed)
    return HarmonizerRNN(HarmonizerConfig(vocab_size=CONFIG.step_vocab, voices=voices, chords=chords,
                                          embed_dim=16, hidden_size=24, num_layers=2, dropout=0.0)).eval()


def _stepwise_nll(model, arr) -> float:
    """-log P of `arr` by stepping the decoder one step at a time, as sampling does."""
    c = model.config
    batch = collate([arr], c.voices)
    memory = model.encode(batch.melody, batch.positions, batch.lengths)
    prev_chord, prev = torch.tensor([CHORDS]), torch.full((1, c.voices), c.vocab_size)
    state, total = None, 0.0
    for t in range(arr.steps):
        h, state = model.decode(memory[:, t:t + 1], prev_chord[:, None], prev[:, :, None], state)
        h = h[:, 0]
        chord = torch.tensor([int(arr.chords[t // c.steps_per_beat])])
        if t % c.steps_per_beat == 0:
            total -= float(F.log_softmax(model.chord_logits(h), -1)[0, chord])
        above = []
        for v in range(c.voices):
            token = torch.tensor([int(arr.voices[v, t])])
            total -= float(F.log_softmax(model.voice_logits(v, h, chord, above), -1)[0, token])
            above.append(token)
        prev_chord, prev = chord, torch.stack(above, dim=1)
    return total


@torch.no_grad()
def test_teacher_forced_likelihood_is_the_stepwise_one():
    model = _model()
    pieces = arrangements(CONFIG, 3)
    chord_nll, voice_nll = batch_nll(model, collate(pieces, 3))      # padded batch of pieces of unequal length
    for piece, c, v in zip(pieces, chord_nll.tolist(), voice_nll.tolist()):
        assert c + v == pytest.approx(_stepwise_nll(model, piece), rel=1e-4)


def test_bits_count_chord_labels_and_voice_notes():
    pieces = arrangements(CONFIG, 2)
    bits = harmony_bits(_model(), pieces)
    assert bits.beats == sum(p.beats for p in pieces)
    assert bits.voice_notes == sum(int((p.voices >= ONSET).sum()) for p in pieces)
    assert bits.bits_per_chord > 0 and bits.bits_per_voice_note > 0
    no_chords = harmony_bits(_model(chords=False), pieces)
    assert no_chords.beats == 0 and no_chords.bits_per_chord is None


def test_transposed_moves_pitches_and_chord_roots_together():
    piece = make_arrangement(CONFIG, bars=2)
    up = transposed(piece, 3, CONFIG)
    onsets = piece.voices >= ONSET
    assert (up.voices[onsets] == piece.voices[onsets] + 3).all()
    assert [harmony.chord_name(c) for c in up.chords[::4]] == ["Eb", "Ab"]
    assert transposed(piece, CONFIG.high, CONFIG) is None            # off the top of the range
    part = window(piece, 8, 8)
    assert part.steps == 8 and part.beats == 4 and list(part.chords) == list(piece.chords[4:8])


def test_sampling_is_reproducible_and_independent_of_batch_size():
    model, melody = _model(), make_arrangement(CONFIG, bars=2, seed=3)
    four = sample_harmony(model, melody, CONFIG, 4, SamplingConfig(), seed=11)
    one = sample_harmony(model, melody, CONFIG, 1, SamplingConfig(), seed=11)
    other = sample_harmony(model, melody, CONFIG, 1, SamplingConfig(), seed=12)
    assert four[0].shape == (4, 3, melody.steps) and four[1].shape == (4, melody.beats)
    assert (four[0][:1] == one[0]).all() and (four[1][:1] == one[1]).all()
    assert not (one[0] == other[0]).all()


def test_sampling_keeps_voices_and_chord_roots_in_key_and_holds_only_notes():
    model, melody = _model(seed=1), make_arrangement(CONFIG, bars=2, seed=4)
    d_major = frozenset({2, 4, 6, 7, 9, 11, 1})
    voices, chords = sample_harmony(model, melody, CONFIG, 8, SamplingConfig(temperature=2.0), seed=5,
                                    pitch_classes=d_major, root_classes=d_major)
    pitches = {CONFIG.pitch_of(int(t)) % 12 for t in voices.flatten() if t >= ONSET}
    assert pitches and pitches <= d_major
    roots = {harmony.root_and_quality(int(c))[0] for c in chords.flatten() if c}
    assert roots and roots <= d_major
    for row in voices.reshape(-1, melody.steps):
        assert row[0] != HOLD
        assert not ((row[1:] == HOLD) & (row[:-1] == REST)).any()


def test_model_file_round_trip_keeps_kind_config_and_weights(tmp_path):
    model, rep = _model(), AccompanyRepresentation(CONFIG)
    path = save_model(tmp_path / "h.model", model, rep, {"objective": "accompany"})
    loaded = load_model(path)
    assert loaded.is_accompany and loaded.tokenizer.kind == "accompany" and loaded.tokenizer.config == CONFIG
    piece = make_arrangement(CONFIG, bars=2)
    assert harmony_bits(loaded.model, [piece]).as_tuple() == pytest.approx(harmony_bits(model, [piece]).as_tuple())
    assert "accompany LSTM 2x24" in loaded.summary()
    with pytest.raises(Exception, match="accompaniment model.*generating needs a melody model"):
        loaded.require_plain("generating")


def test_a_harmoniser_file_is_version_4_so_older_readers_ask_for_an_update(tmp_path, monkeypatch):
    from composer.errors import ModelFileError
    from composer.model import modelfile
    path = save_model(tmp_path / "h.model", _model(), AccompanyRepresentation(CONFIG))
    assert modelfile.read_metadata(path)["format_version"] == 4
    monkeypatch.setattr(modelfile, "FORMAT_VERSION", 3)       # a reader from before harmonisers
    with pytest.raises(ModelFileError, match="newer than this program supports"):
        modelfile.read_metadata(path)


def test_a_harmoniser_config_under_a_melody_representation_is_refused(tmp_path):
    from composer.errors import ModelFileError
    from composer.model.modelfile import rewrite_model_file
    path = save_model(tmp_path / "h.model", _model(), AccompanyRepresentation(CONFIG))

    def as_melody(tensors, meta):
        meta["representation"] = {"kind": "melody", "config": {}}
    rewrite_model_file(path, as_melody)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_config_refuses_a_model_that_predicts_nothing():
    with pytest.raises(ValueError, match="chords or at least one voice"):
        HarmonizerConfig(vocab_size=10, voices=0, chords=False)
    assert np.isfinite(harmony_bits(_model(voices=0), arrangements(AccompanyConfig(voices=()), 1)).bits_per_chord)


def test_no_parallels_keeps_every_line_out_of_parallel_fifths_and_octaves():
    from dataclasses import replace

    from composer.analysis.harmony_stats import parallels_per_bar
    model, melody = _model(seed=2), make_arrangement(CONFIG, bars=4, seed=6)

    def parallels(**options) -> int:
        voices, chords = sample_harmony(model, melody, CONFIG, 8, SamplingConfig(temperature=1.5), seed=3, **options)
        pieces = [replace(melody, voices=voices[i], chords=chords[i]) for i in range(8)]
        fifths, octaves = parallels_per_bar(pieces, CONFIG)
        return fifths.count + octaves.count

    assert parallels() > 0
    assert parallels(no_parallels=True) == 0
