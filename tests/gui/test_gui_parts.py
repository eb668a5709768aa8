"""A song of several parts (melody, bass, chords, drums) built in code: a colour
per part in the roll with a legend, mute and solo for Play, Export per part."""
from __future__ import annotations

import pytest

from composer.music.midifile import read_midi
from composer.music.song import Note, Song, Track
from gui.parts import PART_COLORS, PartState, audible, exported
from gui.pianoroll_paint import velocity_color


def band() -> Song:
    melody = Track([Note(b, b + 1, 72 + b % 5) for b in range(8)], program=73, name="melody")
    bass = Track([Note(b, b + 2, 40) for b in range(0, 8, 2)], program=33, name="bass")
    chords = Track([Note(b, b + 4, p) for b in (0, 4) for p in (60, 64, 67)], program=0, name="chords")
    drums = Track([Note(b / 2, b / 2 + 0.25, 42) for b in range(16)], is_drum=True, name="drums")
    return Song(tracks=[melody, bass, chords, drums])


def names(song: Song) -> list[str]:
    return [t.name for t in song.tracks]


def test_solo_wins_over_mute_and_export_leaves_parts_out():
    song = band()
    assert names(audible(song, [PartState(), PartState(muted=True), PartState(), PartState()])) == \
        ["melody", "chords", "drums"]
    solo = [PartState(muted=True, soloed=True), PartState(), PartState(soloed=True), PartState()]
    assert names(audible(song, solo)) == ["melody", "chords"]
    assert names(exported(song, [PartState(), PartState(), PartState(), PartState(export=False)])) == \
        ["melody", "bass", "chords"]
    assert audible(song, []) is song                       # states of another song: all of it


@pytest.fixture
def shown(make_window):
    window = make_window()
    window.resize(1440, 900)
    results = window.generate_view.results
    results.set_results([band()], "melody", seed=None, primer_beats=0.0, generated=False, label="Open band.mid")
    return window, results


def _pixel(roll, note: Note):
    image = roll.viewport().grab().toImage()
    return image.pixelColor(roll.note_rect(note).center().toPoint())


def test_each_part_has_its_colour_and_a_legend_row(shown):
    window, results = shown
    legend, roll, song = results.parts, results.roll, results.current_song()
    assert legend.isVisible() and [row[1].text() for row in legend.rows] == ["melody", "bass", "chords", "drums"]
    bass_note, melody_note = song.tracks[1].notes[0], song.tracks[0].notes[0]
    assert _pixel(roll, bass_note).name() == PART_COLORS[1].name()
    assert _pixel(roll, melody_note).name() == PART_COLORS[0].name()
    assert roll.drum_notes == song.tracks[3].notes           # drawn too
    legend.rows[1][2].setChecked(True)                       # mute the bass: paler, out of Play
    assert _pixel(roll, bass_note).lightness() > PART_COLORS[1].lightness()
    assert names(legend.audible(song)) == ["melody", "chords", "drums"]
    legend.rows[0][3].setChecked(True)                       # solo the melody
    assert names(legend.audible(song)) == ["melody"]
    results.variations.set_songs([band(), band()], "melody", None, generated=False)   # the same parts: boxes kept
    results.variations.setCurrentRow(1)
    assert legend.rows[0][3].isChecked()


def test_export_writes_the_parts_ticked(shown, tmp_path):
    window, results = shown
    results.parts.rows[3][4].setChecked(False)              # drums not exported
    target = tmp_path / "band.mid"
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(target)
    assert results.export_midi() == target
    written = read_midi(target)
    assert not any(t.is_drum for t in written.tracks)
    assert sorted(n.pitch for n in written.notes) == sorted(n.pitch for n in band().notes)


def test_a_melody_shows_no_legend_and_keeps_velocity_colours(make_window):
    from composer.music.song import melody_song
    results = make_window().generate_view.results
    results.set_results([melody_song([Note(0, 1, 60)])], "melody", seed=1, primer_beats=0.0)
    assert not results.parts.isVisible() and results.roll.part_colors == {}
    note = results.current_song().notes[0]
    assert _pixel(results.roll, note).name() == velocity_color(note.velocity).name()
