import pytest
import torch

from composer.errors import Cancelled, ComposerError, ConstraintError
from composer.generate import GenerateRequest, generate, parse_note_list
from composer.midi_io import song_to_bytes
from composer.modelfile import load_model
from composer.music import Note
from composer.sampling import SamplingConfig, draw, filter_logits, sample
from composer.tokenizer import EOS, PAD, Constraints

from tinymodels import scale_tune, tiny_model_file


@pytest.fixture(scope="module")
def melody_model(tmp_path_factory):
    return load_model(tiny_model_file(tmp_path_factory.mktemp("m") / "melody.model", "melody"))


@pytest.fixture(scope="module")
def performance_model(tmp_path_factory):
    return load_model(tiny_model_file(tmp_path_factory.mktemp("p") / "perf.model", "performance", steps=30))


def run(model, **kwargs):
    return generate(model, GenerateRequest(**kwargs))


def unfinished_after_each_token(tokens: list[list[int]]) -> list[int]:
    """How many sequences are still unfinished after each sampled token (the
    prefix is <bos>), for every step the sampler runs the RNN after."""
    ends = [row.index(EOS) for row in tokens]                     # the <eos> is sampled at step end - 1
    return [sum(end - 1 > step for end in ends) for step in range(max(ends) - 1)]


def test_variations_are_one_batch_through_the_rnn_until_they_finish(melody_model, monkeypatch):
    from composer import runtime
    monkeypatch.setenv("COMPOSER_RUNTIME", "torch")
    calls = []
    handle = melody_model.model.rnn.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:   # temperature 3: at 1.5 this tiny model gives dur:1 99.8 % of the time and all six end together
        result = run(melody_model, count=6, bars=4, seed=1, temperature=3.0)
    finally:
        handle.remove()
    assert len(result.songs) == 6
    expected = unfinished_after_each_token(result.tokens)
    assert calls[0] == 6 and calls[1:] == expected           # one batch; a finished variation leaves it
    assert len(expected) > 10 and expected[0] == 6 and expected[-1] < 6
    monkeypatch.setenv("COMPOSER_RUNTIME", "onnx")
    shapes = []
    real_step = runtime.OnnxRunner.step
    monkeypatch.setattr(runtime.OnnxRunner, "step", lambda self, t, p: shapes.append(t.shape) or real_step(self, t, p))
    again = run(melody_model, count=6, bars=4, seed=1, temperature=3.0)
    assert shapes == [(n, 1) for n in unfinished_after_each_token(again.tokens)]


@pytest.mark.parametrize("bars", [1, 3, 8])
def test_melody_has_exactly_the_requested_bars(melody_model, bars):
    result = run(melody_model, count=4, bars=bars, seed=bars)
    for song, tokens in zip(result.songs, result.tokens):
        _, ts, n_bars = melody_model.tokenizer.decode_notes(tokens)
        assert n_bars == bars
        assert song.end_beat <= bars * song.bar_length() + 1e-9


def test_same_seed_same_bytes_and_different_seed_different_notes(melody_model):
    def notes_and_bytes(seed):
        songs = run(melody_model, count=3, bars=4, seed=seed, temperature=1.5).songs
        return [s.tracks[0].notes for s in songs], [song_to_bytes(s) for s in songs]

    notes_a, bytes_a = notes_and_bytes(11)
    notes_b, bytes_b = notes_and_bytes(11)
    notes_c, _ = notes_and_bytes(12)
    assert bytes_a == bytes_b
    assert notes_c != notes_a


@pytest.mark.parametrize("key, scale, pcs", [("D", "dorian", {2, 4, 5, 7, 9, 11, 0}),
                                             ("F#", "major_pentatonic", {6, 8, 10, 1, 3}),
                                             ("A", "blues", {9, 0, 2, 3, 4, 7})])
def test_key_constraint_gives_only_in_scale_pitches(melody_model, key, scale, pcs):
    songs = run(melody_model, count=8, bars=4, seed=3, key=key, scale=scale, temperature=2.0).songs
    pitches = [n.pitch for s in songs for n in s.tracks[0].notes]
    assert pitches and {p % 12 for p in pitches} <= pcs


def test_pitch_range_is_honoured(melody_model, performance_model):
    for model, extra in ((melody_model, {"bars": 4}), (performance_model, {"seconds": 3})):
        songs = run(model, count=6, seed=5, pitch_low=62, pitch_high=69, temperature=2.0, **extra).songs
        pitches = [n.pitch for s in songs for n in s.tracks[0].notes]
        assert pitches and min(pitches) >= 62 and max(pitches) <= 69


