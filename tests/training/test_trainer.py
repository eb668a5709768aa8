"""The trainer: split, batches, schedule, precision policy, metric,
checkpoints, exact resume, non-finite loss, cancel, early stopping."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from benchmarks.midi_factory import melody, write_song
from composer.analysis.likelihood import evaluate_bits_per_note, sequence_nll_bits
from composer.corpus.split import split_files
from composer.errors import Cancelled, ComposerError, OutputExistsError
from composer.model.device import choose_device, precision_for
from composer.model.modelfile import load_model
from composer.model.network import ModelConfig, MusicRNN
from composer.representations.base import BOS, EOS, PAD
from composer.representations.melody import MelodyTokenizer
from training.checkpoint import load_checkpoint, save_checkpoint
from training.config import auto_eval_every
from training.data import ChunkSampler, StreamSampler
from training.trainer import TrainConfig, amp_setup, lr_factor, oom_message, train


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "tunes"
    for i in range(6):
        write_song(melody(40, seed=i), d / f"tune{i}.mid")
    return d


def tiny_config(folder, tmp_path, **changes) -> TrainConfig:
    base = TrainConfig(folder=str(folder), out=str(tmp_path / "tiny.model"), layers=1, hidden=24, embed=12,
                       steps=12, batch=4, seq_len=24, warmup_steps=3, eval_every=4, checkpoint_every=4,
                       log_every=2, cache_dir=str(tmp_path / "cache"), workers=1, val_share=0.2)
    return dataclasses.replace(base, **changes)


# ---- pieces -----------------------------------------------------------------------

def test_split_is_by_file_deterministic_and_order_independent():
    names = [f"f{i}.mid" for i in range(20)]
    train_a, val_a = split_files(names, 0.2, seed=3)
    train_b, val_b = split_files(list(reversed(names)), 0.2, seed=3)
    assert (train_a, val_a) == (train_b, val_b)
    assert len(val_a) == 4 and not set(train_a) & set(val_a) and sorted(train_a + val_a) == sorted(names)
    assert split_files(names, 0.2, seed=4)[1] != val_a
    assert split_files(["only.mid"], 0.5, seed=0) == (["only.mid"], [])


def test_chunks_are_a_function_of_the_step_and_transposed_within_range():
    tok = MelodyTokenizer()
    seqs = [tok.encode(melody(40, seed=i)).tokens for i in range(3)]
    sampler = ChunkSampler(tok, seqs, batch=8, seq_len=16, transpose=(-5, 6), seed=1)
    a, b = sampler.batch_at(7), sampler.batch_at(7)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.positions, b.positions)
    assert not torch.equal(a.inputs, sampler.batch_at(8).inputs)
    assert torch.equal(a.inputs[:, 1:], a.targets[:, :-1])       # targets are the next tokens
    pitches = {tok.vocab[t].split(":")[1] for t in a.inputs.flatten().tolist() if tok.is_note(t)}
    originals = {str(p) for s in seqs for p in range(127) if tok.note_token(min(max(p, 36), 96)) in s}
    assert pitches - originals, "some chunks should be transposed"
    plain = ChunkSampler(tok, seqs, batch=8, seq_len=16, transpose=(0, 0), seed=1).batch_at(7)
    assert all(t in set(sum(seqs, [])) | {PAD} for t in plain.inputs.flatten().tolist())


def test_streams_continue_from_step_to_step():
    tok = MelodyTokenizer()
    seqs = [tok.encode(melody(20 + 5 * i, seed=i)).tokens for i in range(4)]
    sampler = StreamSampler(tok, seqs, batch=3, seq_len=16, transpose=(-2, 2), seed=0)
    first, second = sampler.batch_at(0), sampler.batch_at(1)
    assert torch.equal(first.targets[:, -1], second.inputs[:, 0])
    assert (first.inputs[:, 0] == BOS).all() and PAD not in first.targets
    later = StreamSampler(tok, seqs, batch=3, seq_len=16, transpose=(-2, 2), seed=0).batch_at(9)
    assert torch.equal(later.inputs, sampler.batch_at(9).inputs)    # a function of the step alone
    stream = torch.cat([sampler.batch_at(k).inputs[0] for k in range(12)]).tolist()
    assert stream.count(BOS) >= 3 and all(stream[i + 1] == BOS for i, t in enumerate(stream[:-1]) if t == EOS)


def test_learning_rate_warms_up_then_decays():
    f = lambda step, done: lr_factor(step, warmup_steps=10, fraction_done=done, min_ratio=0.1)
    assert f(0, 0) == pytest.approx(0.1) and f(9, 0.01) == pytest.approx(1.0)
    assert f(10, 0.0) == pytest.approx(1.0) and f(50, 0.5) == pytest.approx(0.55) and f(99, 1.0) == pytest.approx(0.1)


def test_the_learning_rate_decays_only_in_the_last_share_of_the_run():
    f = lambda done, share: lr_factor(500, warmup_steps=10, fraction_done=done, min_ratio=0.1, decay_share=share)
    assert f(0.5, 0.2) == 1.0 and f(0.8, 0.2) == pytest.approx(1.0)          # flat until the last fifth
    assert f(0.9, 0.2) == pytest.approx(0.55) and f(1.0, 0.2) == pytest.approx(0.1)
    assert f(0.5, 1.0) == pytest.approx(0.55)                                 # 1: cosine over the whole run
    assert f(1.0, 0.0) == 1.0                                                 # 0: no decay
    with pytest.raises(ValueError, match="decay_share"):
        TrainConfig(folder="f", out="o.model", decay_share=1.5)


def test_a_time_budget_ends_the_warm_up_by_the_clock_on_a_slow_machine():
    """100 warm-up steps would be most of a 2-minute run that makes 30 steps: the clock ends it sooner."""
    f = lambda step, clock: lr_factor(step, warmup_steps=100, fraction_done=0.01, min_ratio=0.1, warmup_time=clock)
    assert f(3, 0.0) == pytest.approx(0.04)                     # by the steps
    assert f(3, 0.5) == pytest.approx(0.5)                      # further along by the clock
    assert f(5, 1.0) == pytest.approx(1.0, abs=1e-3)            # warm: the cosine part, at 1 % of the run
    assert f(50, 0.2) == pytest.approx(0.51)                    # a fast machine: the steps lead


def test_precision_policy_without_a_gpu():
    fp16 = precision_for(torch.device("cuda"), bf16_supported=False)
    assert fp16.enabled and fp16.dtype == torch.float16 and fp16.grad_scaler
    bf16 = precision_for(torch.device("cuda"), bf16_supported=True)
    assert bf16.enabled and bf16.dtype == torch.bfloat16 and not bf16.grad_scaler
    cpu, scaler = amp_setup(torch.device("cpu"))
    assert not cpu.enabled and scaler is None
    with cpu.autocast(torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_device_choice_says_why():
    device, reason = choose_device("cpu")
    assert device.type == "cpu" and "requested" in reason
    auto, why = choose_device(None)
    assert why.split(":")[0] in ("CUDA", "MPS", "CPU")
    if not torch.cuda.is_available():
        assert auto.type in ("cpu", "mps")
        with pytest.raises(ComposerError, match="no CUDA device"):
            choose_device("cuda")


def test_config_errors_name_the_bad_value(tmp_path):
    with pytest.raises(ValueError, match="batch must be >= 1, got 0"):
        TrainConfig(folder="f", out="o", batch=0)
    with pytest.raises(ValueError, match=r"transpose .* got \(3, 4\)"):
        TrainConfig(folder="f", out="o", transpose=(3, 4))
    with pytest.raises(ValueError, match="'tbtt'"):
        TrainConfig(folder="f", out="o", batching="tbtt")
    with pytest.raises(ValueError, match=r"ema must be in \[0, 1\).* got 1.5"):
        TrainConfig(folder="f", out="o", ema=1.5)
    with pytest.raises(ValueError, match="weight_drop must be in"):
        TrainConfig(folder="f", out="o", weight_drop=-0.1)
    with pytest.raises(ValueError, match="not of objective infill"):
        TrainConfig(folder="f", out="o", objective="infill", weight_drop=0.3)
    assert TrainConfig(folder="f", out="o").transpose_range == (-2, 2)      # melody default (docs/training.md)
    assert TrainConfig(folder="f", out="o", transpose=(0, 0)).transpose_range == (0, 0)
    assert TrainConfig(folder="f", out="o", representation="performance").transpose_range == (0, 0)


def test_out_of_memory_message_names_the_batch_and_a_smaller_one():
    text = oom_message(64, 128, "cuda:0")
    assert "batch size 64" in text and "--batch 32" in text and "cuda:0" in text
    assert "--batch 1" in oom_message(1, 128, "cuda")


def test_bits_per_note_is_the_whole_sequence_nll_over_notes():
    tok = MelodyTokenizer()
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=16, embed_dim=8, num_layers=1,
                                 position_classes=tok.position_classes)).eval()
    seqs = [tok.encode(melody(20 + 7 * i, seed=i)).tokens for i in range(3)]
    expected_bits = 0.0
    for s in seqs:
        x = torch.tensor([s])
        logits, _ = model(x[:, :-1], positions=torch.tensor([tok.positions(s)])[:, :-1])
        expected_bits += torch.nn.functional.cross_entropy(logits[0], x[0, 1:], reduction="sum").item() / math.log(2)
    metric = evaluate_bits_per_note(model, tok, seqs)
    assert metric.notes == sum(tok.count_notes(s) for s in seqs) == 20 + 27 + 34
    assert metric.bits_per_note == pytest.approx(expected_bits / metric.notes, rel=1e-5)
    windowed = sequence_nll_bits(model, tok, seqs, batch_size=2, window=5)   # state carried across windows
    assert sum(windowed) == pytest.approx(expected_bits, rel=1e-5)


def test_checkpoint_round_trip_holds_no_pickle(tmp_path):
    model = MusicRNN(ModelConfig(vocab_size=20, hidden_size=8, embed_dim=4, num_layers=1))
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.randint(0, 20, (2, 5)))[0].sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "last.ckpt", model.state_dict(), opt.state_dict(), {"step": 1, "x": [1, 2]})
    data = path.read_bytes()
    assert data[8:9] == b"{" and b"\x80\x04" not in data[:16]      # a safetensors header, not a pickle
    ckpt = load_checkpoint(path)
    assert ckpt.meta == {"step": 1, "x": [1, 2]}
    fresh = torch.optim.AdamW(model.parameters(), lr=0.5)
    fresh.load_state_dict(ckpt.optimizer_state)
    assert fresh.param_groups[0]["lr"] == 0.01
    for p in model.parameters():
        assert torch.equal(fresh.state[p]["exp_avg"], opt.state[p]["exp_avg"])
    (tmp_path / "bad.ckpt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(ComposerError, match="bad.ckpt"):
        load_checkpoint(tmp_path / "bad.ckpt")


# ---- whole runs --------------------------------------------------------------------

@pytest.mark.parametrize("batching", ["chunks", "tbptt"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(folder, tmp_path, batching):
    straight = train(tiny_config(folder, tmp_path, out=str(tmp_path / "a.model"), batching=batching))
    seen = {"step": 0}
    config = tiny_config(folder, tmp_path, out=str(tmp_path / "b.model"), batching=batching)
    first = train(config, progress=lambda p: seen.update(step=p.info.step), should_stop=lambda: seen["step"] >= 5)
    assert first.stopped_reason == "cancelled" and first.steps == 5 and first.model_path.exists()
    resumed = train(dataclasses.replace(config, resume=True))
    assert resumed.steps == straight.steps == 12
    a = load_checkpoint(straight.checkpoint_dir / "last.ckpt")
    b = load_checkpoint(resumed.checkpoint_dir / "last.ckpt")
    for name, tensor in a.model_state.items():
        torch.testing.assert_close(b.model_state[name], tensor, atol=0, rtol=0)
    assert resumed.best_val_bits_per_note == straight.best_val_bits_per_note
    steps_logged = [line for line in resumed.metrics_path.read_text().splitlines()]
    assert len(steps_logged) == len(straight.metrics_path.read_text().splitlines())


def test_a_run_started_with_the_listed_meters_resumes_with_them(folder, tmp_path, monkeypatch):
    """A run checkpointed before the any-meter vocabulary keeps its nine meter tokens when resumed."""
    from composer.representations.melody import MelodyConfig
    from composer.representations.melody.config import LISTED_METERS
    listed = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS))
    config, seen = tiny_config(folder, tmp_path), {"step": 0}
    with monkeypatch.context() as patch:
        patch.setattr(TrainConfig, "make_tokenizer", lambda self: listed)
        train(config, progress=lambda p: seen.update(step=p.info.step), should_stop=lambda: seen["step"] >= 5)
    resumed = train(dataclasses.replace(config, resume=True))
    assert resumed.steps == 12 and load_model(resumed.model_path).tokenizer.vocab == listed.vocab


def test_resume_with_weight_average_and_weight_drop_is_exact(folder, tmp_path):
    """The averaged weights are checkpointed: a cancelled and resumed run
    ends with the same weights, the same average and the same model file as
    an uninterrupted one."""
    options = dict(ema=0.9, weight_drop=0.3, layers=2)
    straight = train(tiny_config(folder, tmp_path, out=str(tmp_path / "a.model"), **options))
    seen = {"step": 0}
    config = tiny_config(folder, tmp_path, out=str(tmp_path / "b.model"), **options)
    train(config, progress=lambda p: seen.update(step=p.info.step), should_stop=lambda: seen["step"] >= 7)
    resumed = train(dataclasses.replace(config, resume=True))
    a = load_checkpoint(straight.checkpoint_dir / "last.ckpt")
    b = load_checkpoint(resumed.checkpoint_dir / "last.ckpt")
    for name, tensor in a.model_state.items():
        torch.testing.assert_close(b.model_state[name], tensor, atol=0, rtol=0)
    assert set(a.extra) == {f"ema.{name}" for name in a.model_state}
    for name, tensor in a.extra.items():
        torch.testing.assert_close(b.extra[name], tensor, atol=0, rtol=0)
    assert resumed.best_val_bits_per_note == straight.best_val_bits_per_note
    for name, p in load_model(straight.model_path).model.named_parameters():
        torch.testing.assert_close(load_model(resumed.model_path).model.state_dict()[name], p, atol=0, rtol=0)


def test_model_file_holds_the_averaged_weights(folder, tmp_path):
    """With nothing held out, the model file is the final average, not the
    final weights; with ema=0 it is the final weights."""
    result = train(tiny_config(folder, tmp_path, ema=0.5, val_share=0.0))
    ckpt = load_checkpoint(result.checkpoint_dir / "last.ckpt")
    saved = load_model(result.model_path).model.state_dict()
    for name, tensor in saved.items():
        torch.testing.assert_close(tensor, ckpt.extra[f"ema.{name}"], atol=0, rtol=0)
    assert any(not torch.equal(saved[n], ckpt.model_state[n]) for n in saved)


def test_resuming_without_the_average_is_refused(folder, tmp_path):
    config = tiny_config(folder, tmp_path, steps=4)
    train(config)
    with pytest.raises(ComposerError, match="ema"):
        train(dataclasses.replace(config, ema=0.9, steps=8, resume=True))


def test_weight_drop_changes_training_forward_passes_only():
    model = MusicRNN(ModelConfig(vocab_size=20, hidden_size=16, embed_dim=8, num_layers=2, dropout=0.0,
                                 weight_drop=0.5))
    tokens = torch.randint(0, 20, (2, 9))
    plain = MusicRNN(ModelConfig(vocab_size=20, hidden_size=16, embed_dim=8, num_layers=2, dropout=0.0))
    plain.load_state_dict(model.state_dict())          # same parameter names with and without the option
    model.eval()
    torch.testing.assert_close(model(tokens)[0], plain.eval()(tokens)[0], atol=0, rtol=0)
    model.train()
    torch.manual_seed(1)
    dropped = model(tokens)[0]
    assert not torch.allclose(dropped, plain(tokens)[0])
    dropped.sum().backward()
    assert model.rnn.weight_hh_l1.grad is not None and model.rnn.weight_hh_l1.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="weight_drop"):
        ModelConfig(vocab_size=20, weight_drop=1.0)


def test_locked_dropout_drops_the_same_features_at_every_step():
    model = MusicRNN(ModelConfig(vocab_size=20, hidden_size=16, embed_dim=8, dropout=0.5, locked_dropout=True))
    x = torch.ones(3, 7, 8)
    torch.manual_seed(0)
    out = model.train()._dropout(x)                      # (B, T, C)
    assert torch.equal(out, out[:, :1].expand_as(out))   # one mask per sequence
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(model.eval()._dropout(x), x)


def test_summary_in_the_model_file(folder, tmp_path):
    result = train(tiny_config(folder, tmp_path))
    training = load_model(result.model_path).training
    assert training["corpus"]["files_used"] == 6 and training["corpus"]["val_files"] == 1
    assert training["corpus"]["notes"] == 240 and training["steps"] == 12
    assert training["val_bits_per_note"] == pytest.approx(result.best_val_bits_per_note)
    assert training["train_config"]["hidden"] == 24 and "CPU" in training["device"]
    assert training["minutes"] >= 0 and training["epochs"] > 0
    lines = result.metrics_path.read_text().splitlines()
    assert {"step", "loss", "val_bits_per_note", "lr", "tokens_per_s", "elapsed"} <= set(json.loads(lines[0]))
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6, 8, 10, 12]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(folder, tmp_path):
    def poison(step, model):
        if step == 6:
            with torch.no_grad():
                model.head.bias.fill_(float("nan"))

    result = train(tiny_config(folder, tmp_path), after_step=poison)
    assert result.stopped_reason.startswith("non-finite loss") and "step 4" in result.stopped_reason
    kept = load_checkpoint(result.checkpoint_dir / "last.ckpt")
    assert kept.meta["step"] == 4
    assert all(torch.isfinite(t).all() for t in kept.model_state.values())
    model = load_model(result.model_path).model
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_should_stop_while_training_returns_cancelled_with_a_model(folder, tmp_path):
    phase = {"now": ""}
    result = train(tiny_config(folder, tmp_path), progress=lambda p: phase.update(now=p.info.phase),
                   should_stop=lambda: phase["now"] == "training")
    assert result.stopped_reason == "cancelled" and result.steps == 0 and result.model_path.exists()
    assert (result.checkpoint_dir / "last.ckpt").exists()


def test_should_stop_while_scanning_cancels_without_a_model(folder, tmp_path):
    with pytest.raises(Cancelled):
        train(tiny_config(folder, tmp_path), should_stop=lambda: True)
    assert not (tmp_path / "tiny.model").exists()


def test_early_stopping_on_validation(folder, tmp_path):
    # lr 0 never improves on the first evaluation: stops after `patience` more.
    result = train(tiny_config(folder, tmp_path, lr=1e-12, steps=100, warmup_steps=0, patience=2))
    assert result.stopped_reason == "early stopping" and result.steps == 12


def test_refuses_to_overwrite_and_to_resume_nothing(folder, tmp_path):
    config = tiny_config(folder, tmp_path, steps=2)
    train(config)
    with pytest.raises(OutputExistsError):
        train(config)
    with pytest.raises(ComposerError, match="nothing to resume"):
        train(dataclasses.replace(config, out=str(tmp_path / "other.model"), resume=True))


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ComposerError, match="no usable MIDI files"):
        train(tiny_config(tmp_path / "empty", tmp_path))
    assert not (tmp_path / "tiny.model").exists()


def test_by_default_validation_runs_every_50_steps_or_more_for_a_large_held_out_set(folder, tmp_path):
    share = lambda v, t, n: (v / 3) / (v / 3 + n * t)    # a pass: forward only, ~1/3 of a step's work per token
    assert auto_eval_every(0, 4096) == auto_eval_every(20_000, 4096) == 50
    for val_tokens in (37_260, 240_000, 10**7):
        n = auto_eval_every(val_tokens, 4096)
        assert n % 10 == 0 and share(val_tokens, 4096, n) <= 0.05 < share(val_tokens, 4096, n - 10)
    assert auto_eval_every(37_260, 4096) == 60             # the folk tunes' 90 held out, batch 16 x 256
    result = train(tiny_config(folder, tmp_path, eval_every=None, steps=55, log_every=5))
    assert result.summary["eval_every"] == 50 and result.summary["train_config"]["eval_every"] is None
    lines = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [m["step"] for m in lines if m.get("val_bits_per_note") is not None][:1] == [50]


def test_without_a_length_a_small_folder_still_gets_enough_steps(folder, tmp_path):
    """60 epochs of a small folder are a few dozen steps (a QA run: 60 steps, 7.8
    bits per note); without --steps/--epochs/--minutes the run may take up to
    DEFAULT_MIN_STEPS (early stopping ends it sooner)."""
    from training.config import DEFAULT_MIN_STEPS
    seen = []
    train(tiny_config(folder, tmp_path, steps=None, batch=4, seq_len=24),
          progress=lambda p: seen.append(p.info.total_steps),
          should_stop=lambda: bool(seen) and seen[-1] is not None)
    total = next(t for t in seen if t is not None)
    assert total == DEFAULT_MIN_STEPS        # 60 epochs of these 5 training tunes at 4 x 24 tokens: 300 steps


def test_the_first_progress_counts_the_time_of_its_step(folder, tmp_path):
    import time
    reports = []
    train(tiny_config(folder, tmp_path, steps=4), progress=lambda p: reports.append((time.monotonic(), p.info)))
    training = [(at, info) for at, info in reports if info.phase == "training"]
    began = training[0][0]
    at, first = next((at, info) for at, info in training if info.step == 1)
    assert first.elapsed_s >= 0.5 * (at - began)            # (the time before the step: ~0 s)
    assert first.eta_s >= 0.5 * 3 * (at - began)             # 3 steps left at that pace (was 0:00 in the app)
