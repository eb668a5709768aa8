"""The polyphonic benchmark (benchmarks/polyphonic.py): the exact frame
likelihood (benchmarks/frame_likelihood.py), the data, and the command end to end on a tiny slice."""
import json
import math

import numpy as np
import pytest
import torch

from benchmarks.frame_likelihood import allowed_after, counted_targets, frame_nll
from benchmarks.polyphonic import BenchConfig, build_corpus, load_rolls, main, tokenizer_for
from composer.model.modelfile import load_model, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.representations.frames import FramesConfig, FramesTokenizer

FRAMES = [[60, 64, 67], [], [62, 108], [21]]


def tiny_model(tok, seed=0):
    torch.manual_seed(seed)
    return MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=12, embed_dim=6, num_layers=2))


def test_uniform_model_gives_the_hand_computed_likelihood():
    """A model whose logits are all equal: each allowed next token has
    probability 1/(number allowed). At a frame start 88 pitches + end of
    frame are allowed; after pitch P, the pitches above P + end of frame."""
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=1))
    model = tiny_model(tok)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    tokens = tok.encode_frames(FRAMES)
    # frame 1 (C E G) is given; frame 2 = end only; frame 3 = D, 108, end; frame 4 = A0, end
    expected = math.log(89) + (math.log(89) + math.log(108 - 62 + 1) + math.log(1)) + (math.log(89) + math.log(88))
    got = frame_nll(model, tok, [tokens])
    assert got.frames == 3 and got.pieces == 1
    assert got.nats == pytest.approx(expected, rel=1e-12)
    # unmasked: every counted token (1 + 3 + 2) has probability 1/V
    assert got.raw_nats == pytest.approx(6 * math.log(tok.vocab_size), rel=1e-12)


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_likelihood_equals_a_direct_sum_of_token_log_probs_skipping_frame_one(order):
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=1, order=order))
    model = tiny_model(tok, seed=3).eval()
    pieces = [tok.encode_frames(FRAMES), tok.encode_frames([[40], [40, 41], [], [], [90]]), tok.encode_frames([[50]])]
    direct_raw, direct_masked, frames = 0.0, 0.0, 0
    for tokens in pieces:
        with torch.no_grad():
            logits, _ = model(torch.tensor([tokens]))          # (1, T, V)
        logp = torch.log_softmax(logits[0].double(), dim=-1)
        spans = tok.frame_spans(tokens)
        frames += len(spans) - 1
        for first, last in spans[1:]:
            for i in range(first, last + 1):
                direct_raw -= float(logp[i - 1, tokens[i]])
                # the grammar: after a pitch only higher (descending: lower) pitches or end;
                # at a frame start any pitch or end
                prev = tokens[i - 1]
                allowed = [t for t in range(tok.pitch_base, tok.end_of_frame + 1)
                           if not tok.is_pitch(prev) or t == tok.end_of_frame
                           or (t < prev if order == "descending" else t > prev)]
                direct_masked -= float(logp[i - 1, tokens[i]] - torch.logsumexp(logp[i - 1, allowed], dim=0))
    got = frame_nll(model, tok, pieces, batch_size=2, window=5)      # small window: state carried over
    assert got.frames == frames == 3 + 4 + 0
    assert got.raw_nats == pytest.approx(direct_raw, rel=1e-9)
    assert got.nats == pytest.approx(direct_masked, rel=1e-9)
    assert got.nats < got.raw_nats


def test_an_ensemble_averages_the_token_probabilities_of_its_models():
    tok = FramesTokenizer(FramesConfig(steps_per_quarter=1))
    a, b = tiny_model(tok, seed=1).eval(), tiny_model(tok, seed=2).eval()
    pieces = [tok.encode_frames(FRAMES), tok.encode_frames([[40], [40, 41], [], [90]])]
    table = allowed_after(tok)
    direct = 0.0
    for tokens in pieces:
        with torch.no_grad():
            probs = [torch.softmax(m(torch.tensor([tokens]))[0][0].double().masked_fill(
                ~table[torch.tensor(tokens)], -math.inf), dim=-1) for m in (a, b)]      # (T, V) each
        for i in counted_targets(tok, tokens):
            direct -= math.log((float(probs[0][i - 1, tokens[i]]) + float(probs[1][i - 1, tokens[i]])) / 2)
    got = frame_nll([a, b], tok, pieces, window=4)
    assert got.nats == pytest.approx(direct, rel=1e-9)
    assert frame_nll([a, a], tok, pieces).nats == pytest.approx(frame_nll(a, tok, pieces).nats, rel=1e-12)


