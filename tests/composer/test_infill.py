"""Infill (issue 8): the model and its example layout, training with
--objective infill (exact resume, the model file), the span metric, and
composer.services.infill / `composer infill` (what changes in the song and what does not)."""
from __future__ import annotations

import dataclasses
import io

import mido
import pytest
import torch

from benchmarks.midi_factory import band, melody, write_song
from composer.analysis.likelihood import LN2
from composer.cli.main import main
from composer.errors import Cancelled, ComposerError, ConstraintError
from composer.model.infill_network import InfillConfig, InfillRNN, bar_indices, span_example
from composer.model.modelfile import load_model, save_model
from composer.music.midifile import read_midi, song_to_bytes
from composer.music.scales import allowed_pitch_classes
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS
from composer.representations.melody import BAR, MelodyTokenizer
from composer.services import infill as infill_module
from composer.services.infill import InfillRequest, infill, infill_model_for
from tests.tinymodels import tiny_model_file, train_tiny, training_sequences
from training.checkpoint import load_checkpoint
from training.infill_data import SpanSampler, eval_spans, span_bits_per_note
from training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("tunes")
    for i in range(6):
        write_song(melody(48, seed=i), d / f"tune{i}.mid")
    return d


def infill_config(folder, tmp_path, **changes) -> TrainConfig:
    base = TrainConfig(folder=str(folder), out=str(tmp_path / "infill.model"), objective="infill", layers=1,
                       hidden=24, embed=12, steps=10, batch=4, warmup_steps=2, eval_every=4, checkpoint_every=4,
                       log_every=2, cache_dir=str(tmp_path / "cache"), workers=1, val_share=0.2,
                       infill_bars=(1, 2), infill_context=2)
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def infill_model(folder, tmp_path_factory):
    """A tiny infill model trained by the real trainer (module-wide: the trainer is the slow part)."""
    out = tmp_path_factory.mktemp("infill_model")
    return train(infill_config(folder, out)).model_path


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("plain") / "plain.model", steps=10)


def other_tracks_bytes(song: Song, skip: int) -> list[bytes]:
    return [song_to_bytes(Song(tracks=[t], tempos=song.tempos, time_signatures=song.time_signatures))
            for i, t in enumerate(song.tracks) if i != skip]


# ---- the layout and the metric ------------------------------------------------------------

def test_span_example_cuts_at_bar_tokens_and_counts_the_bars_left():
    tok = MelodyTokenizer()
    seq = training_sequences(tok)[0] + []           # <bos> ts bar ... bar ... <eos>: 2 bars
    head = seq.index(BAR)                           # <bos> and the meter
    seq = seq[:-1] + seq[head:-1] + [EOS]           # 4 bars
    bars = bar_indices(seq)
    ex = span_example(seq, tok.positions(seq), 1, 2, 8)
    assert ex.forward == seq[:bars[3]] and ex.span_start == bars[1]
    assert ex.right == seq[bars[3]:][::-1] and ex.right[-1] == BAR
    assert ex.remaining[0] == 3 and ex.remaining[bars[1] - 1] == 2 and ex.remaining[bars[1]] == 1
    assert ex.remaining[-1] == 0 and ex.in_span[bars[1] - 2] == 0 and ex.in_span[bars[1] - 1] == 1
    short = span_example(seq, tok.positions(seq), 3, 1, 1, include_span=False)
    assert short.forward == seq[:head] + seq[bars[2]:bars[3]] and short.right == [EOS]
    with pytest.raises(ValueError, match="outside the piece"):
        span_example(seq, tok.positions(seq), 3, 2, 1)


def test_span_batches_are_a_function_of_the_step():
    tok = MelodyTokenizer()
    sampler = SpanSampler(tok, training_sequences(tok), batch=3, span_bars=(1, 2), context_bars=1, transpose=(-2, 2))
    a, b, c = sampler.batch_at(5), sampler.batch_at(5), sampler.batch_at(6)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.right_tokens, b.right_tokens)
    assert not torch.equal(a.tokens, c.tokens) or not torch.equal(a.right_tokens, c.right_tokens)
    assert (a.span_targets & (a.targets == BAR)).any()          # every span starts with its bar token


