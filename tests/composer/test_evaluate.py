"""composer eval: bits per note and its baselines, musical statistics, copy meter, CLI."""
from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest
import torch

from benchmarks.midi_factory import melody, write_song
from composer.analysis.copymeter import copy_meter
from composer.analysis.likelihood import BETA, BigramModel, uniform_bits
from composer.analysis.stats import compare_sets, overlap_area, set_features
from composer.cli.main import main
from composer.model.copyindex import CopyIndex
from composer.model.modelfile import load_model, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.music.song import Note, melody_song
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import LISTED_METERS
from composer.services.copylimit import limit_copies
from composer.services.evaluate import EvalConfig, evaluate
from composer.services.generate import GenerateRequest, generate
from tests.tinymodels import tiny_model_file

TOK = MelodyTokenizer()


def folder_of_tunes(path: Path, n: int, *, seed: int = 0) -> Path:
    for i in range(n):
        write_song(melody(16 + 4 * (i % 3), seed=seed + i), path / f"tune{i:02d}.mid")
    return path


def constant_model(tokenizer, bias: torch.Tensor) -> MusicRNN:
    """A model whose next-token distribution is softmax(bias) whatever came before."""
    model = MusicRNN(ModelConfig(vocab_size=tokenizer.vocab_size, embed_dim=8, hidden_size=8, num_layers=1,
                                 dropout=0.0, position_classes=tokenizer.position_classes))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(bias)
    return model


# ---- bits per note ---------------------------------------------------------------------------
def test_model_bits_per_note_is_exact_for_known_probabilities(tmp_path):
    V = TOK.vocab_size
    bias = torch.zeros(V)
    bias[TOK.dur_token(2)] = math.log(9.0)        # dur:2 has 9 times the weight of every other token
    p_dur2 = 9.0 / (V - 1 + 9.0)
    p_other = 1.0 / (V - 1 + 9.0)
    save_model(tmp_path / "c.model", constant_model(TOK, bias), TOK, {})
    folder = folder_of_tunes(tmp_path / "f", 4)
    result = evaluate(EvalConfig(model=str(tmp_path / "c.model"), folder=str(folder), samples=1, bars=1, workers=1,
                                 cache_dir=str(tmp_path / "cache")))
    from composer.corpus.ingest import scan_folder
    seqs = scan_folder(folder, TOK, workers=1, cache_dir=tmp_path / "cache").sequences
    evaluated = [seqs[n] for n in result.split["eval_files"]]
    expected_bits = sum(-math.log2(p_dur2 if t == TOK.dur_token(2) else p_other) for s in evaluated for t in s[1:])
    notes = sum(TOK.count_notes(s) for s in evaluated)
    # float32 logits
    assert result.likelihood["model"]["bits_per_note"] == pytest.approx(expected_bits / notes, rel=1e-6)
    assert result.likelihood["model"]["notes"] == notes == result.likelihood["uniform"]["notes"]


@pytest.mark.parametrize("listed, meter_bits", [(False, math.log2(32) + math.log2(6)), (True, math.log2(9))])
def test_uniform_baseline_counts_the_choices_the_grammar_allows(listed, meter_bits):
    # <bos> num:4 den:4 bar note:60 dur:16 <eos>: 32 numerators, the 6 denominators (4/1 .. 4/32
    # all fit), or one of 9 listed meters (ts:4/4); then the bar line is forced, then 61 pitches
    # or a rest, then 16 durations that fit the bar, then <eos> is forced.
    tok = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS)) if listed else TOK
    tokens = tok.encode_notes([Note(0.0, 4.0, 60)], (4, 4))
    result = uniform_bits(tok, [tokens])
    assert result.outside_grammar == 0
    assert result.bits[0] == pytest.approx(meter_bits + math.log2(62) + math.log2(16))


