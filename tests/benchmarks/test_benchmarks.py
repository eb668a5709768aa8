"""Smoke tests of the benchmark command (no timing thresholds: only that it runs and reports)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmarks.__main__ as bench_main
from benchmarks import generation, infill, memory, training
from benchmarks import ingestion as ingest_bench
from benchmarks.__main__ import format_measured, format_table, row, run
from benchmarks.midi_factory import melody, write_song
from composer.assets import MELODY_MODEL, asset_path
from composer.errors import ModelFileError
from composer.model.modelfile import save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.representations.melody import MelodyTokenizer

TINY = dict(hidden=16, embed=8, batch=2, seq_len=16, eval_every=2, checkpoint_every=3)


@pytest.mark.slow
def test_quick_training_part_writes_json_with_the_expected_keys(tmp_path):
    for i in range(6):
        write_song(melody(48, seed=i), tmp_path / "music" / f"m{i}.mid")
    out = tmp_path / "results.json"
    result = run(["training"], quick=True, json_path=out, training_folder=tmp_path / "music",
                 training_overrides=dict(TINY, cache_dir=str(tmp_path / "cache")))
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    assert {"machine", "load_average_start", "load_average_end", "parts", "rows", "command"} <= saved.keys()
    assert {"cpu", "cores", "torch"} <= saved["machine"].keys()
    cells = saved["parts"]["training"]["cells"]
    assert [c["cell"] for c in cells] == ["lstm", "gru"]
    for cell in cells:
        assert cell["shape"]["hidden"] == 16 and cell["trainer_steps_timed"] == 5
        assert cell["raw_steps_timed"] == 5             # chunks of 2, 2 and the last partial chunk of 1
        assert cell["trainer_tokens_per_s"] > 0 and cell["raw_tokens_per_s"] > 0 and cell["ratio"] > 0
        assert cell["validation_s"] > 0 and cell["ratio_without_validation"] > cell["ratio"]
    ratio_rows = [r for r in saved["rows"] if r["unit"] == "x"]
    assert len(ratio_rows) == 4 and all(r["target"] == ">= 0.9" and isinstance(r["met"], bool) for r in ratio_rows)
    assert "training lstm" in format_table(saved)


ROOT = Path(__file__).resolve().parents[2]
MODEL = str(asset_path(MELODY_MODEL))


def exit_code_and_error(main, argv, capsys) -> tuple[int, str]:
    """A command's exit code (returned or raised by argparse) and its one error line."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return code, lines[0]


@pytest.mark.parametrize("module, argv, message", [
    (generation, ["--repeats", "0"], "--repeats: must be >= 1, got 0"),
    (generation, ["--threads", "-1"], "--threads: must be >= 1, got -1"),
    (generation, ["--threads", "0"], "--threads: must be >= 1, got 0"),
    (generation, ["--sampler-threads", "foo"], "'auto' or a thread count >= 1, got 'foo'"),
    (generation, ["--sampler-threads", "0"], "'auto' or a thread count >= 1, got '0'"),
    (generation, ["--model", "/nonexistent.model"], "/nonexistent.model: no such model file"),
    (generation, ["--json", "/nonexistent/dir/x.json"], "folder '/nonexistent/dir' of '/nonexistent/dir/x.json'"),
    (bench_main, ["--quick", "--only", "generation", "--json", "/nonexistent/dir/x.json"], "does not exist"),
    (bench_main, ["--threads", "0"], "--threads: must be >= 1, got 0"),
    (training, ["--cells", "foo"], "lstm and/or gru separated by commas, got 'foo'"),
    (training, ["--steps", "2"], "steps (2) must be at least warmup (3) + chunk (10)"),
    (training, ["--cells", "lstm", "--steps", "12"], "steps (12) must be at least warmup (3) + chunk (10)"),
    (training, ["--steps", "6", "--warmup", "1", "--chunk", "6"], "steps (6) must be at least warmup (1) + chunk (6)"),
    (training, ["--chunk", "0"], "--chunk: must be >= 1, got 0"),
    (training, ["--folder", "/nonexistent"], "no such folder: '/nonexistent'"),
    (training, ["--json", "/nonexistent/x.json"], "does not exist"),
    (memory, ["--steps", "0"], "--steps: must be >= 1, got 0"),
    (memory, ["--count", "0"], "--count: must be >= 1, got 0"),
    (memory, ["--folder", "/nonexistent"], "no such folder: '/nonexistent'"),
    (memory, ["--model", "/nonexistent.model"], "/nonexistent.model: no such model file"),
    (memory, ["--json", "/nonexistent/x.json"], "does not exist"),
    (ingest_bench, ["--files", "0"], "--files: must be >= 1, got 0"),
    (ingest_bench, ["--files", "-5"], "--files: must be >= 1, got -5"),
    (ingest_bench, ["--rounds", "0"], "--rounds: must be >= 1, got 0"),
    (ingest_bench, ["--workers", "-1"], "--workers: must be >= 1, got -1"),
    (infill, ["/nonexistent", "--model", MODEL], "no such folder: '/nonexistent'"),
    (infill, [".", "--model", "/nonexistent.model"], "/nonexistent.model: no such model file"),
    (infill, [".", "--model", MODEL, "--val-share", "2"], "fraction between 0 and 1, got '2'"),
    (infill, [".", "--model", MODEL, "--context-bars", "0"], "--context-bars: must be >= 1, got 0"),
    (infill, [".", "--model", MODEL, "--json", "/nonexistent/x.json"], "does not exist"),
])
def test_bad_arguments_get_one_line_and_exit_code_2_before_any_work(module, argv, message, capsys):
    code, error = exit_code_and_error(module.main, argv, capsys)
    assert code == 2 and "error: " in error and message in error


