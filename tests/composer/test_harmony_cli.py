"""`composer harmony FOLDER` on multi-track files written in code."""
from __future__ import annotations

import json

import pytest

from composer.cli.main import main
from composer.music.midifile import write_midi
from composer.music.song import Note, Song, Track
from tests.accompany_songs import chorale_song, lead_sheet_song

SATB = ["--voices", "alto", "tenor", "bass"]


def transposed(song: Song, semitones: int) -> Song:
    return Song(tracks=[Track([Note(n.start, n.end, n.pitch + semitones) for n in t.notes], program=t.program,
                              name=t.name, is_drum=t.is_drum) for t in song.tracks],
                tempos=song.tempos, time_signatures=song.time_signatures)


@pytest.fixture
def chorales(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "chorales").mkdir()
    for k in range(4):
        write_midi(transposed(chorale_song(), k), tmp_path / "chorales" / f"c{k}.mid")
    write_midi(Song(tracks=[Track([Note(b, b + 1, 60 + b % 5) for b in range(8)])]),
               tmp_path / "chorales" / "solo.mid")
    return tmp_path / "chorales"


def run(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args] + ["--quiet", "--workers", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_folder_of_chorales(chorales, tmp_path, capsys):
    code, out, err = run(capsys, "harmony", chorales, *SATB, "--json", tmp_path / "h.json")
    assert code == 0, err
    assert "harmony of 4 piece(s)" in out and "(melody and alto, tenor, bass)" in out
    # the soprano's strong-beat notes (C over C, C over F... B over G7) are all chord tones
    assert "chord tones on strong beats: 100.0% of" in out
    assert "held-out bits per chord label (fitted on 3 files, scored on 1 held-out files" in out
    assert "1 file(s) skipped: no accompaniment (1): solo.mid" in out
    result = json.loads((tmp_path / "h.json").read_text())
    assert result["pieces"] == 4 and result["voices"] == ["alto", "tenor", "bass"]
    assert set(result["voice_leading"]) == {"parallel fifths", "parallel octaves", "voice crossings"}
    assert result["baselines"]["bits"]["bigram"] > 0 and result["chords"]["beats"] == 4 * 8


def test_a_test_folder(chorales, tmp_path, capsys):
    (tmp_path / "lead").mkdir()
    write_midi(lead_sheet_song(), tmp_path / "lead" / "a.mid")
    code, out, err = run(capsys, "harmony", chorales, "--test", tmp_path / "lead")
    assert code == 0, err
    assert "(melody and bass)" in out and "fitted on 4 files, scored on 1 of" in out


@pytest.mark.parametrize("case, message", [
    ("missing", "no such folder"),
    ("solo", "no file with accompaniment (1 file(s) skipped: 1 no accompaniment)"),
])
def test_bad_folders_get_one_line(tmp_path, capsys, monkeypatch, case, message):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "solo").mkdir()
    write_midi(Song(tracks=[Track([Note(b, b + 1, 60) for b in range(8)])]), tmp_path / "solo" / "s.mid")
    code, out, err = run(capsys, "harmony", tmp_path / case, "--json", tmp_path / "h.json")
    assert code == 2 and err.strip().startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "h.json").exists() and not out


def test_an_existing_json_is_refused_before_any_work(chorales, tmp_path, capsys):
    (tmp_path / "h.json").write_text("keep")
    code, _, err = run(capsys, "harmony", tmp_path / "nowhere", "--json", tmp_path / "h.json")
    assert code == 2 and "already exists (use --force to overwrite)" in err
    assert (tmp_path / "h.json").read_text() == "keep"
