"""`composer harmonize`, `generate --accompany` and the harmonise service."""
from __future__ import annotations

import pytest
from tinyharmony import tiny_harmonizer_file
from tinymodels import scale_tune

from benchmarks.midi_factory import drums_only, write_song
from composer.cli.main import main
from composer.model.modelfile import load_model
from composer.music import harmony
from composer.music.midifile import read_midi
from composer.music.song import Note, Song, Track, melody_song
from composer.services.harmonize import HarmonizeRequest, harmonize


@pytest.fixture(scope="module")
def harmonizer(tmp_path_factory):
    return tiny_harmonizer_file(tmp_path_factory.mktemp("h") / "satb.model")


@pytest.fixture
def tune(tmp_path):
    notes = scale_tune() + [Note(n.start + 8, n.end + 8, n.pitch) for n in scale_tune(5)]
    return write_song(melody_song(notes, tempo=96.0), tmp_path / "tune.mid")


def error_line(capsys, *args) -> str:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_harmonize_keeps_the_melody_exactly_and_adds_the_parts(harmonizer, tune, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["harmonize", str(harmonizer), str(tune), "--count", "3", "--out", str(out), "--seed", "4",
                 "--quiet"]) == 0
    files = sorted(out.glob("*.mid"))
    assert [f.name for f in files] == [f"tune-harmonized-0{i}.mid" for i in (1, 2, 3)]
    original = read_midi(tune)
    for path in files:
        song = read_midi(path)
        assert song.tracks[0].notes == original.tracks[0].notes
        assert [t.name for t in song.tracks[1:]] == ["Alto", "Tenor", "Bass"]
        assert all(t.notes for t in song.tracks[1:])
    assert "seed 4" in capsys.readouterr().err


def test_the_same_seed_gives_the_same_parts_and_the_key_holds(harmonizer, tune):
    loaded, song = load_model(harmonizer), read_midi(tune)
    request = HarmonizeRequest(count=2, seed=9, key="D", temperature=1.5)
    first, again = harmonize(loaded, song, request), harmonize(loaded, song, request)
    assert [a.voices.tolist() for a in first.arrangements] == [a.voices.tolist() for a in again.arrangements]
    d_major = {2, 4, 6, 7, 9, 11, 1}
    for arr, out in zip(first.arrangements, first.songs):
        assert {n.pitch % 12 for t in out.tracks[1:] for n in t.notes} <= d_major
        assert {harmony.root_and_quality(int(c))[0] for c in arr.chords if c} <= d_major


def test_a_song_without_a_melody_is_refused_and_nothing_is_written(harmonizer, tmp_path, capsys):
    drums = write_song(drums_only(), tmp_path / "drums.mid")
    line = error_line(capsys, "harmonize", harmonizer, drums, "--out", tmp_path / "out", "--quiet")
    assert "no melody to harmonise: drums only" in line
    assert not (tmp_path / "out").exists()


def test_a_melody_model_is_refused_by_harmonize(tiny_melody_model, tune, tmp_path, capsys):
    line = error_line(capsys, "harmonize", tiny_melody_model, tune, "--out", tmp_path / "out", "--quiet")
    assert "is a melody model: it writes melodies; harmonising needs an accompaniment model" in line
    assert "--objective accompany" in line and not (tmp_path / "out").exists()


def test_an_accompaniment_model_is_refused_as_the_melody_model(harmonizer, tmp_path, capsys):
    line = error_line(capsys, "generate", "--model", harmonizer, "--out", tmp_path / "out", "--quiet")
    assert "is an accompaniment model: it harmonises a melody" in line and "needs a melody model" in line
    assert not (tmp_path / "out").exists()


def test_generate_accompany_refuses_a_melody_model_before_generating(tiny_melody_model, tmp_path, capsys):
    line = error_line(capsys, "generate", "--model", tiny_melody_model, "--accompany", tiny_melody_model,
                      "--out", tmp_path / "out", "--quiet")
    assert "harmonising needs an accompaniment model" in line and not (tmp_path / "out").exists()


def test_generate_accompany_writes_each_melody_with_its_parts(tiny_melody_model, harmonizer, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--model", str(tiny_melody_model), "--accompany", str(harmonizer), "--count", "2",
                 "--bars", "4", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    plain = tmp_path / "plain"
    assert main(["generate", "--model", str(tiny_melody_model), "--count", "2", "--bars", "4", "--seed", "1",
                 "--out", str(plain), "--quiet"]) == 0
    for with_parts, alone in zip(sorted(out.glob("*.mid")), sorted(plain.glob("*.mid"))):
        song, melody = read_midi(with_parts), read_midi(alone)
        assert song.tracks[0].notes == melody.tracks[0].notes
        assert len(song.tracks) == 4


def test_an_arrangement_is_harmonised_from_its_melody_row(harmonizer):
    from tinyharmony import make_arrangement

    from composer.representations.accompany.grid import AccompanyConfig
    arr = make_arrangement(AccompanyConfig(voices=("alto", "tenor", "bass")), bars=2)
    result = harmonize(load_model(harmonizer), arr, HarmonizeRequest(count=1, seed=0))
    assert (result.arrangements[0].melody == arr.melody).all() and result.melody_track is None
    assert isinstance(result.songs[0], Song) and len(result.songs[0].tracks) == 4


def test_a_track_that_does_not_exist_is_named(harmonizer):
    song = Song(tracks=[Track(notes=scale_tune())])
    with pytest.raises(Exception, match="track 3 does not exist"):
        harmonize(load_model(harmonizer), song, HarmonizeRequest(track=3))


def test_parallels_are_avoided_when_the_training_folder_avoided_them(harmonizer):
    """--parallels auto follows the folder's rate stored in the model file; avoid/allow override it."""
    from composer.services.harmonize import PARALLELS_RARE, avoids_parallels
    loaded = load_model(harmonizer)
    auto = HarmonizeRequest()
    loaded.training["folder_style"] = {"parallels_per_bar": PARALLELS_RARE / 2}       # a chorale folder
    assert avoids_parallels(loaded, auto) and not avoids_parallels(loaded, HarmonizeRequest(no_parallels=False))
    loaded.training["folder_style"] = {"parallels_per_bar": 1.5}                      # power chords
    assert not avoids_parallels(loaded, auto) and avoids_parallels(loaded, HarmonizeRequest(no_parallels=True))
    loaded.training.pop("folder_style")                                               # a model made before
    assert not avoids_parallels(loaded, auto)



def test_the_shipped_bach_harmoniser_writes_three_voices_without_parallels(tune, tmp_path):
    """`harmonize default`: the model in composer/assets, trained on chorales that avoid parallels."""
    from composer.analysis.harmony_stats import parallels_per_bar
    from composer.assets import HARMONIZER_MODEL, asset_path
    from composer.services.harmonize import avoids_parallels
    loaded = load_model(asset_path(HARMONIZER_MODEL))
    assert loaded.is_accompany and avoids_parallels(loaded, HarmonizeRequest())
    assert main(["harmonize", "default", str(tune), "--count", "2", "--seed", "3", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    written = sorted((tmp_path / "o").glob("*.mid"))
    assert len(written) == 2
    song = read_midi(written[0])
    assert len(song.tracks) == 4 and all(t.notes for t in song.tracks)
    result = harmonize(loaded, read_midi(tune), HarmonizeRequest(count=2, seed=3))
    fifths, octaves = parallels_per_bar(result.arrangements, loaded.tokenizer.config)
    assert fifths.count == octaves.count == 0
