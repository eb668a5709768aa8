"""Chord tones on strong beats, parallel fifths/octaves, voice crossings and the
chord baselines (composer.analysis.harmony_stats) on Arrangements built by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from handmade_arrangements import A4, B4, C3, C4, C5, CONFIG, D3, D4, D5, E4, E5, F4, F5, G3, G4, G5, H, R, piece

from composer.analysis.harmony_baselines import CountModel, fit_baselines
from composer.analysis.harmony_stats import (
    baseline_bits,
    chord_histogram,
    chord_tone_share,
    crossings_per_bar,
    parallels_per_bar,
    strong_steps,
)
from composer.representations.accompany.grid import AccompanyConfig


def parallels(*parts) -> tuple[int, int]:
    fifths, octaves = parallels_per_bar([piece(*parts)], CONFIG)
    return fifths.count, octaves.count




# ---- parallels ------------------------------------------------------------------------------
@pytest.mark.parametrize("upper, lower, expected", [
    ([G4, A4], [C4, D4], (1, 0)),               # fifth to fifth, both up
    ([A4, G4], [D4, C4], (1, 0)),               # both down
    ([G5, A4 + 12], [C4, D4], (1, 0)),          # compound fifths (a twelfth), similar motion
    ([C5, D5], [C4, D4], (0, 1)),               # octaves
    ([C4, D4], [C4, D4], (0, 1)),               # unisons
    ([C4 + 24, D4 + 12], [C4, D4 - 12], (0, 1)),  # double octave to octave... both down
])
def test_similar_motion_between_perfect_intervals_counts(upper, lower, expected):
    assert parallels(upper, lower) == expected


@pytest.mark.parametrize("upper, lower", [
    ([C5, G5], [C4, G3]),       # octave to double octave in contrary motion
    ([C4, D4], [C4, D3]),       # unison to octave in contrary motion
    ([A4, D5], [C4, D4]),       # a sixth into an octave, both up (a hidden octave, not a parallel)
    ([G4, D5], [C4, D4]),       # a fifth to an octave, both up
    ([G4, G4], [C4, C3]),       # oblique: the upper re-strikes G4, the lower drops an octave (fifth to twelfth)
    ([G4, H], [C4, C3]),        # oblique: the upper holds
    ([G4, G4], [C4, C4]),       # a repeated fifth
    ([G4, R, A4], [C4, R, D4]),  # a rest between the fifths
    ([G4, R, A4], [C4, D4, D4]),
])
def test_what_must_not_count(upper, lower):
    assert parallels(upper, lower) == (0, 0)


def test_four_parts_count_every_pair():
    # S/B: double octaves C3-C5 to D3-D5; T/B: fifths C3-G3 to D3-A3; the other pairs move between
    # sixths, fourths and tenths
    s, a, t, b = [C5, D5], [E4, F4], [G3, G3 + 2], [C3, D3]
    assert parallels(s, a, t, b) == (1, 1)


def test_per_bar_is_the_mean_and_sd_over_pieces():
    one = piece([G4, A4] + [H] * 6, [C4, D4] + [H] * 6)         # one fifth in 2 bars
    two = piece([C5, D5, E5, F5], [C4, D4, E4, F4])             # three octaves in 1 bar
    fifths, octaves = parallels_per_bar([one, two], CONFIG)
    assert (fifths.count, fifths.bars, fifths.pieces) == (1, 3, 2)
    assert fifths.mean == pytest.approx(0.25) and fifths.sd == pytest.approx(np.std([0.5, 0.0], ddof=1))
    assert octaves.mean == pytest.approx(1.5) and octaves.sd == pytest.approx(np.std([0.0, 3.0], ddof=1))


def test_a_chord_row_is_not_a_line():
    arr = piece([G4, A4], [C4, D4], names=("chords",))
    fifths, _ = parallels_per_bar([arr], AccompanyConfig(steps_per_beat=1, voices=("chords",)))
    assert fifths.count == 0


# ---- crossings -------------------------------------------------------------------------------
@pytest.mark.parametrize("upper, lower, expected", [
    ([C5, C4, C4, C5], [E4, E4, E4, E4], 1),        # below for two steps: one crossing
    ([C4, C5, C4, C5], [E4, E4, E4, E4], 2),        # crossed, back, crossed again
    ([C4, R, C4, C5], [E4, E4, E4, E4], 1),         # a rest inside a crossing does not end it
    ([C4, E4, C4, C5], [E4, E4, E4, E4], 1),        # nor does a unison
    ([E4, E4, E4, E4], [E4, C4, E4, C4], 0),        # unisons are not crossings
    ([C5, D5, E5, C5], [C4, R, R, C4], 0),
])
def test_crossings_two_parts(upper, lower, expected):
    assert crossings_per_bar([piece(upper, lower)], CONFIG).count == expected


def test_crossings_four_parts_count_each_pair_once():
    s, a, t, b = [C5, C5, C5, C5], [E4, C4, C4, E4], [G3, D4, D4, G3], [C3, C3, C3, C3]   # alto under tenor
    result = crossings_per_bar([piece(s, a, t, b)], CONFIG)
    assert (result.count, result.mean) == (1, 1.0)


# ---- chord tones on strong beats -------------------------------------------------------------
def test_chord_tone_share_on_downbeats_and_the_middle_of_4_4():
    #        beat 1   2     3      4  | 1       2     3    4
    melody = [E4, D4, F4, G4, H, A4, B4, C5]
    chords = ["C", "C", "C", "C", "G", "G", "N", "N"]
    arr = piece(melody, [C3] * 8, chords=chords)
    assert chord_tone_share([arr], CONFIG) == pytest.approx(0.5)          # E on C: yes; F on C: no; bar 2: held; N
    assert chord_tone_share([arr], CONFIG, middle=False) == pytest.approx(1.0)


def test_three_four_has_no_middle_strong_beat():
    arr = piece([E4, D4, G4, F4, G4, G4], [C3] * 6, chords=["C"] * 6, meter=(3, 4))   # E on 1, F on 1
    assert strong_steps(arr).tolist() == [0, 3]
    assert chord_tone_share([arr], CONFIG) == pytest.approx(0.5)


def test_no_qualifying_note_is_nan():
    arr = piece([R, E4, E4, E4], [C3] * 4, chords=["C"] * 4)
    assert math.isnan(chord_tone_share([arr], CONFIG))


# ---- the folder's chords and the baselines ---------------------------------------------------
def test_chord_histogram():
    arr = piece([C4] * 8, [C3] * 8, chords=["C", "C", "C", "Am", "N", "N", "G7", "C"])
    hist = chord_histogram([arr])
    assert hist["beats"] == 8 and hist["no_chord_share"] == pytest.approx(0.25) and hist["distinct"] == 3
    assert hist["top"][0] == ("C", pytest.approx(4 / 6)) and {n for n, _ in hist["top"]} == {"C", "Am", "G7"}


def test_count_model_add_k_by_hand():
    model = CountModel(1).fit([(np.zeros(4, dtype=np.int64), np.array([1, 1, 1, 2]))])
    model.k = 1.0
    assert model.bits(np.array([0]), np.array([1])) == pytest.approx(-math.log2(4 / 101))
    assert model.bits(np.array([0]), np.array([50])) == pytest.approx(-math.log2(1 / 101))   # never seen


def test_baselines_find_what_predicts_the_chord():
    rng = np.random.default_rng(0)
    by_note = {C4: "C", D4: "G", E4: "C", F4: "F", G4: "C", A4: "F", B4: "G"}

    def tune(length):
        notes = [int(n) for n in rng.choice(list(by_note), size=length)]
        return piece(notes, [C3] * length, chords=[by_note[n] for n in notes])

    train, test = [tune(64) for _ in range(6)], [tune(32) for _ in range(2)]
    bits = baseline_bits(train, test, CONFIG)
    assert set(bits) == {"melody_note", "bigram"}
    assert bits["melody_note"] < 0.1 < 1.0 < bits["bigram"] < math.log2(97)
    assert fit_baselines(train, CONFIG)["melody_note"].k == 0.001        # deterministic data: least smoothing


def test_the_bigram_learns_a_progression_and_no_label_is_impossible():
    cycle = ["C", "Am", "F", "G"] * 8
    train = [piece([C4] * 32, [C3] * 32, chords=cycle)]
    test = [piece([C4] * 8, [C3] * 8, chords=["C", "Am", "F", "G", "C", "Am", "F", "Bb"])]   # Bb never seen
    bits = baseline_bits(train, test, CONFIG)
    assert math.isfinite(bits["bigram"]) and math.isfinite(bits["melody_note"])
    assert bits["bigram"] < bits["melody_note"]