def test_bigram_probabilities_sum_to_one_and_follow_the_counts():
    seqs = [TOK.encode_notes([Note(i * 0.5, (i + 1) * 0.5, 60 + (i % 3)) for i in range(16)], (4, 4))]
    bigram = BigramModel(TOK).fit(seqs)
    context = ("event", TOK.note_token(60), False)
    total = sum(bigram.prob(context, t) for t in range(TOK.vocab_size))
    assert total == pytest.approx(1.0)
    # C4 C#4 D4 C4 ...: 5 of the 6 C4s are followed by C#4, the last one by <eos>
    assert bigram.pairs[context] == {TOK.note_token(61): 5, 2: 1}
    uni = (bigram.unigram[TOK.note_token(61)] + 1) / (sum(bigram.unigram.values()) + TOK.vocab_size)
    assert bigram.unigram[TOK.note_token(61)] == 5
    assert bigram.prob(context, TOK.note_token(61)) == pytest.approx((5 + BETA * uni) / (6 + BETA))
    assert bigram.prob(context, TOK.note_token(61)) > 0.4


def test_bigram_and_uniform_on_a_tiny_folder(tmp_path):
    model = tiny_model_file(tmp_path / "m.model", steps=5)
    folder = folder_of_tunes(tmp_path / "f", 6)
    result = evaluate(EvalConfig(model=str(model), folder=str(folder), samples=2, bars=2, workers=1,
                                 cache_dir=str(tmp_path / "cache")))
    lk = result.likelihood
    assert set(lk) == {"model", "bigram", "uniform"}
    assert lk["bigram"]["fitted_on_files"] == 6 - len(result.split["eval_files"])
    assert lk["bigram"]["notes"] == lk["uniform"]["notes"] == lk["model"]["notes"] > 0
    # the code-made tunes are stepwise eighth notes: a bigram fitted on them beats chance
    assert lk["bigram"]["bits_per_note"] < lk["uniform"]["bits_per_note"]
    assert result.split["bigram_fit"] == "other half of the folder"


def test_files_of_the_training_split_are_left_out(tmp_path):
    train_dir = folder_of_tunes(tmp_path / "train", 4)
    model, tok = __import__("tests.tinymodels", fromlist=["train_tiny"]).train_tiny(steps=3)
    save_model(tmp_path / "m.model", model, tok,
               {"corpus": {"folder": str(train_dir)}, "train_config": {"val_share": 0.25, "seed": 0}})
    eval_dir = folder_of_tunes(tmp_path / "eval", 3, seed=100)
    from composer.corpus.split import split_files
    train_names, _ = split_files([f"tune{i:02d}.mid" for i in range(4)], 0.25, 0)
    (eval_dir / "copied.mid").write_bytes((train_dir / train_names[0]).read_bytes())
    result = evaluate(EvalConfig(model=str(tmp_path / "m.model"), folder=str(eval_dir), samples=1, bars=1,
                                 workers=1, cache_dir=str(tmp_path / "cache")))
    assert "copied.mid" not in result.split["eval_files"] and len(result.split["eval_files"]) == 3
    assert result.split["bigram_fit"] == "training split"
    assert result.likelihood["bigram"]["fitted_on_files"] == 3
    assert result.copy_index["files"] == 4


# ---- statistics ---------------------------------------------------------------------------------
def test_overlap_of_identical_histograms_is_one_and_of_disjoint_ones_zero():
    assert overlap_area([1, 2, 3, 0], [2, 4, 6, 0]) == pytest.approx(1.0)
    assert overlap_area([1, 1, 0, 0], [0, 0, 5, 1]) == 0.0
    assert overlap_area([1, 1], [1, 3]) == pytest.approx(0.5 + 0.25)


