"""`train --objective accompany`: the harmoniser trained on Arrangements."""
from __future__ import annotations

import dataclasses
import math
import shlex

import pytest
import torch
from tinyharmony import arrangements, tiny_train_config, train_tiny_harmonizer

from composer.cli.main import build_parser
from composer.model.modelfile import load_model
from composer.music import harmony
from composer.services.describe import describe_model
from training.checkpoint import load_checkpoint
from training.config import TrainConfig
from training.trainer import train_arrangements


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("harm") / "h.model"
    return train_tiny_harmonizer(out)


def test_a_run_writes_an_accompaniment_model_that_learned(trained):
    loaded = load_model(trained.model_path)
    assert loaded.is_accompany and loaded.tokenizer.config.voices == ("alto", "tenor", "bass")
    s = trained.summary
    assert s["objective"] == "accompany" and s["val_metric"].startswith("bits per beat")
    # uniform guessing: log2(97) per chord label and log2(75) per voice step (2 steps x 3 voices a beat)
    uniform = math.log2(harmony.LABEL_COUNT) + 6 * math.log2(loaded.tokenizer.vocab_size)
    assert trained.best_val_bits_per_note < 0.6 * uniform
    assert 0 < s["val_bits_per_chord"] < math.log2(harmony.LABEL_COUNT)
    assert s["val_bits_per_voice_note"] > 0
    assert (trained.checkpoint_dir / "best.model").exists()
    assert "val_bits_per_note" in trained.metrics_path.read_text()
    assert s["folder_style"]["parallels_per_bar"] >= 0     # what harmonize's --parallels auto follows


def test_info_describes_the_harmoniser(trained):
    lines = "\n".join(describe_model(trained.model_path).info_lines())
    assert "representation:  accompany" in lines
    assert "harmoniser (bidirectional over the melody; parts alto, tenor, bass, chord labels)" in lines


def test_interrupted_and_resumed_run_ends_with_the_same_weights(trained, tmp_path):
    config = tiny_train_config(tmp_path / "pieces", tmp_path / "b.model")
    pieces = arrangements(config.accompany_config(), 8)
    seen = {"step": 0}
    first = train_arrangements(config, pieces, ["piece0", "piece1"], progress=lambda p: seen.update(step=p.info.step),
                               should_stop=lambda: seen["step"] >= 12)
    assert first.stopped_reason == "cancelled" and first.steps == 12
    resumed = train_arrangements(dataclasses.replace(config, resume=True), pieces, ["piece0", "piece1"])
    assert resumed.steps == trained.steps == 30
    a = load_checkpoint(trained.checkpoint_dir / "last.ckpt")
    b = load_checkpoint(resumed.checkpoint_dir / "last.ckpt")
    for name, tensor in a.model_state.items():
        torch.testing.assert_close(b.model_state[name], tensor, atol=0, rtol=0)
    assert resumed.best_val_bits_per_note == trained.best_val_bits_per_note
    assert resumed.summary["val_bits_per_chord"] == trained.summary["val_bits_per_chord"]


def test_the_objective_refuses_settings_it_cannot_use():
    with pytest.raises(ValueError, match="voice 'drums' is not one of"):
        TrainConfig(folder="f", out="o", objective="accompany", accompany_voices=("drums",))
    with pytest.raises(ValueError, match="representation melody"):
        TrainConfig(folder="f", out="o", objective="accompany", representation="performance")


def test_train_reads_voices_and_repeats_them_in_the_resume_command():
    from training.cli import config_from_args, resume_command
    args = build_parser().parse_args(["train", "chorales", "--objective", "accompany", "--voices", "alto,tenor,bass"])
    config = config_from_args(args)
    assert config.objective == "accompany" and config.accompany_voices == ("alto", "tenor", "bass")
    again = build_parser().parse_args(shlex.split(resume_command(args, out="m.model"))[3:])
    assert config_from_args(again).accompany_voices == ("alto", "tenor", "bass")


def test_train_refuses_an_unknown_voice(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "f", "--objective", "accompany", "--voices", "alto,drums"])
    assert exit_info.value.code == 2
    assert "voices must be distinct names among soprano, alto" in capsys.readouterr().err
