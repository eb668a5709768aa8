"""The tuning protocol (benchmarks/protocol.py): folders of each size drawn
from one collection, the same test files for every run, the table and JSON;
a few seconds per run (no timing thresholds)."""
import json

import pytest

from benchmarks.midi_factory import melody, write_song
from benchmarks.protocol import _sizes, main, subset


def test_subsets_take_every_kth_file_and_all_means_all():
    names = [f"n{i:02}" for i in range(10)]
    assert subset(names, 5) == ["n00", "n02", "n04", "n06", "n08"]
    assert subset(names, None) == subset(names, 99) == names
    assert _sizes("50,all") == [50, None]
    with pytest.raises(ValueError, match="'x'"):
        _sizes("50,x")


def test_a_small_folder_of_a_collection_is_scored_on_its_held_out_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for i in range(20):
        write_song(melody(40, seed=i), tmp_path / "data" / "tunes" / f"t{i:02}.mid")
    out = tmp_path / "runs.json"
    code = main([str(tmp_path / "data"), "--collections", "tunes", "--sizes", "4", "--minutes", "0.02",
                 "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    runs = json.loads(out.read_text())["runs"]
    assert [r["train_files"] for r in runs] == [4]
    assert runs[0]["test_notes"] == 2 * 40          # 10 % of 20 tunes, none of them a training file
    assert runs[0]["test_files_in_training"] == 0
    assert "| tunes | 4 | 0.02 |" in printed


def test_a_missing_collection_names_the_command_that_makes_it(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main([str(tmp_path / "data"), "--collections", "bach"]) == 2
    assert "python -m training.corpus bach" in capsys.readouterr().err