def test_a_set_compared_with_itself_overlaps_fully_and_with_a_distant_set_not_at_all():
    songs = [melody(24, seed=i) for i in range(5)]
    same = compare_sets(set_features(songs), set_features(songs))
    assert {f.name for f in same} == {"pitch_class", "pitch_range", "interval", "note_length", "ioi",
                                      "notes_per_bar", "in_scale", "empty_bars"}
    assert all(f.oa == pytest.approx(1.0) for f in same)
    # whole notes on F# only, every other bar empty vs stepwise eighths in C major
    far = [melody_song([Note(8.0 * k, 8.0 * k + 4.0, 66) for k in range(6)]) for _ in range(3)]
    by_name = {f.name: f for f in compare_sets(set_features(far), set_features(songs))}
    for name in ("pitch_class", "note_length", "ioi", "empty_bars", "pitch_range"):
        assert by_name[name].oa == 0.0, name
    assert by_name["empty_bars"].generated_mean == pytest.approx(5 / 11)   # 11 bars, 5 silent


# ---- copy meter ---------------------------------------------------------------------------------
def random_line(rng: random.Random, n: int, low: int, high: int, start: float = 0.0) -> list[Note]:
    notes, t = [], start
    for _ in range(n):
        d = rng.choice([0.25, 0.5, 1.0])
        notes.append(Note(t, t + d, rng.randint(low, high)))
        t += d
    return notes


def test_copy_meter_finds_a_planted_copy_and_its_file():
    rng = random.Random(3)
    training = {f"piece{i}.mid": random_line(rng, 200, 48, 72) for i in range(50)}
    source = training["piece17.mid"][60:73]                          # 13 consecutive notes
    shift = 40.0 - source[0].start
    planted = [Note(n.start + shift, n.end + shift, n.pitch) for n in source]
    before = random_line(rng, 20, 80, 90)                          # pitches the training data never has
    after = random_line(rng, 20, 80, 90, start=planted[-1].end)
    before = [Note(n.start + 40.0 - before[-1].end, n.end + 40.0 - before[-1].end, n.pitch) for n in before]
    song = melody_song(before + planted + after)
    index = CopyIndex.from_notes(training)
    # the last planted note is followed by a note of another pitch class: its interval still matches,
    # so all 13 notes count
    assert copy_meter(song, index) == (13, "piece17.mid")
    assert copy_meter(melody_song(random_line(rng, 30, 80, 90)), index) == (0, None)


def test_copy_index_from_token_sequences_matches_the_decoded_notes():
    notes = [Note(i * 0.5, (i + 1) * 0.5, 60 + (i * 5) % 12) for i in range(32)]
    index = CopyIndex.from_corpus({"a.mid": TOK.encode_notes(notes, (4, 4))}, TOK)
    assert copy_meter(melody_song(notes), index) == (32, "a.mid")


def test_limit_copies_resamples_pieces_that_copy_too_much(tmp_path):
    loaded = load_model(tiny_model_file(tmp_path / "m.model", steps=20))
    request = GenerateRequest(count=3, bars=2, seed=5)
    first = generate(loaded, request)
    index = CopyIndex.from_songs({f"g{i}.mid": s for i, s in enumerate(first.songs)})    # they copy themselves
    lengths = [copy_meter(s, index)[0] for s in first.songs]
    assert min(lengths) >= 4
    result, checks = limit_copies(loaded, request, first, index, max_copy=min(lengths) - 1, attempts=3)
    assert [c.piece for c in checks] == [0, 1, 2]
    assert all(c.attempts >= 2 for c in checks)
    for check, song in zip(checks, result.songs):
        assert copy_meter(song, index)[0] == check.length
        assert check.ok == (check.length <= min(lengths) - 1)


# ---- command line ------------------------------------------------------------------------------------
def test_cli_writes_json_and_html(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "m.model", steps=5)
    folder = folder_of_tunes(tmp_path / "f", 4)
    code = main(["eval", str(model), str(folder), "--json", str(tmp_path / "r.json"), "--html",
                 str(tmp_path / "r.html"), "--samples", "2", "--bars", "2", "--workers", "1", "--quiet"])
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data["likelihood"]) == {"model", "bigram", "uniform"}
    assert len(data["copies"]) == 2 and len(data["features"]) == 8
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 10 and "bits/note" in page
    assert "bigram" in capsys.readouterr().out


