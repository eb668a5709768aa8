"""Texture of generated pieces (composer/analysis/texture.py) and its lines in
`composer eval`, with the note-length cap of performance models."""
import pytest

from benchmarks.midi_factory import write_song
from composer.analysis.texture import texture, texture_lines, texture_section
from composer.cli.main import main
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS
from composer.representations.performance import PerformanceTokenizer
from tests.tinymodels import chord_song, tiny_model_file


def test_voices_count_what_sounds_together_and_rests_do_not_count():
    chorale = Song(tracks=[Track(notes=[Note(0, 4, p) for p in (48, 55, 64, 72)])], tempos=[(0.0, 60.0)])
    tune = Song(tracks=[Track(notes=[Note(0, 1, 60), Note(3, 4, 62)])], tempos=[(0.0, 60.0)])   # a 2 s rest
    assert texture([chorale]).mean_voices == pytest.approx(4.0)
    t = texture([tune])
    assert t.mean_voices == pytest.approx(1.0) and t.notes_per_second == pytest.approx(0.5)
    assert t.longest_note_seconds == pytest.approx(1.0)
    assert texture([Song(tracks=[Track()])]).pieces == 0


def test_the_section_of_a_performance_model_counts_the_notes_ended_at_the_cap():
    tok = PerformanceTokenizer()
    second = tok.index["shift:100"]
    hanging = [BOS, tok.index["on:60"], *[second] * 12, EOS]
    ended = [BOS, tok.index["on:64"], second, tok.index["off:64"], EOS]
    section = texture_section(tok, [hanging, ended], [tok.decode(hanging, tempo=60)], [])
    assert section["capped"] == {"notes": 2, "capped": 1, "cap_seconds": 5.0, "longest_uncapped_seconds": 12.0}
    assert section["generated"]["longest_note_seconds"] == pytest.approx(5.0)
    lines = texture_lines(section)
    assert lines[-1] == "notes ended at the 5 s cap: 1 of 2 generated (longest before the cap 12.00 s)"
    assert "-" in lines[1]                               # no folder pieces: shown as -


def test_eval_of_a_performance_model_prints_the_texture_and_the_cap(tmp_path, capsys):
    model = tiny_model_file(tmp_path / "p.model", kind="performance", steps=3)
    for k in range(3):
        write_song(chord_song(k), tmp_path / "songs" / f"s{k}.mid")
    assert main(["eval", str(model), str(tmp_path / "songs"), "--samples", "2", "--seconds", "8", "--workers", "1",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "voices at once" in out and "notes ended at the 5 s cap: " in out
    folder_voices = next(line for line in out.splitlines() if line.startswith("voices at once")).split()[-1]
    assert float(folder_voices) == pytest.approx(3.0)
