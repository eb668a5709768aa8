"""training.corpus: music21 corpus -> MIDI folders, with bar lines where the tunes have them."""
from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import Cancelled
from composer.music.midifile import read_midi
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import LISTED_METERS
from training.corpus import (
    RESERVED_FOLDERS,
    ReservedCorpusError,
    convert_corpus,
    convert_sources,
    corpus_files,
    layout_measures,
    music21_corpus_dir,
    tune_sources,
)

TOK = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS))    # the meters the converter renotates into


def names(tokens) -> list[str]:
    return [TOK.vocab[t] for t in tokens]


def abc_book(tmp_path: Path, tunes: list[str], name: str = "book.abc") -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("% a test book\n\n" + "\n\n".join(tunes) + "\n")
    return path


def convert(tmp_path: Path, path: Path, **kwargs):
    sources = tune_sources([path], root=path.parent)
    return convert_sources(sources, tmp_path / "out", workers=1, **kwargs)


PICKUP_TUNE = "X:1\nT:Pickup Tune\nM:4/4\nL:1/4\nQ:1/4=90\nK:C\nG | c d e f | g a b c' | c' b a g | f e d c |]"


# ---- layout of bars --------------------------------------------------------------
def test_layout_right_aligns_a_pickup():
    assert layout_measures([(1.0, 4.0), (4.0, 4.0), (4.0, 4.0)]) == ([3.0, 4.0, 8.0], 0)


def test_layout_joins_split_bars_at_a_repeat():
    # pickup | 3 bars | 3-beat bar || 1-beat pickup | bar
    shape = [(1.0, 4.0), (4.0, 4.0), (4.0, 4.0), (3.0, 4.0), (1.0, 4.0), (4.0, 4.0)]
    assert layout_measures(shape) == ([3.0, 4.0, 8.0, 12.0, 15.0, 16.0], 0)


def test_layout_moves_a_bar_after_an_overfull_one_to_the_bar_line():
    assert layout_measures([(4.0, 4.0), (4.5, 4.0), (4.0, 4.0)]) == ([0.0, 4.0, 12.0], 1)


def test_layout_keeps_a_short_last_bar_and_restarts_the_grid_at_a_meter_change():
    starts, moved = layout_measures([(3.0, 3.0), (3.0, 3.0), (4.0, 4.0), (4.0, 4.0), (2.0, 4.0)])
    assert starts == [0.0, 3.0, 6.0, 10.0, 14.0] and moved == 0
    starts, moved = layout_measures([(3.0, 3.0), (1.0, 3.0), (4.0, 4.0)])     # a bar cut short by the change
    assert starts == [0.0, 3.0, 6.0] and moved == 0


# ---- one tune ---------------------------------------------------------------------
def test_pickup_ends_on_a_bar_line_and_meter_and_tempo_are_written(tmp_path):
    result = convert(tmp_path, abc_book(tmp_path, [PICKUP_TUNE]))
    assert result.written == ["book.mid"] and result.skipped == [] and result.pickups == 1
    song = read_midi(tmp_path / "out" / "book.mid")
    assert song.time_signature == (4, 4) and song.tempo == pytest.approx(90.0, abs=0.01)
    assert song.notes[0].start == 3.0
    tokens = names(TOK.encode(song).tokens)
    # bar 1: three beats of rest, then the pickup G4 (one beat = 4 steps); bar 2 starts with C5
    assert tokens[:9] == ["<bos>", "ts:4/4", "bar", "rest", "dur:12", "note:67", "dur:4", "bar", "note:72"]
    assert tokens.count("bar") == 5


def test_repeats_are_expanded_with_their_endings(tmp_path):
    tune = "X:1\nT:Endings\nM:2/4\nL:1/4\nK:C\n|: c d | e f |1 g a :|2 b c' |]"
    expanded = convert(tmp_path, abc_book(tmp_path, [tune]))
    pitches = [n.pitch for n in read_midi(tmp_path / "out" / "book.mid").notes]
    assert expanded.not_expanded == []
    assert pitches == [72, 74, 76, 77, 79, 81, 72, 74, 76, 77, 83, 84]
    plain = convert(tmp_path, abc_book(tmp_path, [tune]), expand_repeats=False, force=True)
    assert plain.written == ["book.mid"]
    assert [n.pitch for n in read_midi(tmp_path / "out" / "book.mid").notes] == [72, 74, 76, 77, 79, 81, 83, 84]


