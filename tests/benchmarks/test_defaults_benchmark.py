"""The defaults benchmark (benchmarks/defaults.py): the reference's tokens,
and the command end to end on a few tunes for a few seconds (no timing thresholds)."""
import json
import math

import pytest

from benchmarks import reference_loop as ref
from benchmarks.defaults import main
from benchmarks.midi_factory import melody, write_song
from composer.music.song import Note
from composer.representations.melody import MelodyTokenizer


def test_reference_tokens_are_shift_pitch_duration_of_the_project_melody():
    tok = MelodyTokenizer()
    notes = [Note(0.5, 1.0, 60, 90), Note(1.0, 3.0, 62, 90), Note(5.0, 5.25, 64, 90),   # 62 crosses no bar
             Note(8.0, 40.0, 65, 90)]                                                   # held over 8 bars
    tokens = ref.reference_tokens(tok, tok.encode_notes(notes, (4, 4)))
    shift = lambda k: [ref.MORE_SHIFT] * (k // ref.SPAN) + [ref.SHIFT0 + k % ref.SPAN]
    dur = lambda k: [ref.MORE_DUR] * ((k - 1) // ref.SPAN) + [ref.DUR0 + (k - 1) % ref.SPAN]
    # 4 grid steps per quarter: onsets 2, 4, 20, 32; durations 2, 8, 1, 128
    expected = ([ref.BOS] + shift(2) + [ref.PITCH0 + 60] + dur(2) + shift(2) + [ref.PITCH0 + 62] + dur(8)
                + shift(16) + [ref.PITCH0 + 64] + dur(1) + shift(12) + [ref.PITCH0 + 65] + dur(128) + [ref.EOS])
    assert tokens == expected
    assert ref.count_notes(tokens) == tok.count_notes(tok.encode_notes(notes, (4, 4))) == 4
    assert max(tokens) < ref.VOCAB


def test_side_by_side_on_a_few_tunes_prints_both_numbers_and_writes_the_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))     # not the user's ingest cache
    for i in range(12):
        write_song(melody(48, seed=i), tmp_path / "music" / f"tune{i:02}.mid")
    out = tmp_path / "result.json"
    code = main([str(tmp_path / "music"), "--seconds", "2", "--test-share", "0.25", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads(out.read_text())
    assert result["test_files"] == 3 and result["train_files"] == 9
    assert result["test_notes"] == 3 * 48
    for side in ("defaults", "reference"):
        assert math.isfinite(result[f"{side}_bits_per_note"]) and result[f"{side}_bits_per_note"] > 0
        assert result[side]["steps"] > 0
    assert result["difference"] == pytest.approx(result["defaults_bits_per_note"] - result["reference_bits_per_note"])
    assert f"{result['difference']:+.3f}" in printed and "reference loop" in printed


def test_a_separate_test_folder_leaves_out_files_that_are_also_training_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for i in range(4):
        write_song(melody(32, seed=i), tmp_path / "train" / f"t{i}.mid")
    write_song(melody(32, seed=0), tmp_path / "test" / "copy-of-t0.mid")
    write_song(melody(40, seed=9), tmp_path / "test" / "new.mid")
    out = tmp_path / "result.json"
    assert main([str(tmp_path / "train"), "--test", str(tmp_path / "test"), "--seconds", "1",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["test_files"] == 1 and result["test_files_in_training"] == 1 and result["test_notes"] == 40


@pytest.mark.parametrize("argv, message", [
    (["{tmp}", "--seconds", "0"], "must be a positive number"),
    (["{tmp}", "--minutes", "1", "--seconds", "3"], "not allowed with argument"),
    (["{tmp}/nowhere", "--minutes", "1"], "no such folder"),
    (["{tmp}", "--minutes", "1", "--test-share", "1"], "between 0 and 1"),
])
def test_bad_arguments_get_one_line_and_exit_code_2(tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_folder_too_small_to_hold_out_says_so(tmp_path, monkeypatch, capsys):
    write_song(melody(32), tmp_path / "one.mid")
    assert main([str(tmp_path), "--seconds", "1"]) == 2
    assert "too few to hold any out" in capsys.readouterr().err
