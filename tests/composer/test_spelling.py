"""Note names spelled for the key, scale names for people, and the meter parser
the CLI and the app share (composer.music)."""
from __future__ import annotations

import pytest

from composer.errors import ComposerError
from composer.music.scales import KEY_NAMES, SCALES, parse_key, parse_scale, scale_title, spell, uses_flats
from composer.music.song import parse_time_signature


@pytest.mark.parametrize("key", ["F", "Bb", "Eb", "Ab", "Db", "Gb"])
def test_flat_major_keys_spell_black_keys_with_flats(key):
    assert uses_flats(key, "major")
    assert [spell(p, key, "major") for p in (61, 63, 66, 68, 70)] == ["Db4", "Eb4", "Gb4", "Ab4", "Bb4"]


@pytest.mark.parametrize("key", ["C", "G", "D", "A", "E", "B", "F#", "C#"])
def test_sharp_major_keys_spell_black_keys_with_sharps(key):
    assert not uses_flats(key, "major")
    assert [spell(p, key, "major") for p in (61, 63, 66, 68, 70)] == ["C#4", "D#4", "F#4", "G#4", "A#4"]


@pytest.mark.parametrize(("key", "scale", "flats"), [
    ("D", "minor", True), ("G", "minor", True), ("C", "minor", True), ("F", "minor", True),
    ("A", "minor", False), ("E", "minor", False), ("B", "minor", False),
    ("G", "dorian", True), ("D", "dorian", False), ("C", "mixolydian", True), ("G", "mixolydian", False),
    ("E", "phrygian", False), ("G", "phrygian", True), ("F", "lydian", False), ("C", "locrian", True),
    ("D", "harmonic_minor", True), ("D", "harmonic minor", True), ("D", "aeolian", True),
    ("D", "blues", True), ("A", "minor_pentatonic", False), ("F", None, True), ("D", None, False),
])
def test_relative_minors_and_modes_follow_their_major(key, scale, flats):
    assert uses_flats(key, scale) is flats


def test_no_key_spells_sharps_and_names_every_octave():
    assert spell(60) == "C4" and spell(61) == "C#4" and spell(0) == "C-1" and spell(127) == "G9"
    assert spell(70, "Bb") == "Bb4" and spell(70, "bb") == "Bb4" and spell(70, "B♭") == "Bb4"


def test_the_key_list_spells_each_tonic_once_as_the_roll_does():
    assert [parse_key(k) for k in KEY_NAMES] == list(range(12))
    for key in KEY_NAMES:        # the tonic is named in the roll as in the list
        assert spell(60 + parse_key(key), key, "major")[:-1] == key
        assert spell(60 + parse_key(key), key, "minor")[:-1] == key


def test_scale_titles_are_words_that_still_parse():
    assert scale_title("harmonic_minor") == "harmonic minor"
    assert scale_title("major_pentatonic") == "major pentatonic"
    for name in SCALES:
        assert "_" not in scale_title(name) and parse_scale(scale_title(name)) == SCALES[name]


def test_time_signatures_parse_or_name_the_bad_text():
    assert parse_time_signature("6/8") == (6, 8) and parse_time_signature(" 7/8 ") == (7, 8)
    for bad in ("abc", "6/", "6-8", "6/8/2", ""):
        with pytest.raises(ComposerError, match="time signature must look like 6/8, got"):
            parse_time_signature(bad)
