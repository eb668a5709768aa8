"""The transposition chosen for a run (training/sizing.py): the rule, the
trainer applying it only when none is given, and the CLI and the Train tab
showing the same choice."""
from __future__ import annotations

import pytest

from composer.corpus.ingest import FileResult, IngestReport
from training.config import DEFAULT_EPOCHS, MELODY_TRANSPOSE, TrainConfig
from training.sizing import (
    NOMINAL_TOKENS_PER_S,
    PASSES_FOR_TRANSPOSE,
    PASSES_FOR_WIDE,
    WIDE_TRANSPOSE,
    choose,
    expected_passes,
    resolve,
)


def report_of(notes_per_file: list[int]) -> IngestReport:
    files = [FileResult(path=f"f{i}.mid", status="used", n_notes=n, n_tokens=4 * n)
             for i, n in enumerate(notes_per_file)]
    files.append(FileResult(path="bad.mid", status="skipped", reason="no notes", n_notes=0))
    return IngestReport(folder="x", representation="melody", files=files)


def config(**changes) -> TrainConfig:
    return TrainConfig(folder="x", out="y.model", **changes)


def test_passes_come_from_the_shortest_length():
    per_step = 16 * 256
    assert expected_passes(config(steps=100), 100 * per_step) == pytest.approx(1.0)
    assert expected_passes(config(steps=100, epochs=0.5), 100 * per_step) == pytest.approx(0.5)
    assert expected_passes(config(minutes=1), NOMINAL_TOKENS_PER_S["cpu"] * 60) == pytest.approx(1.0)
    assert expected_passes(config(minutes=1), NOMINAL_TOKENS_PER_S["cpu"] * 60, "cuda") > 1.0
    assert expected_passes(config(), 10**9) == DEFAULT_EPOCHS          # early stopping ends it


def test_transposition_is_off_for_a_run_that_sees_each_note_few_times():
    report = report_of([250] * 100)                 # 100,000 melody tokens, 90,000 trained on
    short = choose(config(steps=300), report)       # 300 x 4,096 / 90,000: about 14 passes
    middle = choose(config(steps=1000), report)     # about 46
    long = choose(config(steps=3000), report)       # about 137
    assert short.passes < PASSES_FOR_TRANSPOSE <= middle.passes < PASSES_FOR_WIDE <= long.passes
    assert (short.transpose, middle.transpose, long.transpose) == ((0, 0), MELODY_TRANSPOSE, WIDE_TRANSPOSE)
    assert (long.notes, long.files) == (25_000, 100)                  # the skipped file does not count
    assert "transposition off" in short.lines()[0] and "fewer than" in short.lines()[1]
    assert "about 137 passes" in long.lines()[0] and "-5..+6 semitones" in long.lines()[0]
    assert "-2..+2 semitones" in middle.lines()[0]
    assert choose(config(steps=3000, representation="performance"), report).transpose == (0, 0)


def test_resolve_fills_the_transposition_only_when_not_given():
    report = report_of([250] * 100)
    chosen, sizing = resolve(config(steps=300), report)
    assert chosen.transpose == (0, 0) and sizing is not None
    given = config(steps=300, transpose=(-1, 1))
    assert resolve(given, report) == (given, None)


def test_train_prints_and_stores_the_choice(tmp_path, capsys):
    from benchmarks.midi_factory import melody, write_song
    from composer.cli.main import main
    from composer.model.modelfile import read_metadata
    for i in range(4):
        write_song(melody(40, seed=i), tmp_path / "small" / f"t{i}.mid")
    model = tmp_path / "m.model"
    tiny = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
            "--quiet"]
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "2000", "--minutes", "0.02",
                 *tiny]) == 0           # 2,000 steps x 32 tokens, or 1.2 s at the nominal speed: > 100 passes
    err = capsys.readouterr().err
    assert "chosen for 4 file(s), 160 notes, about" in err and "transposition -5..+6 semitones" in err
    assert read_metadata(model)["training"]["train_config"]["transpose"] == list(WIDE_TRANSPOSE)
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "2", "--transpose=-1:1",
                 "--force", *tiny]) == 0
    assert "chosen for" not in capsys.readouterr().err
    assert read_metadata(model)["training"]["train_config"]["transpose"] == [-1, 1]