def test_score_command_ensembles_model_files(tmp_path, capsys):
    tok = tokenizer_for("jsb")
    paths = [save_model(tmp_path / f"m{seed}.model", tiny_model(tok, seed), tok) for seed in (1, 2)]
    assert main(["jsb", "--score", str(paths[0]), str(paths[1])]) == 0
    assert "2 model(s)" in capsys.readouterr().out
    other = save_model(tmp_path / "other.model", tiny_model(tokenizer_for("nottingham")), tokenizer_for("nottingham"))
    assert main(["jsb", "--score", str(paths[0]), str(other)]) == 2
    assert "another representation" in capsys.readouterr().err


def test_score_refuses_a_model_of_another_datasets_grid(tmp_path, capsys):
    """A JSB model (1 frame per quarter note) scored on Nottingham (2) would give a meaningless number."""
    jsb = save_model(tmp_path / "jsb.model", tiny_model(tokenizer_for("jsb")), tokenizer_for("jsb"))
    assert main(["nottingham", "--score", str(jsb)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 frame(s) per quarter note" in err and "nottingham has 2" in err


def test_counted_targets_skip_bos_frame_one_and_eos():
    tok = FramesTokenizer()
    tokens = tok.encode_frames([[60], [62, 64], []])       # bos 60 | 62 64 | (end) eos
    assert counted_targets(tok, tokens) == [3, 4, 5, 6]


def test_benchmark_files_hold_the_published_split_sizes():
    rolls = load_rolls("jsb")
    assert [len(rolls[s]) for s in ("traindata", "validdata", "testdata")] == [229, 76, 77]
    assert sum(len(r) for r in rolls["testdata"]) == 4725
    tok = tokenizer_for("jsb")
    corpus, val = build_corpus(tok, {k: v[:3] for k, v in rolls.items()}, "JSB_Chorales.mat")
    assert val == ["validdata/0000", "validdata/0001", "validdata/0002"]
    assert np.array_equal(tok.decode_roll(corpus.sequences["traindata/0002"]), rolls["traindata"][2])


def test_command_runs_end_to_end_on_a_tiny_slice(tmp_path, capsys):
    code = main(["jsb", "--pieces", "3", "--steps", "4", "--hidden", "8", "--embed", "4", "--batch", "2",
                 "--seq-len", "16", "--eval-every", "2", "--transpose=-1,1", "--out-dir", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "jsb.json").read_text())
    assert report["steps"] == 4 and report["stopped_reason"] == "steps"
    assert report["test"]["pieces"] == 3 and report["valid"]["pieces"] == 3
    assert 0 < report["test_nats_per_frame"] < report["test"]["raw_nats_per_frame"]
    assert "test" in capsys.readouterr().out
    loaded = load_model(tmp_path / "jsb.model", "cpu")
    assert loaded.tokenizer.kind == "frames" and loaded.tokenizer.config.steps_per_quarter == 1
    assert loaded.training["corpus"]["val_files"] == 3 and loaded.training["corpus"]["train_files"] == 3


def test_command_passes_the_order_and_the_regularisers_to_the_run(tmp_path):
    code = main(["jsb", "--pieces", "3", "--steps", "4", "--hidden", "8", "--embed", "4", "--batch", "2",
                 "--seq-len", "16", "--eval-every", "2", "--order", "descending", "--ema", "0.9",
                 "--weight-drop", "0.25", "--weight-decay", "0.01", "--out-dir", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "jsb.json").read_text())
    assert (report["config"]["order"], report["config"]["ema"], report["config"]["weight_drop"]) == \
        ("descending", 0.9, 0.25)
    loaded = load_model(tmp_path / "jsb.model", "cpu")
    assert loaded.tokenizer.config.order == "descending" and loaded.model.config.weight_drop == 0.25
    train_config = loaded.training["train_config"]
    assert (train_config["ema"], train_config["weight_decay"]) == (0.9, 0.01)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="dataset must be one of"):
        BenchConfig(dataset="bach")
    assert main(["jsb", "--minutes", "0", "--pieces", "-1"]) == 2


@pytest.mark.parametrize("transpose", ["1", "a,b", "1,2,3", "3,-3"])
def test_a_bad_transpose_range_is_one_line_and_exit_code_2(transpose, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["jsb", f"--transpose={transpose}", "--steps", "2", "--minutes", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--transpose: must be LOW,HIGH semitones" in err and repr(transpose) in err