def test_plain_model_span_bits_are_its_token_nll_over_the_span():
    model, tok = train_tiny(steps=5)
    seq = training_sequences(tok)[2]
    (first, _), = eval_spans(seq, sizes=(1,))
    bars = bar_indices(seq)
    start, end = bars[first], bars[first + 1] if first + 1 < len(bars) else len(seq) - 1
    x = torch.tensor([seq[:-1]])
    with torch.no_grad():
        logits, _ = model(x, positions=torch.tensor([tok.positions(seq[:-1])]))
        nll = torch.nn.functional.cross_entropy(logits[0], torch.tensor(seq[1:]), reduction="none")
    expected = float(nll[start - 1:end - 1].sum()) / LN2
    got = span_bits_per_note(model, tok, [seq], sizes=(1,))
    assert got.nll_bits == pytest.approx(expected, rel=1e-5)
    assert got.notes == tok.count_notes(seq[start:end]) and got.files == 1


@pytest.mark.parametrize("attention", [False, True])
def test_an_infill_model_started_from_a_plain_model_scores_like_it(attention):
    plain, tok = train_tiny(steps=5, hidden=24)
    c = plain.config
    model = InfillRNN(InfillConfig(vocab_size=c.vocab_size, embed_dim=c.embed_dim, hidden_size=c.hidden_size,
                                   num_layers=1, dropout=0.0, position_classes=c.position_classes, context_bars=4,
                                   attention=attention))
    seqs = training_sequences(tok)
    assert span_bits_per_note(model, tok, seqs).nll_bits != pytest.approx(span_bits_per_note(plain, tok, seqs).nll_bits)
    model.init_from_plain(plain)
    assert span_bits_per_note(model, tok, seqs).nll_bits == pytest.approx(span_bits_per_note(plain, tok, seqs).nll_bits)
    gru, _ = train_tiny(cell="gru", steps=1, hidden=24)
    with pytest.raises(ValueError, match="another shape"):
        model.init_from_plain(gru)


# ---- training and the model file ----------------------------------------------------------

def test_infill_model_file_round_trip(infill_model, tmp_path, capsys):
    loaded = load_model(infill_model)
    assert loaded.is_infill and "infill" in loaded.summary()
    assert loaded.training["objective"] == "infill" and loaded.training["val_metric"] == "span bits per note"
    copy = save_model(tmp_path / "copy.model", loaded.model, loaded.tokenizer, loaded.training)
    again = load_model(copy)
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[name], tensor)
    assert main(["info", str(infill_model)]) == 0
    out = capsys.readouterr().out
    assert "training.objective:infill" in out.replace(" ", "")


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_infill_training_with_other_cells(folder, tmp_path, cell):
    result = train(infill_config(folder, tmp_path, cell=cell, steps=4))
    assert load_model(result.model_path).model.config.cell == cell and result.best_val_bits_per_note > 0


def test_interrupted_infill_run_resumes_exactly(folder, tmp_path):
    straight = train(infill_config(folder, tmp_path, out=str(tmp_path / "a.model")))
    seen = {"step": 0}
    config = infill_config(folder, tmp_path, out=str(tmp_path / "b.model"))
    first = train(config, progress=lambda p: seen.update(step=p.info.step), should_stop=lambda: seen["step"] >= 5)
    assert first.stopped_reason == "cancelled" and first.steps == 5
    resumed = train(dataclasses.replace(config, resume=True))
    assert resumed.steps == straight.steps == 10
    a = load_checkpoint(straight.checkpoint_dir / "last.ckpt").model_state
    b = load_checkpoint(resumed.checkpoint_dir / "last.ckpt").model_state
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, atol=0, rtol=0)
    assert resumed.best_val_bits_per_note == straight.best_val_bits_per_note


def test_infill_objective_config_errors(folder, tmp_path):
    with pytest.raises(ValueError, match="melody"):
        infill_config(folder, tmp_path, representation="performance")
    with pytest.raises(ValueError, match="infill_bars"):
        infill_config(folder, tmp_path, infill_bars=(3, 2))
    with pytest.raises(ValueError, match="init_from"):
        TrainConfig(folder="f", out="o", init_from="x.model")