def test_cli_bad_model_path_exits_2(tmp_path, capsys):
    folder = folder_of_tunes(tmp_path / "f", 2)
    assert main(["eval", str(tmp_path / "missing.model"), str(folder)]) == 2
    assert "missing.model" in capsys.readouterr().err


def test_generate_max_copy_reports_each_piece(tmp_path, capsys, monkeypatch):
    from tests.tinymodels import train_tiny
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    train_dir = folder_of_tunes(tmp_path / "train", 3)
    model, tok = train_tiny(steps=5)
    save_model(tmp_path / "m.model", model, tok, {"corpus": {"folder": str(train_dir)}})
    code = main(["generate", "--model", str(tmp_path / "m.model"), "--count", "2", "--bars", "2", "--seed", "1",
                 "--out", str(tmp_path / "out"), "--max-copy", "100", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0 and len(list((tmp_path / "out").glob("*.mid"))) == 2
    assert re.search(r"piece 1: (longest copy \d+ notes \(from |no run of 4\+ notes copied)", err)
    assert "piece 2: " in err and "still above" not in err


def test_generate_max_copy_without_the_training_folder_exits_2(tmp_path, capsys):
    model = tiny_model_file(tmp_path / "m.model", steps=3)       # metadata names no training folder
    code = main(["generate", "--model", str(model), "--out", str(tmp_path / "out"), "--max-copy", "8", "--quiet"])
    assert code == 2 and "trained on" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---- eval command: folders with few usable files, outputs, skipped files ---------------------------
def eval_args(model, folder, *extra) -> list[str]:
    return ["eval", str(model), str(folder), "--samples", "2", "--bars", "1", "--workers", "1", "--quiet", *extra]


def folder_with_skips(path: Path, tunes: int, short: int, corrupt: int = 0) -> Path:
    """`tunes` usable tunes, `short` files too short to use (3 notes), `corrupt` broken files."""
    folder_of_tunes(path, tunes)
    for i in range(short):
        write_song(melody(3, seed=50 + i), path / f"short{i}.mid")
    for i in range(corrupt):
        (path / f"broken{i}<&>.mid").write_bytes(b"MThd garbage")
    return path


def nan_result():
    from composer.analysis.stats import FeatureComparison
    from composer.services.evaluate import EvalResult
    nan = float("nan")
    lk = {name: {"bits_per_note": nan, "bits_per_token": nan, "notes": 0, "files": 0}
          for name in ("model", "bigram", "uniform")}
    feature = FeatureComparison("pitch_range", ["0", "2"], [nan, nan], [0.5, 0.5], nan, nan, 3.0, "semitones")
    return EvalResult(model="m.model", folder="f", representation="melody", likelihood=lk, features=[feature],
                      copies=[{"piece": 1, "length": 0, "source": None}],
                      copy_index={"description": "x", "files": 1, "notes": 8, "anchor": 4})


def no_evaluate(monkeypatch) -> list:
    """Replace the evaluation by a fake that records its calls (and returns a result with NaNs)."""
    calls = []
    monkeypatch.setattr("composer.cli.evaluate.evaluate",
                        lambda config, progress=None: calls.append(config) or nan_result())
    return calls


def test_eval_of_a_folder_with_one_usable_file_exits_2_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "m.model", steps=3)          # names no training folder
    folder = folder_with_skips(tmp_path / "f", tunes=1, short=2)
    assert main(eval_args(model, folder, "--json", str(tmp_path / "r.json"))) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "only 1 usable MIDI file" in err and "at least 2 usable files" in err
    assert "3 file(s) scanned" in err and "too short (2)" in err
    assert not (tmp_path / "r.json").exists()


def test_eval_json_has_null_for_unavailable_numbers_and_tables_show_a_dash(tmp_path, capsys, monkeypatch):
    no_evaluate(monkeypatch)
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["eval", "m.model", str(tmp_path), "--json", str(json_path), "--html", str(html_path)]) == 0

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    data = json.loads(json_path.read_text(), parse_constant=refuse)     # JSON.parse would fail on NaN too
    assert data["likelihood"]["model"]["bits_per_note"] is None and data["features"][0]["oa"] is None
    assert data["features"][0]["generated"] == [None, None]
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    assert out.splitlines()[1].split()[:3] == ["model", "-", "-"]
    page = html_path.read_text()
    assert ">nan<" not in page.lower() and "<td>model</td><td>-</td><td>-</td>" in page


