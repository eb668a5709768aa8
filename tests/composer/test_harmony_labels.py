"""Chord labels by template matching over sounding pitch classes."""
import numpy as np
import pytest

from composer.music.harmony import NO_CHORD, chord_name, label_many, label_pitches, parse_chord


def name_of(pitches):
    return chord_name(label_pitches({p: 1.0 for p in pitches}))


@pytest.mark.parametrize("pitches, expected", [
    ((60, 64, 67), "C"),
    ((57, 60, 64), "Am"),
    ((55, 59, 62, 65), "G7"),
    ((62, 65, 69, 72), "Dm7"),
    ((60, 64, 67, 71), "Cmaj7"),
    ((59, 62, 65), "Bdim"),
    ((60, 65, 67), "Csus4"),
    ((48, 64, 67, 76), "C"),           # octaves and doublings fold onto pitch classes
    ((64, 72), "C"),                   # a major third: the fifth is what goes missing
    ((48, 55), "C"),                   # an open fifth is C, not a Gsus4 without its D
    ((55, 59, 65), "G7"),              # a seventh chord without its fifth
])
def test_hand_made_chords(pitches, expected):
    assert name_of(pitches) == expected


@pytest.mark.parametrize("pitches", [(60,), (60, 72), (60, 62), (60, 61, 62), (60, 62, 64, 65, 67)])
def test_no_chord_for_single_notes_seconds_clusters_and_runs(pitches):
    assert label_pitches({p: 1.0 for p in pitches}) == NO_CHORD


def test_a_passing_seventh_leaves_the_triad():
    assert chord_name(label_pitches({60: 2.0, 64: 2.0, 67: 2.0, 71: 0.25})) == "C"
    assert chord_name(label_pitches({60: 2.0, 64: 2.0, 67: 2.0, 71: 1.0})) == "C"       # an eighth of 4 voices
    assert chord_name(label_pitches({60: 2.0, 64: 2.0, 67: 2.0, 71: 1.5})) == "Cmaj7"


def test_a_grace_note_does_not_make_a_chord():
    assert label_pitches({60: 4.0, 62: 0.1}) == NO_CHORD


def test_weights_decide_between_overlapping_chords():
    # A-C-E-G: Am7; with the A short it is C with a passing A
    assert chord_name(label_pitches({57: 1.0, 60: 1.0, 64: 1.0, 67: 1.0})) == "Am7"
    assert chord_name(label_pitches({57: 0.2, 60: 2.0, 64: 2.0, 67: 2.0})) == "C"


def test_bass_decides_near_ties():
    # C-E-G-B evenly: the seventh is really there
    assert chord_name(label_pitches({48: 1.0, 52: 1.0, 55: 1.0, 59: 1.0})) == "Cmaj7"
    # G-B-D with a short E on top: G (G6), not Em7
    assert chord_name(label_pitches({43: 2.0, 55: 2.0, 59: 2.0, 62: 2.0, 76: 0.5}, bass=43)) == "G"


def test_bass_breaks_a_tie():
    aug = {60: 1.0, 64: 1.0, 68: 1.0}
    assert chord_name(label_pitches(aug, bass=64)) == "Eaug"
    assert chord_name(label_pitches(aug, bass=68)) == "Abaug"


def test_array_input_and_many_rows_agree_with_one_at_a_time():
    rows = np.zeros((3, 12))
    rows[0, [0, 4, 7]] = 1
    rows[1, [9, 0, 4]] = 1
    rows[2, 2] = 1
    assert list(label_many(rows)) == [parse_chord("C"), parse_chord("Am"), NO_CHORD]
    assert [label_pitches(r) for r in rows] == list(label_many(rows))
    assert label_pitches(np.zeros(12)) == NO_CHORD


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match="12 values"):
        label_pitches([1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        label_pitches({60: -1.0, 64: 1.0})