# ---- composer.services.infill ---------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["infill", "plain"])
def test_only_the_span_of_the_melody_changes(which, infill_model, plain_model):
    loaded = load_model(infill_model if which == "infill" else plain_model)
    song = band(8, seed=3)                  # strings, melody (track 1), drums
    result = infill(loaded, song, InfillRequest(bars=(3, 4), count=3, seed=7))
    assert result.uses_right_context == (which == "infill") and result.span_beats == (8.0, 16.0)
    assert len(result.songs) == 3
    before = song.tracks[1].notes
    for out, span in zip(result.songs, result.span_tokens):
        notes = out.tracks[1].notes
        assert [n for n in notes if n.end <= 8] == [n for n in before if n.end <= 8]
        assert [n for n in notes if n.start >= 16] == [n for n in before if n.start >= 16]
        assert all(8 <= n.start and n.end <= 16 for n in notes if 8 < n.end and n.start < 16)
        assert other_tracks_bytes(out, 1) == other_tracks_bytes(song, 1)
        assert out.tempos == song.tempos and out.time_signatures == song.time_signatures
        assert span.count(BAR) == 2 and span[0] == BAR
        tok = loaded.tokenizer
        assert tok.decode_notes([BOS, *tok.meter_tokens((4, 4))] + span)[2] == 2


def test_key_scale_and_range_are_honoured(infill_model):
    loaded = load_model(infill_model)
    request = InfillRequest(bars=(2, 3), count=4, seed=1, key="F#", scale="major_pentatonic",
                            pitch_low=60, pitch_high=80)
    result = infill(loaded, band(6), request)
    allowed = allowed_pitch_classes("F#", "major_pentatonic")
    new = [n for s in result.songs for n in s.tracks[1].notes if 4 <= n.start < 12]
    assert new and all(n.pitch % 12 in allowed and 60 <= n.pitch <= 80 for n in new)


def test_notes_across_the_span_edges(plain_model):
    notes = [Note(0, 3, 60), Note(3, 5, 62), Note(5, 6, 64), Note(7.5, 9.5, 65), Note(9.5, 12, 67), Note(12, 16, 60)]
    song = Song(tracks=[Track(notes=notes, program=73, name="Flute")])
    result = infill(load_model(plain_model), song, InfillRequest(bars=(2, 2), count=2, seed=3))
    for out in result.songs:
        kept = out.tracks[0].notes
        assert Note(0, 3, 60) in kept and Note(3, 4, 62) in kept          # sounded into the span: cut at its start
        assert Note(9.5, 12, 67) in kept and Note(12, 16, 60) in kept     # after the span: untouched
        assert Note(7.5, 9.5, 65) not in kept and Note(5, 6, 64) not in kept   # started inside: replaced
        assert all(n.end <= 8 for n in kept if 4 <= n.start < 8)


def test_request_errors_name_the_bad_value(plain_model):
    loaded = load_model(plain_model)
    with pytest.raises(ComposerError, match="outside the song"):
        infill(loaded, band(4), InfillRequest(bars=(4, 5)))
    with pytest.raises(ComposerError, match="FIRST-LAST"):
        infill(loaded, band(4), InfillRequest(bars=(3, 2)))
    with pytest.raises(ConstraintError, match="Hb"):
        infill(loaded, band(4), InfillRequest(bars=(1, 1), key="Hb"))
    with pytest.raises(ComposerError, match="track 9"):
        infill(loaded, band(4), InfillRequest(bars=(1, 1), track=9))
    perf = load_model(tiny_model_file(plain_model.parent / "perf.model", kind="performance", steps=1))
    with pytest.raises(ComposerError, match="melody model"):
        infill(perf, band(4), InfillRequest(bars=(1, 1)))


def test_progress_and_cancel(infill_model):
    loaded = load_model(infill_model)
    seen = []
    infill(loaded, band(4), InfillRequest(bars=(2, 2), count=2, seed=0),
           progress=lambda p: seen.append((p.done, p.total)))
    assert seen[-1][0] == seen[-1][1] > 0 and all(d <= t for d, t in seen)
    with pytest.raises(Cancelled):
        infill(loaded, band(4), InfillRequest(bars=(2, 2)), should_stop=lambda: True)


def test_bars_up_to_the_end_of_the_file_can_be_rewritten(plain_model):
    loaded = load_model(plain_model)
    song = dataclasses.replace(band(4), length=24.0)          # the file ends 2 bars after the last note
    out = infill(loaded, song, InfillRequest(bars=(5, 6), count=1, seed=0)).songs[0]
    assert out.length == 24.0 and out.tracks[0].notes == song.tracks[0].notes
    a_tick_late = dataclasses.replace(band(4), length=16 + 1 / 220)   # pretty_midi ends a file a tick late
    with pytest.raises(ComposerError, match=r"bars 1-4\)"):
        infill(loaded, a_tick_late, InfillRequest(bars=(5, 5)))