def test_ties_merge_and_grace_notes_and_chord_symbols_are_dropped(tmp_path):
    tune = 'X:1\nT:Ties\nM:3/4\nL:1/4\nK:G\n"G" {a}B2- B | "D" A3 | G3 |]'
    convert(tmp_path, abc_book(tmp_path, [tune]))
    notes = read_midi(tmp_path / "out" / "book.mid").notes
    assert [(n.start, n.end, n.pitch) for n in notes] == [(0.0, 3.0, 71), (3.0, 6.0, 69), (6.0, 9.0, 67)]


# ---- books, names, failures --------------------------------------------------------------
def test_a_book_is_split_into_tunes_with_stable_names_and_bad_tunes_are_listed(tmp_path):
    bad = "X:3\nT:Broken\nM:4/4\nL:1/4\nK:C\n"       # no music at all
    path = abc_book(tmp_path, [PICKUP_TUNE, PICKUP_TUNE.replace("X:1\nT:Pickup Tune", "X:2\nT:Second!"), bad])
    result = convert(tmp_path, path)
    assert result.written == ["book_0001_pickup-tune.mid", "book_0002_second.mid"]
    assert [source for source, _ in result.skipped] == ["book.abc#3"]
    assert result.skipped[0][1]                                  # a reason is given
    assert result.meters == {"4/4": 2}


def test_files_already_there_are_kept_unless_forced(tmp_path):
    path = abc_book(tmp_path, [PICKUP_TUNE])
    convert(tmp_path, path)
    again = convert(tmp_path, path)
    assert again.written == [] and again.reused == ["book.mid"] and again.meters == {"4/4": 1}
    assert convert(tmp_path, path, force=True).written == ["book.mid"]


def test_should_stop_cancels(tmp_path):
    with pytest.raises(Cancelled):
        convert(tmp_path, abc_book(tmp_path, [PICKUP_TUNE]), should_stop=lambda: True)


def test_two_workers_write_the_same_files_as_one(tmp_path):
    tunes = [PICKUP_TUNE.replace("X:1\nT:Pickup Tune", f"X:{k}\nT:Tune {k}").replace("G |", "AG |" if k % 2 else "G |")
             for k in range(1, 11)]
    path = abc_book(tmp_path, tunes)
    sources = tune_sources([path], root=path.parent)
    one = convert_sources(sources, tmp_path / "one", workers=1)
    two = convert_sources(sources, tmp_path / "two", workers=2)
    assert sorted(one.written) == sorted(two.written) and len(one.written) == 10
    for name in one.written:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


