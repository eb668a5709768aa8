"""Song <-> Arrangement: melody, chord labels, bass and voices taken from multi-track files."""
import numpy as np
import pytest

from composer.music.harmony import NO_CHORD, chord_name
from composer.music.song import Note, Song, Track
from composer.representations.accompany.extract import arrangement_from_song, arrangement_to_song, row_notes
from composer.representations.accompany.grid import HOLD, REST, AccompanyConfig
from composer.representations.base import UnusableMusic
from tests.accompany_songs import CHORALE, SATB, chorale_song, lead_sheet_song


def pitches(row, config):
    return [config.pitch_of(int(t)) for t in row if t >= 2]


def test_chorale_parts_give_the_voices_and_the_chords():
    arr = arrangement_from_song(chorale_song(), SATB)
    assert arr.steps == 16 and arr.voice_names == ("alto", "tenor", "bass")
    assert [chord_name(c) for c in arr.chords] == ["C", "F", "G", "C", "Am", "Dm", "G7", "C"]
    assert pitches(arr.melody, SATB) == [c[0] for c in CHORALE]      # the soprano, repeated C5s struck again
    for v in range(3):
        assert pitches(arr.voices[v], SATB) == [c[v + 1] for c in CHORALE]
    assert list(arr.melody[:4]) == [SATB.onset(72), HOLD, SATB.onset(72), HOLD]
    assert arr.tempo == 90.0 and list(arr.step_in_bar[:10]) == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    assert arr.source == "melody: track 0 'Soprano' (program 52); accompaniment: 3 track(s); voices from the parts"


def test_chorale_round_trip():
    arr = arrangement_from_song(chorale_song(), SATB)
    song = arrangement_to_song(arr, SATB, melody_program=52)
    assert [t.name for t in song.tracks] == ["Melody", "Alto", "Tenor", "Bass"]
    assert [t.program for t in song.tracks] == [52, 52, 52, 52]
    assert song.tempo == 90.0 and song.time_signature == (4, 4)
    again = arrangement_from_song(song, SATB)
    assert np.array_equal(again.melody, arr.melody) and np.array_equal(again.voices, arr.voices)
    assert np.array_equal(again.chords, arr.chords)


def test_block_chords_give_bass_and_chord_rows_and_drums_are_left_out():
    config = AccompanyConfig(voices=("chords", "bass"))
    arr = arrangement_from_song(lead_sheet_song(), config)
    names = [chord_name(c) for c in arr.chords]
    assert names == ["C"] * 4 + ["Am"] * 4 + ["F"] * 4 + ["G"] * 4
    assert pitches(arr.voices[1], config) == [36, 36, 33, 33, 33, 33, 35, 35]   # the bass track, struck twice a bar
    assert pitches(arr.voices[0], config) == [67, 64, 65, 67]     # the top of each block chord
    assert list(arr.voices[0][:9]) == [config.onset(67)] + [HOLD] * 7 + [config.onset(64)]


def test_block_chords_round_trip_with_gm_programs():
    config = AccompanyConfig(voices=("chords", "bass"))
    arr = arrangement_from_song(lead_sheet_song(), config)
    song = arrangement_to_song(arr, config, melody_program=73)
    assert [(t.name, t.program) for t in song.tracks] == [("Melody", 73), ("Chords", 0), ("Bass", 32)]
    assert sorted({n.pitch for n in song.tracks[1].notes if n.start == 0}) == [60, 64, 67]
    again = arrangement_from_song(song, config)
    assert np.array_equal(again.voices, arr.voices) and np.array_equal(again.chords, arr.chords)


def test_without_separate_parts_voices_come_from_the_chord_notes():
    config = AccompanyConfig(voices=("alto", "tenor", "bass"))
    arr = arrangement_from_song(lead_sheet_song(), config)
    # under the melody: the block chord's top and middle notes, the bass track below them
    assert pitches(arr.voices[0], config)[:2] == [67, 64]
    assert pitches(arr.voices[1], config)[:2] == [64, 60]
    assert arr.source.endswith("voices from the chord notes")


def test_three_four_bars_and_octave_folding():
    config = AccompanyConfig(voices=("bass",), low=40, high=90)
    arr = arrangement_from_song(lead_sheet_song((3, 4)), config)
    assert list(arr.step_in_bar[:8]) == [0, 1, 2, 3, 4, 5, 0, 1]
    assert pitches(arr.voices[0], config)[0] == 48          # C2 (36) is below 40: an octave up
    assert len(arr.strong_beat_steps()) == 4


@pytest.mark.parametrize("tracks, reason", [
    ([Track([Note(k, k + 1, 60 + k) for k in range(8)])], "no accompaniment: one melody line only"),
    ([Track([Note(k, k + 1, 60 + k) for k in range(8)]), Track([Note(0, 1, 36)], is_drum=True)],
     "no accompaniment: one melody line only"),
    ([Track([Note(k, k + 1, p) for k in range(8) for p in (60 + k, 48)])], "no accompaniment: melody and chords"),
    ([Track([Note(k, k + 1, 60 + k) for k in range(8)]), Track([Note(0, 4, 48)])],
     "no accompaniment: the other tracks hold 1 note"),
    ([Track([Note(0, 1, 36)], is_drum=True)], "drums only"),
    ([], "no notes"),
    ([Track([Note(k, k + 1, 60 + k) for k in range(3)]), Track([Note(0, 4, 48 + k) for k in range(4)])],
     r"too short \(3 melody notes, need 8\)"),
])
def test_files_without_accompaniment_say_why(tracks, reason):
    with pytest.raises(UnusableMusic, match=reason):
        arrangement_from_song(Song(tracks=tracks), AccompanyConfig())


def test_no_chord_where_only_the_melody_sounds():
    song = lead_sheet_song()
    song.tracks[0].notes = [n for n in song.tracks[0].notes if n.start < 4]     # block chords in bar 1 only
    song.tracks[3].notes = [n for n in song.tracks[3].notes if n.start < 4]
    arr = arrangement_from_song(song, AccompanyConfig())
    assert chord_name(arr.chords[0]) == "C" and NO_CHORD in arr.chords[4:]
    assert (arr.voices[0][8:] == REST).all()


def test_row_notes_reads_holds_and_ignores_a_hold_after_a_rest():
    config = AccompanyConfig()
    row = np.array([config.onset(60), HOLD, config.onset(60), REST, HOLD, config.onset(62)])
    assert row_notes(row, config) == [Note(0, 1, 60, 80), Note(1, 1.5, 60, 80), Note(2.5, 3, 62, 80)]


@pytest.mark.parametrize("meters, result", [
    ([(0.0, 0, 4)], "unsupported time signature 0/4"),           # no bar can be counted: refused, no endless loop
    ([(0.0, 4, 1024)], "unsupported time signature 4/1024"),
    ([(0.0, 3, 4), (3.0, 0, 4)], [(0.0, 3, 4)]),                 # a later change like that is left out
])
def test_meters_no_bar_can_be_counted_in(meters, result):
    song = lead_sheet_song()
    song.time_signatures = meters
    if isinstance(result, str):
        with pytest.raises(UnusableMusic, match=result):
            arrangement_from_song(song, AccompanyConfig())
    else:
        arr = arrangement_from_song(song, AccompanyConfig())
        assert arr.time_signatures == result and list(arr.step_in_bar[:8]) == [0, 1, 2, 3, 4, 5, 0, 1]