@pytest.mark.parametrize("which", ["infill", "plain"])
def test_same_seed_same_variations_however_many_are_asked_for(which, infill_model, plain_model):
    loaded = load_model(infill_model if which == "infill" else plain_model)
    a = infill(loaded, band(4), InfillRequest(bars=(2, 3), count=2, seed=11))
    b = infill(loaded, band(4), InfillRequest(bars=(2, 3), count=2, seed=11))
    assert a.span_tokens == b.span_tokens and a.seed == 11
    more = infill(loaded, band(4), InfillRequest(bars=(2, 3), count=4, seed=11))
    assert more.span_tokens[:2] == a.span_tokens                # take i is its own: four takes start with the two
    other = infill(loaded, band(4), InfillRequest(bars=(2, 3), count=2, seed=12))
    assert other.span_tokens != a.span_tokens


def test_infill_model_for(infill_model, plain_model, tmp_path, monkeypatch):
    assert infill_model_for(infill_model) == infill_model
    monkeypatch.setattr(infill_module, "DEFAULT_INFILL_MODEL", infill_model)
    assert infill_model_for(plain_model) == infill_model
    perf = tiny_model_file(tmp_path / "perf.model", kind="performance", steps=1)
    assert infill_model_for(perf) is None
    monkeypatch.setattr(infill_module, "DEFAULT_INFILL_MODEL", tmp_path / "missing.model")
    assert infill_model_for(plain_model) is None


# ---- the command -------------------------------------------------------------------------------

def test_cli_writes_the_variations(infill_model, tmp_path, capsys):
    song = band(6, seed=2)
    write_song(song, tmp_path / "tune.mid")
    original = read_midi(tmp_path / "tune.mid")
    code = main(["infill", str(infill_model), str(tmp_path / "tune.mid"), "--bars", "3-4", "--count", "2",
                 "--out", str(tmp_path / "out"), "--seed", "5", "--key", "C", "--quiet"])
    assert code == 0
    paths = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in paths] == ["tune-infill-01.mid", "tune-infill-02.mid"]
    assert original.tracks[1].name == "Melody"
    for path in paths:
        written = read_midi(path)
        assert other_tracks_bytes(written, 1) == other_tracks_bytes(original, 1)
        assert [n for n in written.tracks[1].notes if not 8 <= n.start < 16] == \
            [n for n in original.tracks[1].notes if not 8 <= n.start < 16]
    assert "seed 5" in capsys.readouterr().err
    again = main(["infill", str(infill_model), str(tmp_path / "tune.mid"), "--bars", "3", "--count", "2",
                  "--out", str(tmp_path / "out")])
    assert again == 2 and "--force" in capsys.readouterr().err


def odd_resolution_file(tpb: int) -> bytes:
    """8 bars of 4/4 at `tpb` ticks per beat (notes on ticks no 480-tick grid holds), laid out
    as write_midi lays a file out: strings (one note a beat), melody (two a beat), drums."""
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000),
                                       mido.MetaMessage("time_signature", numerator=4, denominator=4),
                                       mido.MetaMessage("end_of_track", time=32 * tpb)]))
    for channel, name, program, per_beat, pitches in ((0, "Strings", 48, 1, [48, 52, 55]),
                                                      (1, "Melody", 73, 2, [72, 74, 76, 77, 79]),
                                                      (9, "Drums", 0, 2, [36, 42])):
        events, tick = [mido.MetaMessage("track_name", name=name),
                        mido.Message("program_change", channel=channel, program=program)], 0
        for k in range(32 * per_beat):
            start, length = k * tpb // per_beat + k % 3, tpb // 6 + 1 + k % 5
            events += [mido.Message("note_on", channel=channel, note=pitches[k % len(pitches)], velocity=80 + k % 9,
                                    time=start - tick),
                       mido.Message("note_off", channel=channel, note=pitches[k % len(pitches)], velocity=0,
                                    time=length)]
            tick = start + length
        midi.tracks.append(mido.MidiTrack(events + [mido.MetaMessage("end_of_track")]))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        out.append((tick, msg.copy(time=0)))
    return out


def note_ticks(track: mido.MidiTrack) -> list[tuple[int, int, int, int]]:
    """(on tick, off tick, pitch, velocity) of each note (monophonic tracks)."""
    ons, out = {}, []
    for tick, msg in absolute(track):
        if msg.type == "note_on":
            ons[msg.note] = (tick, msg.velocity)
        elif msg.type == "note_off":
            start, velocity = ons.pop(msg.note)
            out.append((start, tick, msg.note, velocity))
    return sorted(out)


