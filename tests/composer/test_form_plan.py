"""Form under the user's control (composer.services.form_plan): repeats,
second endings, cadences, no silent opening bar, and the checks of --form."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tinymodels import scale_tune, tiny_model_file

from composer.analysis.form import key_of_weights
from composer.cli.main import main
from composer.errors import ComposerError
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi, song_to_bytes
from composer.representations.base import BOS, EOS, Constraints
from composer.representations.melody import BAR, HOLD, REST
from composer.services.form_plan import (
    NO_CADENCE,
    TONIC,
    TRIAD,
    FormGrammar,
    FormSpec,
    check_form,
    parse_form,
    planned_form,
)
from composer.services.generate import GenerateRequest, generate, prepare


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("m") / "melody.model", "melody")


@pytest.fixture(scope="module")
def melody_model(model_path):
    return load_model(model_path)


def bars_of(tokens: list[int]) -> list[list[int]]:
    """The tokens of each bar (each list starts with its <bar>), up to <eos>."""
    bars = []
    for t in tokens:
        if t == EOS:
            break
        if t == BAR:
            bars.append([])
        if bars:
            bars[-1].append(t)
    return bars


def phrases_equal_their_sources(bars, spec: FormSpec) -> bool:
    P, keep = spec.phrase_bars, spec.phrase_bars - spec.vary_bars
    return all(bars[s * P + b] == bars[src * P + b]
               for s, src in enumerate(spec.sources()) if src != s for b in range(keep))


@pytest.mark.parametrize("form", ["AABB", "AABA", "ABAB", "ABAC"])
@pytest.mark.parametrize("vary", [False, True])
def test_a_repeated_letter_brings_its_phrase_back_bar_for_bar(melody_model, form, vary):
    result = generate(melody_model, GenerateRequest(count=6, form=form, phrase_bars=2, vary=vary, seed=4,
                                                    temperature=1.5))
    spec = FormSpec(form, 2, vary)
    for tokens in result.tokens:
        bars = bars_of(tokens)
        assert len(bars) == 8
        assert phrases_equal_their_sources(bars, spec)
    if vary:      # the second endings are sampled afresh: some differ from their source
        assert any(bars_of(t)[s * 2 + 1] != bars_of(t)[src * 2 + 1]
                   for t in result.tokens for s, src in enumerate(spec.sources()) if src != s)


def test_free_pieces_do_not_repeat_whole_phrases(melody_model):
    """The check above can fail: free pieces of the same model do not pass it."""
    result = generate(melody_model, GenerateRequest(count=6, bars=8, seed=4, temperature=1.5, form="free"))
    assert not all(phrases_equal_their_sources(bars_of(t), FormSpec("AABB", 2)) for t in result.tokens)


@pytest.mark.parametrize("form, vary, kinds", [
    ("AABB", False, [TRIAD, NO_CADENCE, TONIC, NO_CADENCE]),     # B's plain repeat ends the piece
    ("AABA", False, [TONIC, NO_CADENCE, TRIAD, NO_CADENCE]),
    ("AABB", True, [TRIAD, TONIC, TRIAD, TONIC]),                # second endings close on the tonic
    ("ABAC", False, [TRIAD, TRIAD, NO_CADENCE, TONIC]),
    ("ABAC", True, [TRIAD, TRIAD, TONIC, TONIC]),
])
def test_which_phrase_ends_on_which_cadence(form, vary, kinds):
    assert FormSpec(form, 4, vary).cadences().tolist() == kinds


def last_beat_pitch_classes(song, end_beat: float) -> list[int]:
    """Pitch classes of the notes sounding in the beat before `end_beat`, and of
    the last note starting before it."""
    notes = [n for n in song.tracks[0].notes if n.start < end_beat - 1e-9]
    return [n.pitch % 12 for n in notes if n.end > end_beat - 1 + 1e-9] + [notes[-1].pitch % 12]


@pytest.mark.parametrize("form, vary", [("AABB", True), ("AABA", False), ("ABAC", True)])
def test_phrases_and_the_piece_end_on_cadences_in_the_requested_key(melody_model, form, vary):
    spec = FormSpec(form, 2, vary)
    result = generate(melody_model, GenerateRequest(count=8, form=form, phrase_bars=2, vary=vary, key="G",
                                                    seed=9, temperature=2.0, time_signature=(4, 4)))
    wanted = {TONIC: {7}, TRIAD: {7, 11, 2}}
    for song in result.songs:
        for s, kind in enumerate(spec.cadences()):
            end = (s + 1) * 2 * song.bar_length()
            if kind != NO_CADENCE:
                assert set(last_beat_pitch_classes(song, end)) <= wanted[kind], (s, song.tracks[0].notes)
                assert not [n for n in song.tracks[0].notes if end - 1 < n.start < end]   # struck on the beat
        assert song.tracks[0].notes[-1].pitch % 12 == 7


def test_without_a_key_the_piece_ends_on_the_tonic_of_its_own_key(melody_model):
    result = generate(melody_model, GenerateRequest(count=8, form="ABAC", phrase_bars=2, seed=5, temperature=2.0,
                                                    pitch_low=55, pitch_high=80, time_signature=(4, 4)))
    tonics = set()
    for song in result.songs:
        last_bar = 7 * song.bar_length()
        weights = np.zeros(12)
        for n in song.tracks[0].notes:
            weights[n.pitch % 12] += max(0.0, min(n.end, last_bar) - n.start)
        tonic, _ = key_of_weights(weights)
        tonics.add(tonic)
        assert song.tracks[0].notes[-1].pitch % 12 == tonic
    assert len(tonics) > 1          # each piece its own key, not one fixed tonic


def test_no_piece_opens_with_a_silent_bar(melody_model):
    """One pitch and <rest>: at temperature 5 some first events (8% of this tiny model's) are
    rests of a random length; none may fill the first bar (of 4/4: at temperature 5
    the model's own choice would be any of the meters, many with long bars)."""
    result = generate(melody_model, GenerateRequest(count=200, bars=1, seed=1, temperature=5.0,
                                                    pitch_low=60, pitch_high=60, time_signature=(4, 4)))
    firsts = [bars_of(t)[0] for t in result.tokens]
    assert sum(bar[1] == REST for bar in firsts) > 10            # rests were drawn, as pickups
    assert all(any(n.start < song.bar_length() for n in song.tracks[0].notes) for song in result.songs)


def grammar_after(tokenizer, tokens, *, primed=False):
    spec = FormSpec("A", 2, detect_key=False)       # free: one 2-bar phrase
    grammar = FormGrammar(tokenizer, 1, Constraints(bars=spec.bars), "cpu", spec)
    for t in tokens:
        grammar.update(torch.tensor([t]))
    if primed:
        grammar.mark_primed()
    return grammar


def test_a_rest_may_not_fill_the_opening_bar_unless_a_primer_came_first(melody_model):
    tok = melody_model.tokenizer
    whole_bar = tok.dur_token(16)
    opening = [BOS, *tok.meter_tokens((4, 4)), BAR, REST]
    assert not grammar_after(tok, opening).mask()[0, whole_bar]
    assert grammar_after(tok, opening).mask()[0, tok.dur_token(15)]                 # a pickup rest may
    plain = tok.grammar(1, Constraints(bars=2), "cpu")          # free, no key: the melody grammar's own rule
    for t in opening:
        plain.update(torch.tensor([t]))
    assert not plain.mask()[0, whole_bar] and plain.mask()[0, tok.dur_token(15)]
    plain.update(torch.tensor([tok.dur_token(14)]))
    plain.update(torch.tensor([HOLD]))                              # a rest held on still may not fill the bar
    assert plain.mask()[0, tok.dur_token(1)] and not plain.mask()[0, tok.dur_token(2)]
    primer = tok.encode_notes(scale_tune(), (4, 4), end=False)
    assert grammar_after(tok, primer + [BAR, REST], primed=True).mask()[0, whole_bar]


def test_a_seed_gives_the_same_pieces_at_any_batch_size(melody_model):
    def pieces(batch):
        request = GenerateRequest(count=5, form="AABA", phrase_bars=2, vary=True, seed=3, temperature=1.5,
                                  batch_size=batch)
        return [song_to_bytes(s) for s in generate(melody_model, request).songs]

    assert pieces(1) == pieces(3) == pieces(5)


def test_a_form_after_a_primer_starts_at_the_first_new_bar(melody_model):
    request = GenerateRequest(count=4, form="AABB", phrase_bars=2, primer="C4:1 D4:1 E4:1", seed=2,
                              temperature=1.5)
    result = generate(melody_model, request)
    for tokens in result.tokens:
        bars = bars_of(tokens)
        assert len(bars) == 9                      # the primer's bar, completed, and 8 new ones
        assert phrases_equal_their_sources(bars[1:], FormSpec("AABB", 2))
    assert [n.pitch for n in result.songs[0].tracks[0].notes[:3]] == [60, 62, 64]


def test_a_grammar_names_every_per_sequence_array_in_row_state(melody_model):
    grammar = FormGrammar(melody_model.tokenizer, 7, Constraints(bars=8), "cpu", FormSpec("AABB", 2, True))
    per_row = {name for name, value in vars(grammar).items()
               if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim and len(value) == 7}
    assert per_row == set(grammar.row_state)


@pytest.mark.parametrize("text, form", [("aabb", "AABB"), (" ABA ", "ABA"), ("Free", "free"), (None, "free"),
                                        ("Auto", "auto")])
def test_form_names(text, form):
    assert parse_form(text) == form


@pytest.mark.parametrize("kwargs, bars", [({"form": "AABB"}, 16), ({"form": "AABB", "phrase_bars": 2}, 8),
                                          ({"form": "ABA", "bars_given": 12}, 12)])
def test_a_form_fills_in_the_length(kwargs, bars):
    given = kwargs.pop("bars_given", None)
    request = GenerateRequest(bars=given, **kwargs)
    request.validate()
    assert request.bars == bars


@pytest.mark.parametrize("bars, seconds, form", [
    (16, None, FormSpec("ABAC", 4, vary=True)), (8, None, FormSpec("ABAC", 2, vary=True)),
    (12, None, FormSpec("ABAC", 3, vary=True)), (4, None, FormSpec("ABAC", 1)),     # no room for a second ending
    (None, None, FormSpec("ABAC", 2, vary=True)),                                     # the default length, 8 bars
    (6, None, None), (3, None, None), (1, None, None), (None, 8.0, None)])
def test_auto_is_abac_of_quarter_phrases_when_the_bars_split_in_four_else_free(bars, seconds, form):
    assert GenerateRequest().form == "auto"
    request = GenerateRequest(bars=bars, seconds=seconds)
    request.validate()
    assert check_form(request) == form and request.bars == bars


def test_auto_samples_what_abac_samples_and_free_what_free_does(melody_model):
    def tokens(**kwargs):
        return generate(melody_model, GenerateRequest(count=3, seed=9, temperature=1.5, **kwargs)).tokens
    assert tokens(bars=8) == tokens(bars=8, form="ABAC", vary=True)
    assert tokens(bars=4) == tokens(bars=4, form="ABAC")
    assert tokens(bars=8) != tokens(bars=8, form="free")
    assert tokens(bars=6) == tokens(bars=6, form="free")
    primed = dict(bars=8, primer="C4:1 D4:1 E4:1")     # a primer: the same rule over the new bars
    assert tokens(**primed) == tokens(**primed, form="ABAC", vary=True)
    for t in tokens(**primed):
        assert phrases_equal_their_sources(bars_of(t)[1:], FormSpec("ABAC", 2, vary=True))


def test_auto_with_a_performance_model_is_free(tmp_path):
    loaded = load_model(tiny_model_file(tmp_path / "p.model", "performance", steps=2))
    request = GenerateRequest(count=2, seconds=2.0, seed=1)
    assert planned_form(loaded.tokenizer, request) is None
    assert [song_to_bytes(s) for s in generate(loaded, request).songs] == \
        [song_to_bytes(s) for s in generate(loaded, GenerateRequest(count=2, seconds=2.0, seed=1, form="free")).songs]


def run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--form", "XYZ"], "unknown form 'XYZ'"),
    (["--form", "BA"], "unknown form 'BA'"),
    (["--form", "AABB", "--bars", "12", "--phrase-bars", "4"], "is 16 bars, but 12 bars were asked for"),
    (["--form", "AABB", "--bars", "2"], "2 bars do not split into the 4 phrases"),
    (["--form", "AABB", "--bars", "10"], "10 bars do not split"),
    (["--form", "AABB", "--phrase-bars", "0"], "phrase bars must be >= 1, got 0"),
    (["--form", "AABB", "--phrase-bars", "-3"], "phrase bars must be >= 1, got -3"),
    (["--form", "AABB", "--seconds", "8"], "needs its length in bars, not seconds"),
    (["--form", "AABB", "--phrase-bars", "1", "--vary"], "needs phrases of >= 2 bars, got 1"),
    (["--vary"], "phrase bars and vary belong to a form"),
    (["--phrase-bars", "4"], "phrase bars and vary belong to a form"),
    (["--form", "auto", "--vary"], "auto plans its own phrases"),
    (["--form", "free", "--phrase-bars", "2"], "phrase bars and vary belong to a form"),
])
def test_bad_form_requests_are_one_line_and_write_nothing(tmp_path, capsys, model_path, extra, message):
    code, err = run(capsys, "generate", "--model", str(model_path), "--out", str(tmp_path / "out"), "--quiet",
                    *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_a_form_with_a_performance_model_is_refused(tmp_path, capsys):
    path = tiny_model_file(tmp_path / "p.model", "performance", steps=2)
    code, err = run(capsys, "generate", "--model", str(path), "--form", "AABB", "--bars", "8",
                    "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2 and "form AABB needs a melody model; this is a performance model" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    with pytest.raises(ComposerError, match="needs a melody model"):
        prepare(load_model(path), GenerateRequest(form="ABA", phrase_bars=2, bars=None))


def bar_contents(song) -> list[tuple]:
    """(onset in the bar, pitch) of the notes starting in each bar, as composer.analysis.form counts them."""
    bar = song.bar_length()
    contents = [[] for _ in range(round(song.length_beats / bar))]
    for n in song.tracks[0].notes:
        contents[int(n.start / bar + 1e-9)].append((round((n.start % bar) * 8), n.pitch))
    return [tuple(c) for c in contents]


def test_the_cli_writes_formed_pieces_and_max_copy_keeps_the_form(tmp_path, capsys, model_path):
    args = ["generate", "--model", str(model_path), "--form", "ABAB", "--phrase-bars", "2", "--vary", "--count", "4",
            "--seed", "6", "--quiet"]
    code, err = run(capsys, *args, "--out", str(tmp_path / "first"))
    assert code == 0, err
    # compared with the pieces this very seed gives, every first sample is a copy and is resampled
    code, err = run(capsys, *args, "--max-copy", "4", "--copy-folder", str(tmp_path / "first"),
                    "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert len(re.findall(r", [234] sample\(s\)", err)) == 4, err
    for folder in ("first", "out"):
        files = sorted((tmp_path / folder).glob("*.mid"))
        assert len(files) == 4
        for path in files:
            contents = bar_contents(read_midi(path))
            assert len(contents) == 8
            assert contents[4] == contents[0] and contents[6] == contents[2]    # bar 1 of each repeated phrase


@pytest.mark.parametrize("ts, steps", [((4, 4), 4), ((3, 4), 4), ((6, 8), 6), ((12, 8), 6), ((2, 2), 8), ((3, 8), 2)])
def test_the_cadence_beat_is_the_meters_beat(ts, steps):
    from composer.services.form_plan import beat_steps
    assert beat_steps(ts, 4) == steps
