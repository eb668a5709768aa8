"""composer.analysis.form: form statistics on pieces with known answers, and their place in `composer eval`
and `composer form`."""
from __future__ import annotations

import json

import pytest

from benchmarks.midi_factory import write_song
from composer.analysis.form import best_key, form_stats, piece_form
from composer.cli.main import main
from composer.music.song import Note, Song, Track, melody_song
from composer.representations.melody import MelodyTokenizer
from tests.tinymodels import tiny_model_file

TOK = MelodyTokenizer()


def line(pitches, *, start: float = 0.0, step: float = 0.5) -> list[Note]:
    """Notes of `step` beats, one after the other from `start`."""
    return [Note(start + i * step, start + (i + 1) * step, p) for i, p in enumerate(pitches)]


def bars_song(bars: list[list[int]], ts=(4, 4), step: float = 0.5) -> Song:
    """One bar of `step`-beat notes per list (an empty list: a bar of rest), `length` the bars given."""
    bar_beats = ts[0] * 4 / ts[1]
    notes = [n for b, pitches in enumerate(bars) for n in line(pitches, start=b * bar_beats, step=step)]
    song = melody_song(notes, time_signature=ts)
    song.length = len(bars) * bar_beats
    return song


A1, A2 = [60, 62, 64, 65, 67, 65, 64, 62], [60, 64, 67, 72, 67, 64, 62, 60]
B1, B2 = [69, 67, 65, 64, 62, 64, 65, 67], [69, 71, 72, 71, 69, 67, 65, 64]


# ---- bar repetition ----------------------------------------------------------------------------
def test_aabb_tune_repeats_half_its_bars():
    song = bars_song([A1, A2, A1, A2, B1, B2, B1, B2])
    assert piece_form(song).bar_repetition == pytest.approx(4 / 8)


def test_a_transposed_or_shifted_bar_is_not_a_repeated_bar():
    up = [p + 2 for p in A1]
    song = bars_song([A1, up, A2])
    assert piece_form(song).bar_repetition == 0.0
    shifted = melody_song(line(A1) + line(A1, start=4.25), time_signature=(4, 4))     # same notes, 1/16 late
    assert piece_form(shifted).bar_repetition == 0.0


def test_empty_bars_are_never_repeats_but_count_in_the_denominator():
    song = bars_song([A1, [], A1, [], A1])
    assert piece_form(song).bar_repetition == pytest.approx(2 / 5)


def test_only_the_first_bars_are_measured():
    song = bars_song([A1, A2, B1, B2, A1, A2, A1, A2])
    assert piece_form(song, bars=4).bar_repetition == 0.0
    assert piece_form(song, bars=4).bars == 4
    assert piece_form(song, bars=6).bar_repetition == pytest.approx(2 / 6)
    assert piece_form(song, bars=16).bars == 8          # a shorter piece: its own bars


@pytest.mark.parametrize("ts", [(3, 4), (6, 8)])
def test_bars_follow_the_pieces_own_meter(ts):
    motif = [67, 64, 60, 64, 67, 72]                    # 6 eighths: one bar of 3/4 or 6/8
    notes = line(motif * 4)
    assert piece_form(melody_song(notes, time_signature=ts)).bar_repetition == pytest.approx(3 / 4)
    # the same notes in 4/4 bars: 3 bars, none repeats another
    assert piece_form(melody_song(notes, time_signature=(4, 4))).bar_repetition == 0.0


def test_a_pickup_bar_counts_from_beat_0_as_the_melody_representation_does():
    # a 1-beat pickup written as a bar of rest + pickup (the corpus layout), then A1 A1
    pickup = [Note(3.0, 3.5, 55), Note(3.5, 4.0, 57)]
    song = melody_song(pickup + line(A1, start=4) + line(A1, start=8), time_signature=(4, 4))
    decoded = TOK.decode(TOK.encode(song).tokens)
    form = piece_form(decoded)
    assert form.bars == 3 and form.bar_repetition == pytest.approx(1 / 3) and not form.silent_opening


# ---- motif repetition --------------------------------------------------------------------------
def test_a_transposed_motif_counts_as_a_repeat():
    # patterns (intervals; all IOIs 4 steps): (2,2,1) (2,1,5) (1,5,-3) (5,-3,2) (-3,2,2) (2,2,1)
    song = melody_song(line([60, 62, 64, 65, 70, 67, 69, 71, 72]))
    assert piece_form(song).motif_repetition == pytest.approx(1 / 6)


def test_a_motif_in_another_rhythm_is_not_a_repeat():
    notes = line([60, 62, 64, 65, 70]) + line([67, 69, 71, 72], start=2.5, step=0.25)
    assert piece_form(melody_song(notes)).motif_repetition == 0.0


def test_motif_repetition_needs_four_notes():
    assert piece_form(melody_song(line([60, 62, 64]))).motif_repetition is None
    assert piece_form(melody_song(line([60, 60, 60, 60, 60]))).motif_repetition == pytest.approx(1 / 2)


def test_chords_are_measured_on_their_top_note():
    chords = [Note(i * 1.0, i + 1.0, p - d) for i, p in enumerate([60, 64, 67, 72]) for d in (0, 7, 12)]
    song = Song(tracks=[Track(notes=sorted(chords))])
    form = piece_form(song)
    assert form.notes == 4 and form.pitch_range == 12


# ---- range, key, tonic ending, silent opening ---------------------------------------------------
def test_pitch_range_is_highest_minus_lowest():
    assert piece_form(melody_song(line([62, 55, 74, 60]))).pitch_range == 19


A_MINOR = [69, 71, 72, 74, 76, 72, 69, 76, 74, 72, 71, 68, 69, 64, 68, 69]   # A B C D E C A E D C B G# A E G# A


