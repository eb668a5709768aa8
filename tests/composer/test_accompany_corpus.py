"""A folder of multi-track files as Arrangements, through the ingestion (workers, cache, report)."""
import numpy as np
import pytest

from composer.corpus.accompany import require_arrangements, scan_arrangements
from composer.errors import ComposerError
from composer.music.midifile import song_to_bytes, write_midi
from composer.music.song import Note, Song, Track
from composer.representations.accompany.codec import ArrangementCodec, ExtractionConfig, deserialise, serialise
from composer.representations.accompany.extract import arrangement_from_song
from composer.representations.accompany.grid import AccompanyConfig
from tests.accompany_songs import SATB, chorale_song, lead_sheet_song


def tune(n=8) -> Track:
    return Track([Note(k, k + 1, 60 + k % 5) for k in range(n)], name="Tune")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "music"
    (root / "chorales").mkdir(parents=True)
    write_midi(chorale_song(), root / "chorales/c1.mid")
    write_midi(lead_sheet_song(), root / "lead.mid")
    write_midi(Song(tracks=[tune()]), root / "solo.mid")
    write_midi(Song(tracks=[tune(), Track([Note(0, 1, 36)], is_drum=True)]), root / "with_drums.mid")
    data = song_to_bytes(lead_sheet_song((3, 4)))
    (root / "damaged.mid").write_bytes(data[:len(data) * 3 // 4])
    (root / "garbage.mid").write_bytes(b"MThd not really")
    return root


def scan(root, **kwargs):
    return scan_arrangements(root, SATB, cache_dir=root.parent / "cache", workers=1, **kwargs)


def test_files_with_accompaniment_are_used_the_others_skipped_with_the_reason(folder):
    arrangements, report = scan(folder)
    status = {f.path: (f.status, f.reason) for f in report.files}
    assert status["solo.mid"] == ("skipped", "no accompaniment: one melody line only")
    assert status["with_drums.mid"] == ("skipped", "no accompaniment: one melody line only")
    assert status["garbage.mid"][0] == "skipped" and status["garbage.mid"][1].startswith("corrupt")
    assert [a.name for a in arrangements] == ["chorales/c1.mid", "damaged.mid", "lead.mid"]
    assert report.representation == "accompany" and len(report.files) == 6
    damaged = next(f for f in report.files if f.path == "damaged.mid")
    assert damaged.status == "used" and damaged.damage
    assert any("no accompaniment" in line for line in report.summary_lines())
    assert "2 no accompaniment" in report.summary_lines()[1]


def test_arrangements_are_those_of_the_extraction(folder):
    arrangements, report = scan(folder)
    chorale = arrangements[0]
    direct = arrangement_from_song(chorale_song(), SATB)
    for field in ("melody", "voices", "chords", "step_in_bar"):
        assert np.array_equal(getattr(chorale, field), getattr(direct, field)), field
    assert chorale.voice_names == SATB.voices and chorale.tempo == pytest.approx(90.0)
    assert chorale.source.startswith("melody: track 0 'Soprano'")
    used = {f.path: f for f in report.used()}
    assert used["chorales/c1.mid"].n_notes == 4 * 8


def test_second_scan_comes_from_the_cache_with_the_same_arrangements(folder):
    first, _ = scan(folder)
    again, report = scan(folder)
    assert report.parsed == 0 and report.cache_hits == 6
    assert all(np.array_equal(a.voices, b.voices) and np.array_equal(a.chords, b.chords)
               for a, b in zip(first, again, strict=True))
    other, report = scan_arrangements(folder, AccompanyConfig(voices=("bass",)), cache_dir=folder.parent / "cache",
                                      workers=1)
    assert report.parsed == 6 and other[0].voices.shape[0] == 1      # another config misses the cache


def test_strict_midi_skips_the_damaged_file(folder):
    arrangements, report = scan(folder, strict_midi=True)
    assert "damaged.mid" not in [a.name for a in arrangements]
    assert next(f for f in report.files if f.path == "damaged.mid").reason.startswith("corrupt")


def test_a_folder_without_accompaniment_is_one_error(tmp_path):
    root = tmp_path / "solo"
    root.mkdir()
    write_midi(Song(tracks=[tune()]), root / "a.mid")
    write_midi(Song(tracks=[tune(3), Track([Note(0, 1, 48)])]), root / "b.mid")
    arrangements, report = scan(root)
    with pytest.raises(ComposerError, match=r"no file with accompaniment \(2 file\(s\) skipped: "
                                            r"1 no accompaniment, 1 too short\)"):
        require_arrangements(arrangements, report)


def test_serialised_arrangement_round_trips_and_refuses_other_ints():
    arr = arrangement_from_song(lead_sheet_song((3, 4)), AccompanyConfig(voices=("chords", "bass")))
    back = deserialise(serialise(arr), arr.voice_names)
    for field in ("melody", "voices", "chords", "step_in_bar"):
        assert np.array_equal(getattr(back, field), getattr(arr, field)), field
    assert back.time_signatures == [(0.0, 3, 4)] and back.tempo == arr.tempo
    with pytest.raises(ValueError, match="not a serialised Arrangement"):
        deserialise([1, 2, 3], ())
    with pytest.raises(ValueError, match="wrong length"):
        deserialise(serialise(arr)[:-5] + [2], arr.voice_names)


def test_codec_config_keys_the_cache_on_the_melody_policy_too():
    plain = ArrangementCodec().config.to_dict()
    picked = ArrangementCodec(ExtractionConfig(track="Flute")).config.to_dict()
    assert plain != picked and plain["accompany"]["voices"] == ["bass"]
