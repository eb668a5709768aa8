"""Smoke tests of the benchmark command (no timing thresholds: only that it runs and reports)."""
from __future__ import annotations

import json

from benchmarks.__main__ import format_table, run
from tests.midi_factory import melody, write_song

TINY = dict(hidden=16, embed=8, batch=2, seq_len=16, eval_every=2, checkpoint_every=3)


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
        assert cell["trainer_tokens_per_s"] > 0 and cell["raw_tokens_per_s"] > 0 and cell["ratio"] > 0
        assert cell["validation_s"] > 0 and cell["ratio_without_validation"] > cell["ratio"]
    ratio_rows = [r for r in saved["rows"] if r["unit"] == "x"]
    assert len(ratio_rows) == 4 and all(r["target"] == ">= 0.9" and isinstance(r["met"], bool) for r in ratio_rows)
    assert "training lstm" in format_table(saved)