@pytest.mark.parametrize("tpb", [220, 96])
def test_cli_keeps_the_files_ticks_per_beat_and_every_other_message(plain_model, tmp_path, tpb):
    source = tmp_path / "odd.mid"
    source.write_bytes(odd_resolution_file(tpb))
    code = main(["infill", str(plain_model), str(source), "--bars", "3-4", "--count", "2", "--seed", "1",
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    before = mido.MidiFile(source)
    for path in sorted((tmp_path / "out").iterdir()):
        after = mido.MidiFile(path)
        assert after.ticks_per_beat == tpb and after.length == pytest.approx(before.length)
        assert after.tracks[1] == before.tracks[1] and after.tracks[3] == before.tracks[3]   # message for message
        outside = lambda track: [n for n in note_ticks(track) if not 8 * tpb <= n[0] < 16 * tpb]
        assert outside(after.tracks[2]) == outside(before.tracks[2])    # the melody outside the span, tick for tick
        tempo_map = lambda track: [(t, m) for t, m in absolute(track) if m.type in ("set_tempo", "time_signature")]
        assert tempo_map(after.tracks[0]) == tempo_map(before.tracks[0])


@pytest.mark.parametrize("args, message", [
    (["--bars", "7-8"], "outside the song"),
    (["--bars", "2-1"], "FIRST-LAST"),
    (["--bars", "2", "--count", "0"], "count"),
    (["--bars", "2", "--scale", "nonsense"], "nonsense"),
])
def test_cli_errors_are_one_line_and_exit_2(plain_model, tmp_path, capsys, args, message):
    write_song(band(4), tmp_path / "tune.mid")
    code = main(["infill", str(plain_model), str(tmp_path / "tune.mid"), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error:") and message in err[-1]
    assert not (tmp_path / "o").exists()


def test_cli_missing_file_and_bad_bars(plain_model, tmp_path, capsys):
    assert main(["infill", str(plain_model), str(tmp_path / "none.mid"), "--bars", "1"]) == 2
    assert "none.mid" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["infill", str(plain_model), str(tmp_path / "none.mid"), "--bars", "five"])
    assert exc.value.code == 2


def test_generate_refuses_an_infill_model_with_one_line(infill_model, tmp_path, capsys):
    code = main(["generate", "--model", str(infill_model), "--out", str(tmp_path / "o"), "--bars", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "is an infill model" in err[-1] and "composer infill" in err[-1]


@pytest.mark.slow
def test_attention_variant_trains_samples_and_round_trips(folder, tmp_path):
    result = train(infill_config(folder, tmp_path, infill_attention=True, steps=4))
    loaded = load_model(result.model_path)
    assert loaded.model.config.attention and loaded.model.attn_query is not None
    out = infill(loaded, band(4), InfillRequest(bars=(2, 3), count=2, seed=0))
    assert all(span.count(BAR) == 2 for span in out.span_tokens)


def test_track_option_rewrites_that_track_only(plain_model):
    song = band(4)
    out = infill(load_model(plain_model), song, InfillRequest(bars=(2, 2), count=1, seed=0, track=0)).songs[0]
    assert out.tracks[1].notes == song.tracks[1].notes and out.tracks[2].notes == song.tracks[2].notes
    outside = lambda notes: [n for n in notes if not 4 <= n.start < 8]
    assert outside(out.tracks[0].notes) == outside(song.tracks[0].notes)
    assert len([n for n in out.tracks[0].notes if 4 <= n.start < 8]) < 12   # block chords became one line
    with pytest.raises(ComposerError, match="drum"):
        infill(load_model(plain_model), song, InfillRequest(bars=(2, 2), track=2))


@pytest.mark.system
def test_infill_run_under_two_gloo_processes_ends_with_identical_weights(folder, tmp_path):
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    from composer.model.modelfile import read_metadata
    from tests.training.test_distributed import _free_port, _worker
    config = infill_config(folder, tmp_path, out=str(tmp_path / "ddp.model"), steps=4, batch=2, device="cpu",
                           infill_attention=True, val_share=0.34)
    mp.spawn(_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    a, b = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert a.keys() == b.keys() and any(name.startswith("backward_rnn") for name in a)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=0, rtol=0)
    assert (tmp_path / "rank0.txt").read_text() == (tmp_path / "rank1.txt").read_text()
    meta = read_metadata(tmp_path / "ddp.model")
    assert meta["training"]["processes"] == 2 and meta["model"]["architecture"] == "infill"