# ---- held-out folders ------------------------------------------------------------------------
@pytest.mark.parametrize("folder", RESERVED_FOLDERS)
def test_reserved_folders_are_refused_by_name(folder, tmp_path):
    with pytest.raises(ReservedCorpusError, match="reserved"):
        convert_corpus(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("folder", RESERVED_FOLDERS)
def test_reserved_folders_are_refused_by_path(folder, tmp_path):
    inside = music21_corpus_dir() / folder / "any.abc"        # refused by its path: nothing there is read
    with pytest.raises(ReservedCorpusError):
        tune_sources([inside])
    copied = abc_book(tmp_path / folder, [PICKUP_TUNE])        # same name anywhere else is refused too
    with pytest.raises(ReservedCorpusError):
        convert(tmp_path, copied)


def test_folk_collection_lists_the_books_and_none_of_the_reserved_folders():
    files = corpus_files("folk")
    folders = {f.parent.name for f in files}
    assert folders == {"oneills1850", "ryansMammoth", "airdsAirs", "miscFolk"}
    assert not any(r.lower() in str(f).lower() for f in files for r in RESERVED_FOLDERS)
    assert len(tune_sources(files, root=music21_corpus_dir())) > 1000


# ---- the real corpus -------------------------------------------------------------------------
def test_a_real_oneill_tune_with_a_half_beat_pickup(tmp_path):
    root = music21_corpus_dir()
    sources = [s for s in tune_sources(corpus_files("oneills1850"), root=root)
               if s.source == "oneills1850/0001-0050.abc#3"]          # The Little Heathy Hill: "B/2-c/2 | d2 ..."
    result = convert_sources(sources, tmp_path, workers=1)
    assert result.written == ["oneills1850_0001-0050_0003_the-little-heathy-hill.mid"]
    tokens = names(TOK.encode(read_midi(tmp_path / result.written[0])).tokens)
    assert tokens[:10] == ["<bos>", "ts:4/4", "bar", "rest", "dur:14", "note:70", "dur:1", "note:72", "dur:1", "bar"]
    assert tokens[10] == "note:74"                                       # d on the downbeat of bar 2


def test_a_bach_chorale_keeps_the_four_voices_and_its_pickup(tmp_path):
    root = music21_corpus_dir()
    sources = [s for s in tune_sources(corpus_files("bach"), root=root) if s.source == "bach/bwv1.6.mxl"]
    result = convert_sources(sources, tmp_path, workers=1)
    song = read_midi(tmp_path / "bach_bwv1.6.mid")
    assert result.written == ["bach_bwv1.6.mid"]
    assert [t.name for t in song.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]   # the horn doubling is left out
    assert min(n.start for n in song.notes) == 3.0 and song.time_signature == (4, 4)


def test_a_slow_repeat_expansion_is_abandoned():
    import time

    from training.corpus_score import ExpansionTimeout, _time_limit
    with pytest.raises(ExpansionTimeout):
        with _time_limit(0.05):
            time.sleep(2.0)
    with _time_limit(5.0):          # the timer is cleared when the block ends in time
        pass
    time.sleep(0.01)


def test_meters_the_melody_model_lacks_are_written_with_shorter_notes(tmp_path):
    tune = "X:1\nT:Minim Air\nM:3/2\nL:1/2\nQ:1/2=60\nK:G\nG A B | c B A | G3 |]"
    result = convert(tmp_path, abc_book(tmp_path, [tune]))
    song = read_midi(tmp_path / "out" / "book.mid")
    assert result.renotated == {"3/2 -> 3/4": 1} and result.meters == {"3/4": 1}
    assert song.time_signature == (3, 4) and song.tempo == pytest.approx(60.0, abs=0.01)   # Q:1/2=60 -> 60 quarters
    assert [(n.start, n.end) for n in song.notes][:3] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert song.seconds_at(song.end_beat) == pytest.approx(9.0)      # sounds as written: 9 minims at 60 a minute
    kept = convert(tmp_path, abc_book(tmp_path, [tune.replace("M:3/2", "M:2/2").replace("G3", "G2")]), force=True)
    assert kept.renotated == {} and read_midi(tmp_path / "out" / "book.mid").time_signature == (2, 2)


def test_a_chorale_in_two_formats_is_converted_once():
    files = [f for f in corpus_files("bach") if f.stem == "bwv277"]
    assert [f.suffix for f in files] == [".mxl"]
    assert len({f.with_suffix("") for f in corpus_files("bach")}) == len(corpus_files("bach")) == 410


def test_two_tunes_with_one_output_name_are_refused(tmp_path):
    path = abc_book(tmp_path, [PICKUP_TUNE])
    sources = tune_sources([path], root=path.parent) * 2
    with pytest.raises(ValueError, match="book.mid"):
        convert_sources(sources, tmp_path / "out", workers=1)


def test_a_grace_note_in_a_triplet_does_not_make_an_impossible_meter(tmp_path):
    # O'Neill 0301-0350 #17: music21 reads "((3{d}cAG)" with a 1/6 time signature
    tune = "X:1\nT:Triplet\nM:3/4\nL:1/8\nK:G\nG>A | B2 c2 B2 | B2 d2 ((3{d}cAG) | A2 G2 G2 | G6 |]"
    result = convert(tmp_path, abc_book(tmp_path, [tune]))
    assert result.skipped == [] and result.meters == {"3/4": 1}
    song = read_midi(tmp_path / "out" / "book.mid")
    assert [(n.start, n.pitch) for n in song.notes][:2] == [(2.0, 67), (2.75, 69)]   # one-beat pickup


def test_short_measures_inside_a_real_tune_do_not_change_the_meter(tmp_path):
    # O'Neill #9 "I Could But I Wont": music21 marks its split bars at "||" as 1/4 meters
    root = music21_corpus_dir()
    sources = [s for s in tune_sources(corpus_files("oneills1850"), root=root)
               if s.source == "oneills1850/0001-0050.abc#9"]
    result = convert_sources(sources, tmp_path, workers=1)
    song = read_midi(tmp_path / result.written[0])
    assert song.time_signatures == [(0.0, 2, 4)]
    tokens = TOK.encode(song).tokens
    assert TOK.count_notes(tokens) >= 60                       # was cut to 7 notes at the first split bar
    assert names(tokens)[:5] == ["<bos>", "ts:2/4", "bar", "rest", "dur:7"]     # "D/ |": a sixteenth pickup