@pytest.mark.parametrize("case", ["missing folder", "parent is a file", "path is a folder"])
@pytest.mark.parametrize("option", ["--json", "--html"])
def test_eval_output_paths_are_checked_before_any_work(tmp_path, capsys, monkeypatch, case, option):
    calls = no_evaluate(monkeypatch)
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    bad = {"missing folder": tmp_path / "nope" / "r.out", "parent is a file": tmp_path / "file" / "r.out",
           "path is a folder": tmp_path / "dir"}[case]
    other = "--html" if option == "--json" else "--json"
    code = main(["eval", "m.model", str(tmp_path), other, str(tmp_path / "other.out"), option, str(bad), "--force"])
    err = capsys.readouterr().err
    assert code == 2 and calls == [] and str(bad) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "other.out").exists()


def test_eval_refuses_the_same_path_for_json_and_html_up_front(tmp_path, capsys, monkeypatch):
    calls = no_evaluate(monkeypatch)
    out = tmp_path / "report"
    assert main(["eval", "m.model", str(tmp_path), "--json", str(out), "--html", str(tmp_path / "." / "report")]) == 2
    err = capsys.readouterr().err
    assert calls == [] and not out.exists()
    assert "--json and --html are the same file" in err


def test_eval_lists_skipped_files_with_their_reasons(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "m.model", steps=3)
    folder = folder_with_skips(tmp_path / "f", tunes=2, short=3, corrupt=1)
    code = main(eval_args(model, folder, "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")))
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    skipped = data["skipped"]
    assert skipped["count"] == data["skipped_files"] == 4
    assert skipped["by_reason"] == {"too short": 3, "corrupt": 1}
    assert [f["path"] for f in skipped["files"]] == ["broken0<&>.mid", "short0.mid", "short1.mid", "short2.mid"]
    assert skipped["files"][1]["reason"].startswith("too short (3 melody notes")
    out = capsys.readouterr().out
    assert "4 file(s) skipped: too short (3), corrupt (1): broken0<&>.mid, short0.mid, short1.mid, and 1 more" in out
    page = (tmp_path / "r.html").read_text()
    assert "<td>broken0&lt;&amp;&gt;.mid</td><td>corrupt:" in page and "<td>short2.mid</td><td>too short" in page


def test_eval_of_a_folder_with_no_usable_file_counts_the_reasons(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tiny_model_file(tmp_path / "m.model", steps=3)
    folder = folder_with_skips(tmp_path / "f", tunes=0, short=2, corrupt=1)
    assert main(eval_args(model, folder)) == 2
    err = capsys.readouterr().err
    assert "no usable MIDI files for a melody model (3 file(s) scanned; skipped: too short (2), corrupt (1))" in err


def test_eval_numbers_generated_pieces_from_1_in_json_terminal_and_html(tmp_path):
    from composer.services.report_html import render_html
    model = tiny_model_file(tmp_path / "m.model", steps=3)
    result = evaluate(EvalConfig(model=str(model), folder=str(folder_of_tunes(tmp_path / "f", 2)), samples=2,
                                 bars=1, workers=1, cache_dir=str(tmp_path / "cache")))
    assert [c["piece"] for c in result.to_dict()["copies"]] == [1, 2]
    result.copies[1]["length"], result.copies[1]["source"] = 7, "tune00.mid"
    assert result.table_lines()[-1].endswith("longest 7 (piece 2, from tune00.mid)")
    assert "<tr><td>2</td><td>7</td><td>tune00.mid</td></tr>" in render_html(result)


def test_eval_copy_line_without_any_copy_says_so():
    line = nan_result().table_lines()[-1]
    assert "None" not in line and line.endswith("no run of 4+ notes shared (1 piece)")