def test_the_table_is_printed_before_the_json_is_written(tmp_path, monkeypatch, capsys):
    table = {"machine": {"cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 1}, "load_average_start": [0.0],
             "load_average_end": [0.0], "rows": [row("generation: a number", 1.0, "x", ">= 0.8", True, "cmd")]}
    calls = []
    monkeypatch.setattr(bench_main, "run", lambda *args, **kwargs: calls.append(args) or table)

    def refuse(data, path):
        raise OSError(f"{path}: disk full")

    monkeypatch.setattr(bench_main, "write_json", refuse)
    code = bench_main.main(["--only", "generation", "--json", str(tmp_path / "x.json")])
    out, err = capsys.readouterr()
    assert code == 2 and "generation: a number" in out and err.strip() == f"error: {tmp_path / 'x.json'}: disk full"
    assert calls[0][2] is None                          # run() itself writes nothing


@pytest.mark.parametrize("value, unit, target, met, shown", [
    (0.8996, "x", ">= 0.9", False, "0.8996 x"),
    (14.996, "x", ">= 15", False, "14.996 x"),
    (99.97, "ms", "< 100", True, "99.97 ms"),
    (4.9996, "ms", "< 5", True, "4.9996 ms"),
    (0.9312, "x", ">= 0.9", True, "0.93 x"),           # the normal display is unchanged
    (13.3, "x", ">= 15", False, "13.30 x"),
    (4.9, "ms", "< 100", True, "4.9 ms"),
    (496.3, "MB", "", None, "496 MB"),
])
def test_the_measured_column_never_contradicts_the_met_column(value, unit, target, met, shown):
    assert format_measured(value, unit, target, met) == shown
    result = {"machine": {"cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 1}, "load_average_start": [0.0],
              "load_average_end": [0.0], "rows": [row("a", value, unit, target, met, "cmd")]}
    assert shown in format_table(result)


def test_training_refuses_fewer_timed_steps_than_a_chunk_before_training(tmp_path):
    for i in range(4):
        write_song(melody(48, seed=i), tmp_path / "music" / f"m{i}.mid")
    with pytest.raises(ValueError, match=r"steps \(5\) must be at least warmup \(3\) \+ chunk \(10\)"):
        training.run(("lstm",), steps=5, folder=tmp_path / "music")
    # the default steps (warm-up + two validation intervals of 2) time 4 steps: refused after the scan only
    with pytest.raises(ValueError, match=r"steps \(7\) must be at least"):
        training.run(("lstm",), folder=tmp_path / "music", overrides=dict(TINY, cache_dir=str(tmp_path / "cache")))


def test_memory_resolves_relative_paths_and_checks_the_model_before_any_child(tmp_path, monkeypatch):
    (tmp_path / "music").mkdir()
    tok = MelodyTokenizer()
    save_model(tmp_path / "m.model", MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=8, embed_dim=4,
                                                          num_layers=1)), tok)
    children = []
    monkeypatch.setattr(memory, "_in_child", lambda *args: children.append(args) or
                        {"peak_kb": 1024, "baseline_kb": 1024, "children_peak_kb": 0})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match="no such model file"):
        memory.run(folder=Path("music"), model=Path("missing.model"), steps=1, count=1)
    assert children == []
    memory.run(folder=Path("music"), model=Path("m.model"), steps=1, count=1)
    assert children == [("training", str(tmp_path / "music"), "1"), ("generation", str(tmp_path / "m.model"), "1")]
