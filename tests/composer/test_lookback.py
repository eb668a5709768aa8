"""Lookback inputs (composer.model.lookback): the features of known melodies, the same
features in training, evaluation and sampling, tiny models with them trained and
sampled (eager and ONNX, any batch), and model files with and without them."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.analysis.likelihood import sequence_nll_bits
from composer.model.lookback import NONE, LookbackTracker, lookback_features
from composer.model.modelfile import LoadedModel, load_model, read_metadata, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.model.sampling import SamplingConfig, sample
from composer.music.midifile import song_to_bytes
from composer.music.song import Note
from composer.representations.base import BOS, EOS, Constraints
from composer.representations.melody import BAR, HOLD, REST, MelodyTokenizer
from composer.services.generate import GenerateRequest, generate
from training.data import ChunkSampler, StreamSampler, transpose_tables

ROOT = Path(__file__).resolve().parents[2]
TOK = MelodyTokenizer()


def n(p):
    return TOK.note_token(p)


def d(k):
    return TOK.dur_token(k)


def test_features_of_a_known_melody():
    """2/4, bars: A = C4 D4 (quarters), A again, then B = E4 (half), then A."""
    meter = TOK.meter_tokens((2, 4))          # <bos> and these come first
    a = [BAR, n(60), d(4), n(62), d(4)]
    b = [BAR, n(64), d(8)]
    tokens = [BOS, *meter] + a + a + b + a + [EOS]
    o = len(meter) - 1
    f = lookback_features(TOK, tokens, (1, 2))
    assert f.shape == (len(tokens), 3)
    rows = {i: f[i].tolist() for i in range(len(tokens))}
    # before the first bar and in bar 1 nothing is behind
    assert all(rows[i] == [NONE, NONE, 0] for i in range(7 + o))
    # bar 2 (tokens 7..11): 1 bar back is bar 1, the flags say "repeating 1 back" once an event matches
    assert rows[7 + o] == [n(60), NONE, 0]          # after `bar`: the event at step 0 one bar back
    assert rows[8 + o] == [d(4), NONE, 0]           # after note:60: its duration one bar back
    assert rows[9 + o] == [n(62), NONE, 1]          # C4 matched: repeating 1 back
    assert rows[10 + o] == [d(4), NONE, 1]
    assert rows[11 + o] == [NONE, NONE, 1]          # the bar is full: a bar line comes next
    # bar 3 = B: the flags carry "bar 2 repeated bar 1" over the bar line, then drop
    assert rows[12 + o] == [n(60), n(60), 1]
    assert rows[13 + o] == [d(4), d(4), 1]
    assert rows[14 + o] == [NONE, NONE, 0]          # nothing started at step 8 of a 2/4 bar: full
    # bar 4 = A again: 1 back is B (no event at step 4), 2 back is A, so only bit 1 (distance 2) is set
    assert rows[15 + o] == [n(64), n(60), 0]
    assert rows[16 + o] == [d(8), d(4), 0]
    assert rows[17 + o] == [NONE, n(62), 2]         # C4 matched 2 back
    assert rows[18 + o] == [NONE, d(4), 2]
    assert rows[19 + o] == [NONE, NONE, 2]
    assert rows[20 + o] == [NONE, NONE, 2]          # (after <eos>: nothing follows)


def test_holds_rests_and_distance_four():
    meter = TOK.meter_tokens((2, 4))
    bar1 = [BAR, REST, d(2), n(67), d(6)]
    bar2 = [BAR, HOLD, d(2), n(65), d(6)]
    filler = [BAR, n(60), d(8)]
    tokens = [BOS, *meter] + bar1 + bar2 + filler + filler + bar1
    f = lookback_features(TOK, tokens, (4,))
    start = 1 + len(meter) + 5 + 5 + 3 + 3            # the last bar's `bar` token
    assert f[start].tolist() == [REST, 0]
    assert f[start + 1].tolist() == [d(2), 0]
    assert f[start + 2].tolist() == [n(67), 1]       # rest 2 steps equals 4 bars back
    assert f[start + 4].tolist() == [NONE, 1]


def test_the_tracker_fed_token_by_token_gives_the_batch_features_and_copies_independently():
    tokens = TOK.encode_notes([Note(i * 0.5, i * 0.5 + 0.5, 60 + i % 5) for i in range(30)], (3, 4))
    whole = lookback_features(TOK, tokens, (1, 2, 4, 8))
    tracker = LookbackTracker(TOK, (1, 2, 4, 8))
    rows = [tracker.feed(t) for t in tokens[:20]]
    twin = tracker.copy()
    rows += [tracker.feed(t) for t in tokens[20:]]
    assert np.array_equal(np.array(rows), whole)
    assert [twin.feed(t) for t in tokens[20:]] == rows[20:]


def test_features_move_with_a_transposition():
    tokens = TOK.encode_notes([Note(i * 1.0, i + 1.0, 60 + (i * 7) % 12) for i in range(24)], (4, 4))
    table = transpose_tables(TOK, -2, 2)[2]
    moved = [int(table[t]) for t in tokens]
    from composer.model.lookback import transpose_features
    assert np.array_equal(transpose_features(lookback_features(TOK, tokens, (1, 2)), table),
                          lookback_features(TOK, moved, (1, 2)))


def test_other_representations_and_bad_distances_are_refused():
    from composer.representations.performance import PerformanceTokenizer
    with pytest.raises(ValueError, match="melody"):
        LookbackTracker(PerformanceTokenizer(), (1,))
    for bad in ((0,), (2, 1), (1, 2, 3, 4, 5), (1, 1)):
        with pytest.raises(ValueError, match="lookback"):
            ModelConfig(vocab_size=10, lookback=bad)
    with pytest.raises(ValueError, match="lookback_copy"):
        ModelConfig(vocab_size=10, lookback_copy=True)


def pieces() -> list[list[int]]:
    """AABA tunes in three keys: repetition a lookback model can learn."""
    out = []
    for k in (0, 2, 5, 7):
        a = [Note(i * 1.0, i + 1.0, 60 + k + [0, 4, 7, 4][i]) for i in range(4)]
        b = [Note(i * 1.0, i + 1.0, 65 + k + [0, 2, 4, 2][i]) for i in range(4)]
        bars = [a, a, b, a]
        notes = [Note(x.start + 4 * j, x.end + 4 * j, x.pitch) for j, bar in enumerate(bars) for x in bar]
        out.append(TOK.encode_notes(notes, (4, 4)))
    return out


def train_tiny(copy: bool, steps: int = 30) -> MusicRNN:
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=TOK.vocab_size, embed_dim=24, hidden_size=32, num_layers=1, dropout=0.0,
                                 position_classes=TOK.position_classes, lookback=(1, 2), lookback_copy=copy))
    sampler = ChunkSampler(TOK, pieces(), batch=4, seq_len=24, transpose=(-1, 1), lookback=(1, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(steps):
        batch = sampler.batch_at(step)
        logits, _ = model(batch.inputs, positions=batch.positions, lookback=batch.lookback)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1),
                                                 ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():                   # a copy gate big enough that a wrong one shows in the music
        if copy:
            model.copy_gate.bias.fill_(3.0)
    return model.eval()


def test_a_window_that_starts_mid_piece_sees_the_bars_before_it():
    seqs = pieces()
    for cls in (ChunkSampler, StreamSampler):
        sampler = cls(TOK, seqs, batch=3, seq_len=20, lookback=(1, 2), seed=4)
        for step in range(3):
            batch = sampler.batch_at(step)
            for row in range(3):
                x = batch.inputs[row].tolist()
                if cls is StreamSampler:       # a window of the stream: features of the piece each token is in
                    continue
                (i, start), = [(i, s) for i, seq in enumerate(seqs) for s in range(len(seq))
                               if seq[s:s + len(x)] == x][:1] or [(None, None)]
                assert i is not None
                expected = lookback_features(TOK, seqs[i], (1, 2))[start:start + 20]
                assert batch.lookback[row].tolist() == expected.tolist()
        if cls is StreamSampler:
            lane = sampler.lanes[0]
            toks, _, lb = lane.window(0, 60)
            offset, index, shift = lane.pieces[1]          # the second piece of the stream, from its <bos>
            seq = seqs[index]
            assert lb[offset:offset + 10].tolist() == lookback_features(TOK, toks[offset:offset + len(seq)],
                                                                        (1, 2))[:10].tolist()


@pytest.mark.parametrize("copy", [False, True], ids=["inputs", "copy"])
def test_tiny_model_samples_the_same_music_eager_onnx_and_at_any_batch(monkeypatch, tmp_path, copy):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loaded = LoadedModel(train_tiny(copy), TOK)
    out = {}
    for runtime in ("torch", "onnx"):
        monkeypatch.setenv("COMPOSER_RUNTIME", runtime)
        for batch in (1, 3):
            # top-p 1: under the default nucleus the copy model repeats the primer in all five pieces
            request = GenerateRequest(count=5, bars=6, seed=3, batch_size=batch, primer="C4:1 E4:1 G4:1 E4:1",
                                      key="C", scale="major", top_p=1.0)
            out[runtime, batch] = [song_to_bytes(s) for s in generate(loaded, request).songs]
    assert out["torch", 1] == out["torch", 3] == out["onnx", 1] == out["onnx", 3]
    assert len(set(out["torch", 1])) > 1


def test_sampling_feeds_the_same_features_as_training(monkeypatch):
    """The features the sampler gives the RNN at each step are those a
    teacher-forced pass computes from the finished piece."""
    from composer.model.runtime import TorchRunner
    model = train_tiny(True, steps=10)
    fed = []

    class Recording(TorchRunner):
        def step(self, tokens, positions, lookback=None):
            fed.append(lookback[0, 0].tolist())
            return super().step(tokens, positions, lookback)

    grammar = TOK.grammar(1, Constraints(bars=4), "cpu")
    seqs = sample(model, grammar, [BOS], 2, SamplingConfig(), slots=1, seed=5, prefix_positions=[0],
                  runner=Recording(model))
    first, second = (lookback_features(TOK, s, (1, 2)).tolist() for s in seqs)
    assert seqs[0][-1] == EOS and len(seqs[0]) > 10
    # one step per token after the prefix; the last piece's <eos> needs no step
    assert fed == first[1:] + second[1:-1]
    assert any(row[0] != NONE for row in fed) and any(row[2] for row in fed)
    assert all(b > 0 for b in sequence_nll_bits(model, TOK, seqs))


def test_model_file_round_trip_and_version(tmp_path, monkeypatch):
    model = train_tiny(True, steps=2)
    path = save_model(tmp_path / "lb.model", model, TOK, {"steps": 2})
    meta = read_metadata(path)
    assert meta["format_version"] == 3 and meta["model"]["lookback"] == [1, 2] and meta["model"]["lookback_copy"]
    loaded = load_model(path)
    assert loaded.model.config.lookback == (1, 2)
    for a, b in zip(model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)
    from composer.errors import ModelFileError
    from composer.model import modelfile
    monkeypatch.setattr(modelfile, "FORMAT_VERSION", 2)       # a reader from before lookback inputs
    with pytest.raises(ModelFileError, match="newer than this program supports"):
        read_metadata(path)


def test_a_plain_model_file_is_still_version_1_and_has_no_new_weights(tmp_path):
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=TOK.vocab_size, embed_dim=8, hidden_size=8, num_layers=1))
    path = save_model(tmp_path / "plain.model", model, TOK)
    assert read_metadata(path)["format_version"] == 1
    assert set(load_model(path).model.state_dict()) == set(model.state_dict())
    assert not any("lookback" in k or "copy_gate" in k or "repeat" in k for k in model.state_dict())


# generate --count 4 --bars 8 --seed 7 --form free with the shipped model (the lookback + copy one, created as
# below), recorded when it was shipped: a change to sampling, the grammar or the runtimes must not change its music
SHIPPED_CREATED = "2026-12-03T15:54:53+00:00"
SHIPPED_PIECES = {"melody_s7_001.mid": "a0a7ffa941dc3a9bb77824cb8a4e9e05",
                  "melody_s7_002.mid": "a303055bbad5a4edad3945912e9e85b7",
                  "melody_s7_003.mid": "129aebda1c430b141069fe2444edf970",
                  "melody_s7_004.mid": "32abde77dcdea3636deb76f973aceb28"}


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_the_shipped_model_generates_the_same_bytes_as_before(tmp_path, monkeypatch, runtime):
    from composer.cli.main import main
    asset = ROOT / "composer" / "assets" / "melody.model"
    assert read_metadata(asset).get("created") == SHIPPED_CREATED, \
        "the shipped model was replaced: record its pieces in SHIPPED_PIECES and its date here"
    if runtime == "onnx":
        pytest.importorskip("onnxruntime")
    monkeypatch.setenv("COMPOSER_RUNTIME", runtime)
    assert main(["generate", "--count", "4", "--bars", "8", "--seed", "7", "--form", "free", "--out", str(tmp_path),
                 "--quiet"]) == 0
    got = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(tmp_path.glob("*.mid"))}
    assert got == SHIPPED_PIECES


def test_a_lookback_model_rewrites_bars_with_infill_and_continues_a_primer():
    from composer.music.song import Song, Track
    from composer.services.infill import InfillRequest, infill
    loaded = LoadedModel(train_tiny(True, steps=10), TOK)
    notes = [Note(i * 1.0, i + 1.0, 60 + [0, 4, 7, 4][i % 4]) for i in range(24)]     # 6 bars of 4/4
    song = Song(tracks=[Track(notes=notes)], time_signatures=[(0.0, 4, 4)])
    result = infill(loaded, song, InfillRequest(bars=(3, 4), count=2, seed=1, key="C", scale="major"))
    for out in result.songs:
        kept = [n for n in out.tracks[0].notes if n.end <= 8 or n.start >= 16]
        assert kept == [n for n in notes if n.end <= 8 or n.start >= 16]
        assert all(n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) for n in out.tracks[0].notes)
    primed = generate(loaded, GenerateRequest(count=2, bars=3, seed=4, primer=notes[:8]))
    assert all(s.tracks[0].notes[:8] == notes[:8] for s in primed.songs)