def test_primer_notes_appear_at_the_start_and_can_be_dropped(melody_model):
    primer = scale_tune()[:6]          # 3 beats: the model completes bar 1, then 2 new bars
    kept = run(melody_model, count=3, bars=2, seed=2, primer=primer)
    for song in kept.songs:
        assert song.tracks[0].notes[:6] == primer
        assert song.end_beat <= 12 + 1e-9
    dropped = run(melody_model, count=3, bars=2, seed=2, primer=primer, keep_primer=False)
    for full, song in zip(kept.songs, dropped.songs):
        assert all(n.start >= 0 for n in song.tracks[0].notes) and song.end_beat <= 8 + 1e-9
        assert [(n.start + 4, n.pitch) for n in song.tracks[0].notes] == \
               [(n.start, n.pitch) for n in full.tracks[0].notes if n.start >= 4]


def test_primer_from_a_midi_file_and_from_a_note_list(melody_model, tmp_path):
    from composer.midi_io import write_midi
    from composer.music import melody_song
    path = write_midi(melody_song(scale_tune()[:4]), tmp_path / "p.mid")
    song = run(melody_model, count=1, bars=1, seed=0, primer=str(path)).songs[0]
    assert [n.pitch for n in song.tracks[0].notes[:4]] == [60, 62, 64, 65]
    song = run(melody_model, count=1, bars=1, seed=0, primer="C4:0.5 R:0.5 Eb4:1").songs[0]
    assert [(n.start, n.pitch) for n in song.tracks[0].notes[:2]] == [(0, 60), (1, 63)]
    assert parse_note_list("60:1/2 D#5") == [Note(0, 0.5, 60), Note(0.5, 1.5, 75)]
    with pytest.raises(ComposerError, match="H4"):
        parse_note_list("C4 H4")


def test_tempo_program_and_time_signature_are_written(melody_model):
    song = run(melody_model, count=1, bars=2, seed=0, tempo=84, program=73, time_signature=(3, 4)).songs[0]
    assert song.tempo == 84 and song.tracks[0].program == 73 and song.time_signature == (3, 4)
    assert song.end_beat <= 6 + 1e-9


def test_performance_length_in_seconds(performance_model):
    songs = run(performance_model, count=3, seconds=4.0, tempo=120, seed=1).songs
    for song in songs:
        assert song.duration_seconds <= 4.0 + 1e-6


