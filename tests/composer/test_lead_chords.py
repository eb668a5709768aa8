"""A melody over a chord progression (generate --chords): parsing, the chord
rule of melody sampling, the Chords track, and the checks of a request."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tinymodels import tiny_model_file

from composer.analysis.copymeter import generated_notes
from composer.analysis.lead import chord_tone_counts, progression_key
from composer.cli.main import main
from composer.errors import ComposerError, ConstraintError
from composer.model.modelfile import load_model
from composer.music.harmony import NO_CHORD, chord_tones, parse_chord
from composer.music.midifile import read_midi
from composer.music.progression import beat_quarters, beats_in_bar, parse_progression
from composer.music.scales import allowed_pitch_classes
from composer.representations.base import Constraints
from composer.representations.melody import MelodyTokenizer
from composer.services.form_plan import FormGrammar, FormSpec
from composer.services.generate import GenerateRequest, generate, prepare

FAR_FROM_C = "Ab Db | Eb7 Fm"        # the tiny model learned C major arpeggios: these chords clash with them


@pytest.fixture(scope="module")
def model_path(tiny_melody_model):
    return tiny_melody_model


@pytest.fixture(scope="module")
def melody_model(model_path):
    return load_model(model_path)


def clashes(notes, progression, time_signature, bars, start=0.0) -> list[str]:
    """Every note sounding on a strong beat that is no tone of the chord there."""
    beat, beats = beat_quarters(time_signature), beats_in_bar(time_signature)
    bar_length = time_signature[0] * 4 / time_signature[1]
    out = []
    for j in range(bars):
        for b in range(beats):
            chord = progression.chord_at(j, b, beats)
            if not progression.strong(j, b, beats) or chord == NO_CHORD:
                continue
            t = start + j * bar_length + b * beat
            out += [f"{n} at bar {j + 1} beat {b + 1}" for n in notes
                    if n.start <= t + 1e-9 < n.end and n.pitch % 12 not in chord_tones(chord)]
    return out


# ---- parsing ----------------------------------------------------------------------------------

def test_one_chord_a_bar_and_bars_split_by_bar_lines():
    assert parse_progression("Am F C G").bars == tuple((parse_chord(c),) for c in ("Am", "F", "C", "G"))
    two = parse_progression("Am F | C G")
    assert two.bars == ((parse_chord("Am"), parse_chord("F")), (parse_chord("C"), parse_chord("G")))
    assert parse_progression("| Am F | C G |").bars == two.bars
    assert two.text() == "Am F | C G" and parse_progression("Am  F C G").text() == "Am F C G"


def test_a_bar_of_two_chords_splits_its_beats_evenly():
    spans = parse_progression("Am F | C G").spans(2, (4, 4))
    assert [(s, e) for s, e, _ in spans] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    three_four = parse_progression("C G |").spans(1, (3, 4))
    assert [(s, e) for s, e, _ in three_four] == [(0, 2), (2, 3)]       # the first chord takes the extra beat


def test_strong_beats_are_the_downbeat_beat_three_of_four_four_and_chord_changes():
    prog = parse_progression("C | C G")
    assert [prog.strong(0, b, 4) for b in range(4)] == [True, False, True, False]
    assert [prog.strong(1, b, 3) for b in range(3)] == [True, False, True]      # G starts on beat 3 of 3/4
    assert [prog.strong(0, b, 2) for b in range(2)] == [True, False]            # 6/8: two beats


@pytest.mark.parametrize("text, expected", [("Am F C G", (9, True)), ("Dm G7 C", (0, False)),
                                            ("A D E7 A", (9, False)), ("G D Em C", (7, False))])
def test_the_key_the_chords_imply(text, expected):
    assert progression_key(parse_progression(text)) == expected


@pytest.mark.parametrize("text, words", [("Am Hm C", ["'Hm'", "write a root"]), ("Am || C", ["bar 2", "empty"]),
                                         ("", ["empty"]), ("C D E F G | C", ["bar 1", "5 chords", "4 beats"])])
def test_bad_progressions_name_what_is_wrong(text, words):
    with pytest.raises(ComposerError) as info:
        GenerateRequest(chords=text).validate()
    assert all(w in str(info.value) for w in words)


def test_the_cli_refuses_a_bad_chord_in_one_line(model_path, tmp_path, capsys):
    code = main(["generate", "--model", str(model_path), "--chords", "Am Xb7 C", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Xb7" in err[0] and err[0].startswith("error:")
    assert not (tmp_path / "o").exists()


# ---- length and checks ------------------------------------------------------------------------

@pytest.mark.parametrize("chords, form, bars", [("Am F C G", "auto", 8), ("C7 F7 C7 C7 F7 F7 C7 C7 G7 F7 C7 G7",
                                                                           "auto", 12),
                                                 ("C F G", "free", 9), ("Am F", "AABB", 16)])
def test_without_a_length_the_piece_is_whole_passes_of_the_progression(chords, form, bars):
    request = GenerateRequest(chords=chords, form=form)
    request.validate()
    assert request.bars == bars


def test_a_length_in_bars_or_seconds_is_kept():
    request = GenerateRequest(chords="Am F C G", bars=6)
    request.validate()
    assert request.bars == 6
    request = GenerateRequest(chords="Am F C G", seconds=10.0)
    request.validate()
    assert request.bars is None


def test_no_chords_track_without_chords_is_refused():
    with pytest.raises(ComposerError, match="chords track"):
        GenerateRequest(chords_track=False).validate()


def test_chords_need_a_melody_model(tmp_path):
    loaded = load_model(tiny_model_file(tmp_path / "perf.model", "performance", steps=2))
    with pytest.raises(ComposerError, match="needs a melody model.*performance"):
        prepare(loaded, GenerateRequest(chords="C G"))


def test_a_chord_with_no_tone_in_the_pitch_range_is_refused(melody_model):
    with pytest.raises(ConstraintError, match="tone of chord C#: widen the pitch range"):
        prepare(melody_model, GenerateRequest(chords="C Db", pitch_low=60, pitch_high=60))


# ---- the chord rule ---------------------------------------------------------------------------

def walk(grammar, seed: int) -> list[list[int]]:
    """Tokens chosen uniformly among those the grammar allows: every rule, no model."""
    rng = np.random.default_rng(seed)
    out = [[] for _ in range(grammar.size)]
    for _ in range(grammar.max_steps()):
        if bool(grammar.done.all()):
            break
        m = grammar.mask().numpy()
        assert m.any(axis=1).all(), "a row with no allowed token"
        t = np.array([rng.choice(np.flatnonzero(row)) for row in m])
        for row, token in zip(out, t.tolist()):
            row.append(token)
        grammar.update(torch.from_numpy(t))
    return out


@pytest.mark.parametrize("meter, chords", [((4, 4), "Am F C G"), ((4, 4), FAR_FROM_C), ((3, 4), "C G | F"),
                                           ((6, 8), "Dm | A7 Dm"), ((2, 4), "C G7 | N")])
def test_every_rule_holds_whatever_the_sampler_picks(meter, chords):
    tok = MelodyTokenizer()
    prog = parse_progression(chords)
    scale = allowed_pitch_classes("C", "major")
    constraints = Constraints(bars=6, time_signature=meter, pitch_classes=scale, chords=prog, pitch_low=55,
                              pitch_high=79)
    for grammar in (tok.grammar(8, constraints, "cpu"),
                    FormGrammar(tok, 8, constraints, "cpu", FormSpec("ABA", 2, vary=True), key=(0, False))):
        for tokens in walk(grammar, seed=3):
            notes = tok.decode(tokens).tracks[0].notes
            assert clashes(notes, prog, meter, 6) == []
            beats = beats_in_bar(meter)
            bar_length = meter[0] * 4 / meter[1]
            for n in notes:             # off the strong beats: chord tones or the key
                j, b = int(n.start // bar_length), int((n.start % bar_length) // beat_quarters(meter))
                chord = prog.chord_at(j, min(b, beats - 1), beats)
                assert n.pitch % 12 in scale or n.pitch % 12 in chord_tones(chord)


def test_a_tiny_model_puts_every_strong_beat_on_a_chord_tone(melody_model):
    prog = parse_progression(FAR_FROM_C)
    for seed in range(20):
        request = GenerateRequest(chords=FAR_FROM_C, bars=8, seed=seed, temperature=1.2, chords_track=False)
        song = generate(melody_model, request).songs[0]
        assert len(song.tracks) == 1
        assert clashes(song.tracks[0].notes, prog, (4, 4), 8) == []
        assert chord_tone_counts(song.tracks[0].notes, prog, (4, 4), 8).shares()["strong"] == 1.0
    free = generate(melody_model, GenerateRequest(bars=8, seed=0, count=20, temperature=1.2, time_signature=(4, 4)))
    assert sum(len(clashes(s.tracks[0].notes, prog, (4, 4), 8)) for s in free.songs) > 20    # the check can fail


def test_a_seed_gives_the_same_pieces_at_any_batch_size(tmp_path):
    """Pieces of different lengths (a barely trained model): rows leave the batch and others take them over."""
    loaded = load_model(tiny_model_file(tmp_path / "weak.model", "melody", steps=5))
    request = dict(chords=FAR_FROM_C, count=5, seed=3, bars=4, temperature=1.3)
    one_at_a_time = generate(loaded, GenerateRequest(batch_size=1, **request)).tokens
    assert len({len(t) for t in one_at_a_time}) > 1
    for batch_size in (2, 64):
        assert generate(loaded, GenerateRequest(batch_size=batch_size, **request)).tokens == one_at_a_time


def test_a_repeated_phrase_still_repeats_over_chords_that_repeat_with_it(melody_model):
    result = generate(melody_model, GenerateRequest(chords="Am F", form="AABB", phrase_bars=2, count=4, seed=2))
    prog = parse_progression("Am F")
    for song in result.songs:
        melody = song.tracks[0].notes
        assert clashes(melody, prog, (4, 4), 8) == []
        first = [(n.start, n.end, n.pitch) for n in melody if n.start < 8]
        second = [(n.start - 8, n.end - 8, n.pitch) for n in melody if 8 <= n.start < 16]
        assert first == second


# ---- the Chords track -------------------------------------------------------------------------

def test_the_chords_track_covers_the_bars_exactly(melody_model):
    result = generate(melody_model, GenerateRequest(chords="Am F | C G", bars=5, seed=1, count=2))
    for song in result.songs:
        melody, chords = song.tracks
        assert chords.name == "Chords" and chords.program == 0
        assert song.length_beats == 20.0
        assert min(n.start for n in chords.notes) == 0.0 and max(n.end for n in chords.notes) == 20.0
        starts = sorted({n.start for n in chords.notes})
        assert starts == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]          # two chords a bar, repeated
        first = sorted(n.pitch for n in chords.notes if n.start == 0)
        assert first == [45, 57, 60, 64]                                  # A2 | A3 C4 E4
        assert generated_notes(song) == sorted(melody.notes)              # the copy meter reads the melody only


def test_the_chords_start_at_the_first_new_bar_after_a_primer(melody_model):
    request = GenerateRequest(chords="C G", bars=2, seed=1, primer="C4:1 E4:1 G4:1")
    song = generate(melody_model, request).songs[0]
    chords = song.tracks[1].notes
    assert min(n.start for n in chords) == 4.0 and max(n.end for n in chords) == 12.0
    assert clashes([n for n in song.tracks[0].notes if n.start >= 4], parse_progression("C G"), (4, 4), 2,
                   start=4.0) == []


def test_the_cli_writes_melody_and_chords_or_the_melody_alone(model_path, tmp_path):
    for flag, tracks in (("on", 2), ("off", 1)):
        out = tmp_path / flag
        assert main(["generate", "--model", str(model_path), "--chords", "Am F C G", "--seed", "3", "--quiet",
                     "--chords-track", flag, "--out", str(out)]) == 0
        [path] = out.glob("*.mid")
        song = read_midi(path)
        assert len([t for t in song.tracks if t.notes]) == tracks
        assert song.length_beats == 32.0
