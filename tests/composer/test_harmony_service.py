"""The `harmony` service on Arrangements built by hand (composer.services.harmony.harmony_of)."""
from __future__ import annotations

import json

import pytest
from handmade_arrangements import A4, C3, C4, D4, E4, F4, G3, G4, piece

from composer.errors import ComposerError
from composer.services.harmony import HarmonyConfig, harmony_of

CONFIG = HarmonyConfig(folder="songs", voices=("bass",), steps_per_beat=1)


def song(index: int):
    """Two bars: E over C on the downbeat, F over C on beat 3 (not a chord tone), G over G in bar 2;
    one parallel fifth (C/G to D/A) in every third piece."""
    melody = [E4, D4, F4, E4, G4, A4, G4, F4] if index % 3 else [G4, A4, F4, E4, G4, A4, G4, F4]
    bass = [C3, C3, C3, C3, G3, G3, G3, G3] if index % 3 else [C4, D4, C3, C3, G3, G3, G3, G3]
    return piece(melody, bass, chords=["C", "C", "C", "C", "G", "G", "G7", "N"], name=f"song{index:02}.mid")


def test_a_folder_s_measurements_and_table():
    result = harmony_of([song(i) for i in range(10)], CONFIG)
    assert result.pieces == 10
    assert result.chord_tones["notes"] == 30     # three strong-beat onsets under a chord per piece
    assert result.voice_leading["parallel fifths"]["count"] == 4        # pieces 0, 3, 6, 9
    assert result.voice_leading["parallel fifths"]["mean"] == pytest.approx(4 / 10 / 2)
    assert result.chords["no_chord_share"] == pytest.approx(1 / 8)
    base = result.baselines
    assert set(base["bits"]) == {"melody_note", "bigram", "uniform"}
    assert len(base["scored_on"]) == 1 and not set(base["scored_on"]) & set(base["fitted_on"])
    assert base["labels"] == 8
    text = "\n".join(result.table_lines())
    assert "chord tones on strong beats" in text and "parallel fifths" in text and "chord bigram" in text
    assert "fitted on 9 files, scored on 1 held-out files, 8 labels" in text
    json.loads(json.dumps(result.to_dict(), allow_nan=False))


def test_a_test_folder_scores_the_baselines_on_its_files():
    result = harmony_of([song(i) for i in range(4)], CONFIG, test=[song(10), song(11)], names="other")
    assert len(result.baselines["fitted_on"]) == 4 and len(result.baselines["scored_on"]) == 2
    assert result.baselines["labels"] == 16


def test_one_file_measures_but_skips_the_baselines():
    result = harmony_of([song(1)], CONFIG)
    assert "at least 2 usable files" in result.baselines["skipped"]
    assert any(line.startswith("baselines: not measured") for line in result.table_lines())


def test_no_arrangement_is_an_error():
    with pytest.raises(ComposerError, match="songs: no usable file"):
        harmony_of([], CONFIG)