def test_progress_streams_partial_results_and_cancel_stops(melody_model):
    seen = []

    def progress(done, total, partial):
        seen.append((done, total, len(partial([0])[0].tracks[0].notes)))

    generate(melody_model, GenerateRequest(count=2, bars=4, seed=0), progress=progress)
    assert seen[-1][:2] == (8, 8) and seen[0][1] == 8
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[len(seen) // 2][2] < seen[-1][2]          # notes stream in
    calls = iter(range(10**6))
    with pytest.raises(Cancelled):
        generate(melody_model, GenerateRequest(count=2, bars=64, seed=0), should_stop=lambda: next(calls) >= 5)


@pytest.mark.parametrize("model_name, kwargs", [
    ("melody_model", dict(count=5, bars=6, batch_size=3, seed=4, temperature=1.3)),
    ("melody_model", dict(count=3, bars=4, seed=2, primer="C4:1 E4:1 G4:2 R:1 D4:3")),
    ("melody_model", dict(count=3, bars=4, seed=2, primer="C4:1 E4:1 G4:2", keep_primer=False)),
    ("performance_model", dict(count=3, seconds=3, seed=1))])
def test_live_previews_are_the_songs_so_far_and_leave_the_result_unchanged(model_name, kwargs, request):
    """The previews decode only the rows asked for, and only each row's new
    tokens (test_core_tokenizers checks that against decoding from scratch);
    the final songs must be the same bytes as without previews, whichever
    rows were looked at and when."""
    model = request.getfixturevalue(model_name)
    req = GenerateRequest(**kwargs)
    everything, last_row, calls = [], [], iter(range(10**6))

    def progress(done, total, partial):
        k = next(calls)
        if k % 3 == 0:
            everything.append(partial())
        last_row.append(partial([req.count - 1])[0])
        if k == 0:
            with pytest.raises(IndexError, match=f"variation {req.count} does not exist"):
                partial([req.count])

    plain = generate(model, req)
    watched = generate(model, req, progress=progress)
    final = [song_to_bytes(s) for s in plain.songs]
    assert [song_to_bytes(s) for s in watched.songs] == final
    assert len(everything) > 5
    notes = [len(songs[0].tracks[0].notes) for songs in everything]
    assert notes == sorted(notes) and notes[0] < notes[-1]          # the first variation's notes stream in
    assert [song_to_bytes(s) for s in everything[-1]] == final
    ends = [len(s.tracks[0].notes) for s in last_row]
    assert ends == sorted(ends) and ends[0] < ends[-1] and song_to_bytes(last_row[-1]) == final[-1]


class BigramRunner:
    """A stand-in for the RNN whose logits depend only on each sequence's last
    token, so they are the same bits whatever the batch holds."""

    def __init__(self, vocab_size: int):
        self.table = torch.randn(vocab_size, vocab_size, generator=torch.Generator().manual_seed(0)) * 2

    def prime(self, tokens, positions):
        return self.table[tokens[:, -1]]

    def step(self, tokens, positions):
        return self.table[tokens[:, -1]]

    def keep(self, rows):
        pass


def sample_whole_batch(grammar, batch: int, cfg: SamplingConfig, generator, runner) -> torch.Tensor:
    """The plain loop: every sequence through every step, one draw over the whole batch."""
    grammar.update(torch.full((batch,), 1))                 # <bos>
    logits, out = runner.prime(torch.ones(batch, 1, dtype=torch.long), None), []
    while not bool(grammar.done.all()):
        probs = torch.softmax(filter_logits(logits, grammar.mask(), cfg), dim=-1)
        nxt = draw(probs, generator)
        grammar.update(nxt[:, 0])
        out.append(nxt)
        logits = runner.step(nxt, None)
    return torch.cat([torch.ones(batch, 1, dtype=torch.long)] + out, dim=1)


@pytest.mark.parametrize("cfg", [SamplingConfig(), SamplingConfig(temperature=1.4, top_p=0.9),
                                 SamplingConfig(top_k=5)])
def test_dropping_finished_variations_samples_the_same_tokens_as_the_whole_batch(melody_model, cfg):
    tok = melody_model.tokenizer
    runner = BigramRunner(tok.vocab_size)
    constraints = Constraints(bars=3)
    ours = sample(melody_model.model, tok.grammar(12, constraints, "cpu"), [1], 12, cfg, prefix_positions=[0],
                  generator=torch.Generator().manual_seed(5), runner=runner)
    plain = sample_whole_batch(tok.grammar(12, constraints, "cpu"), 12, cfg, torch.Generator().manual_seed(5), runner)
    ends = [row.index(EOS) for row in ours.tolist()]
    assert len(set(ends)) > 3                               # the variations finish at different steps
    assert torch.equal(ours, plain)


def reference_draw(probs: torch.Tensor, uniforms: torch.Tensor) -> list[int]:
    """Inverse CDF row by row in plain Python: the first token whose running
    sum exceeds u times the row's sum (in float32, as the sampler computes it)."""
    tokens = []
    for row, u in zip(probs, uniforms):
        cdf = torch.cumsum(row, 0)
        target = float(u * cdf[-1])
        tokens.append(next(i for i, c in enumerate(cdf.tolist()) if c > target))
    return tokens


def test_u_times_the_total_stays_below_the_total():
    """Why the draw needs no clamp: the largest uniform torch.rand gives (1 - 2**-24)
    times any float32 near 1 rounds to a value below it, so the first running
    sum above it is a token of probability > 0."""
    import numpy as np
    one = np.float32(1.0).view(np.uint32)
    totals = np.arange(one - 2**16, one + 2**16, dtype=np.uint32).view(np.float32)   # 1 +- 2**16 ulps
    largest_u = np.float32(1) - np.float32(2**-24)
    assert float(torch.rand(10**6, generator=torch.Generator().manual_seed(0)).max()) <= largest_u
    assert bool((totals * largest_u < totals).all())


def random_probs(batch: int, vocab: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, vocab, generator=gen) * 3
    masked = torch.rand(batch, vocab, generator=gen) < 0.5
    masked[:, 0] = False                                      # at least one allowed token per row
    return torch.softmax(logits.masked_fill(masked, float("-inf")), dim=-1)


def test_draw_is_the_inverse_cdf_of_one_uniform_per_sequence():
    probs = random_probs(300, 37, seed=1)
    tokens = draw(probs, torch.Generator().manual_seed(4))
    uniforms = torch.rand(300, 1, generator=torch.Generator().manual_seed(4))[:, 0]
    assert tokens.shape == (300, 1)
    assert tokens[:, 0].tolist() == reference_draw(probs, uniforms)
    assert bool((probs.gather(1, tokens) > 0).all())          # a masked token is never drawn


def test_a_sequences_draw_does_not_depend_on_which_others_are_live():
    probs = random_probs(10, 20, seed=2)
    whole = draw(probs, torch.Generator().manual_seed(8))
    live = torch.tensor([0, 3, 4, 9])
    part = draw(probs[live], torch.Generator().manual_seed(8), live, 10)
    assert part[live].tolist() == whole[live].tolist()
    assert set(part[:, 0].tolist()) - set(whole[live, 0].tolist()) == {PAD}


def test_draw_same_seed_same_tokens_different_seed_different_tokens():
    probs = random_probs(64, 50, seed=3)
    a, b, c = (draw(probs, torch.Generator().manual_seed(s)) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_draw_frequencies_match_the_probabilities():
    probs = torch.tensor([0.05, 0.0, 0.25, 0.1, 0.0, 0.35, 0.2, 0.05])
    n = 40_000
    tokens = draw(probs.expand(n, -1).contiguous(), torch.Generator().manual_seed(0))[:, 0]
    counts = torch.bincount(tokens, minlength=8).double()
    assert counts[1] == 0 and counts[4] == 0
    allowed = probs > 0
    expected = probs[allowed].double() * n
    chi2 = float(((counts[allowed] - expected) ** 2 / expected).sum())
    assert chi2 < 20.5                                        # chi-square, 5 degrees of freedom, p = 0.001


def test_filter_logits_top_k_top_p_and_mask():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    allowed = torch.tensor([[True, True, True, True, False]])
    out = filter_logits(logits, allowed, SamplingConfig(top_k=2))
    assert torch.isfinite(out).tolist() == [[True, True, False, False, False]]
    out = filter_logits(logits, torch.tensor([[False, True, True, True, True]]), SamplingConfig(top_k=1))
    assert torch.isfinite(out).tolist() == [[False, True, False, False, False]]
    probs = torch.softmax(logits, -1)[0]
    out = filter_logits(logits, allowed, SamplingConfig(top_p=float(probs[0]) + 0.01))
    assert torch.isfinite(out).tolist() == [[True, True, False, False, False]]
    out = filter_logits(logits, allowed, SamplingConfig(top_p=0.01))
    assert torch.isfinite(out).tolist() == [[True, False, False, False, False]]


@pytest.mark.parametrize("kwargs, message", [
    ({"count": -1}, "count"), ({"temperature": 0}, "temperature"), ({"top_p": 1.5}, "top-p"),
    ({"key": "H"}, "unknown key 'H'"), ({"scale": "bebop9"}, "unknown scale"), ({"tempo": 0}, "tempo"),
    ({"program": 128}, "program"), ({"pitch_low": 80, "pitch_high": 70}, "pitch range"),
])
def test_bad_requests_name_the_bad_value(melody_model, kwargs, message):
    with pytest.raises(ComposerError, match=message):
        run(melody_model, **kwargs)


def test_impossible_constraints_are_reported(melody_model):
    with pytest.raises(ConstraintError, match="no pitch"):
        run(melody_model, bars=2, pitch_low=100, pitch_high=110)
    with pytest.raises(ConstraintError, match="7/8"):
        run(melody_model, bars=2, time_signature=(7, 8))


def test_a_frames_model_generates_bars_and_continues_a_primer():
    from composer.frames import FramesTokenizer
    from composer.model import ModelConfig, MusicRNN
    from composer.modelfile import LoadedModel
    tok = FramesTokenizer()
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, embed_dim=16, hidden_size=16, num_layers=1)).eval()
    loaded = LoadedModel(model, tok)
    songs = run(loaded, count=2, bars=2, seed=1, key="C", scale="major").songs
    for song in songs:
        assert song.end_beat <= 8 + 1e-9 and {n.pitch % 12 for n in song.tracks[0].notes} <= {0, 2, 4, 5, 7, 9, 11}
    primer = [Note(0, 1, 60), Note(0, 1, 64), Note(1, 2, 67)]
    kept = run(loaded, count=1, bars=1, seed=1, primer=primer).songs[0]
    assert [(n.start, n.pitch) for n in kept.tracks[0].notes[:3]] == [(0, 60), (0, 64), (1, 67)]
    assert kept.end_beat <= 2 + 4 + 1e-9
    assert run(loaded, count=1, seconds=3.0, seed=1).songs[0].end_beat <= 8 + 1e-9