def test_a_minor_tune_ending_on_a_ends_on_the_tonic():
    form = piece_form(melody_song(line(A_MINOR)))
    assert form.key == "A minor" and form.ends_on_tonic is True


def test_ending_on_another_degree_is_not_a_tonic_ending():
    form = piece_form(melody_song(line(A_MINOR[:-1] + [72])))
    assert form.key == "A minor" and form.ends_on_tonic is False


def test_best_key_of_a_major_scale_is_major():
    assert best_key(line([62, 64, 66, 67, 69, 71, 73, 74, 69, 62])) == (2, "major")     # D major
    assert best_key([]) is None


def test_silent_first_bar():
    rest_first = melody_song(line(A1, start=4.0))
    assert piece_form(rest_first).silent_opening is True
    assert piece_form(melody_song(line(A1, start=3.5))).silent_opening is False        # a pickup on beat 4
    three_four = melody_song(line(A1, start=3.0), time_signature=(3, 4))             # first note on bar 2
    assert piece_form(three_four).silent_opening is True


def test_a_piece_without_notes():
    empty = Song(tracks=[Track()], length=8.0)
    form = piece_form(empty)
    assert form.silent_opening is True and form.bar_repetition == 0.0
    assert form.pitch_range is None and form.ends_on_tonic is None and form.motif_repetition is None


def test_summary_gives_mean_sd_and_shares_over_defined_values():
    pieces = [bars_song([A1, A1]), bars_song([A1, A2]), bars_song([[], A1])]
    summary = form_stats(pieces, bars=2).summary
    assert summary["bar_repetition"] == {"mean": pytest.approx(1 / 6), "sd": pytest.approx(0.2357, abs=1e-4),
                                         "n": 3}
    assert summary["silent_opening"] == {"share": pytest.approx(1 / 3), "n": 3}
    assert summary["pitch_range"]["mean"] == pytest.approx((7 + 12 + 7) / 3)


# ---- composer form and composer eval ---------------------------------------------------------------
def test_form_command_measures_a_folder_without_a_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "f"
    folder.mkdir()
    write_song(bars_song([A1, A2, A1, A2, B1, B2, B1, B2]), folder / "a_aabb.mid")
    write_song(bars_song([A1, A2, B1, B2]), folder / "b_abcd.mid")
    write_song(bars_song([[], A1, A2, B1]), folder / "c_silent.mid")
    out = tmp_path / "form.json"
    assert main(["form", str(folder), "--bars", "8", "--json", str(out), "--workers", "1", "--quiet"]) == 0
    data = json.loads(out.read_text())
    form = data["form"]
    assert form["files"] == ["a_aabb.mid", "b_abcd.mid", "c_silent.mid"]
    assert [p["bar_repetition"] for p in form["pieces"]] == [pytest.approx(0.5), 0.0, 0.0]
    assert form["summary"]["silent_opening"]["share"] == pytest.approx(1 / 3)
    assert "bar repetition" in capsys.readouterr().out
    assert main(["form", str(folder), "--every", "2", "--workers", "1", "--quiet"]) == 0
    assert "form of 2 piece(s)" in capsys.readouterr().out


def test_form_command_refuses_bad_values_in_one_line(tmp_path, capsys):
    assert main(["form", str(tmp_path / "missing"), "--quiet"]) == 2
    assert main(["form", str(tmp_path), "--bars", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing" in err[0] and "bars=0" in err[1]


def test_eval_reports_form_for_both_sides(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "m.model", steps=5)
    folder = tmp_path / "f"
    folder.mkdir()
    tunes = [[A1, A2, A1, A2], [A1, B1, B2, A1], [B1, B2, A1, A2]]
    for i, bars in enumerate(tunes):
        write_song(bars_song(bars), folder / f"t{i}.mid")
    code = main(["eval", str(model), str(folder), "--json", str(tmp_path / "r.json"), "--html",
                 str(tmp_path / "r.html"), "--samples", "3", "--bars", "4", "--workers", "1", "--quiet"])
    assert code == 0
    form = json.loads((tmp_path / "r.json").read_text())["form"]
    assert form["bars"] == 4 and form["generated"]["count"] == 3 and form["folder"]["count"] == 3
    assert [p["bar_repetition"] for p in form["folder"]["pieces"]] == [0.5, 0.25, 0.0]
    for side in ("generated", "folder"):
        assert set(form[side]["summary"]) == {"bar_repetition", "motif_repetition", "pitch_range",
                                              "ends_on_tonic", "silent_opening"}
        assert all(p["bars"] == 4 for p in form[side]["pieces"])
    assert form["folder"]["summary"]["bar_repetition"]["mean"] == pytest.approx(0.25)
    assert "Form (first 4 bars)" in (tmp_path / "r.html").read_text()
    out = capsys.readouterr().out
    assert "form, first 4 bars" in out and "0.250 +- 0.204" in out


def test_eval_of_a_performance_model_says_why_form_is_not_measured(tmp_path, capsys, monkeypatch):
    from tests.tinymodels import chord_song
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "p.model", kind="performance", steps=3)
    folder = tmp_path / "f"
    folder.mkdir()
    for k in range(2):
        write_song(chord_song(k), folder / f"c{k}.mid")
    code = main(["eval", str(model), str(folder), "--json", str(tmp_path / "r.json"), "--samples", "1",
                 "--seconds", "1", "--workers", "1", "--quiet"])
    assert code == 0
    form = json.loads((tmp_path / "r.json").read_text())["form"]
    assert form["bars"] is None and "no meter" in form["skipped"]
    assert "form: not measured" in capsys.readouterr().out
