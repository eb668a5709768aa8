import numpy as np
import pytest
import torch
from tinymodels import scale_tune, tiny_model_file

from composer.errors import Cancelled, ComposerError, ConstraintError
from composer.model.modelfile import load_model
from composer.model.sampling import SamplingConfig, draw, filter_logits, sample, uniforms
from composer.music.midifile import song_to_bytes
from composer.music.song import Note
from composer.representations.base import EOS, Constraints
from composer.services.generate import GenerateRequest, generate, parse_note_list


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
    from composer.model import runtime
    monkeypatch.setenv("COMPOSER_RUNTIME", "torch")
    calls = []
    handle = melody_model.model.rnn.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:   # temperature 3: at 1.5 this tiny model gives dur:1 99.8 % of the time and all six end together
        result = run(melody_model, count=6, bars=4, seed=1, temperature=3.0)
    finally:
        handle.remove()
    assert len(result.songs) == 6
    expected = unfinished_after_each_token(result.tokens)
    assert calls[0] == 1 and calls[1:] == expected           # the prefix once; one batch; a finished one leaves
    assert len(expected) > 10 and expected[0] == 6 and expected[-1] < 6
    monkeypatch.setenv("COMPOSER_RUNTIME", "onnx")
    shapes = []
    real_step = runtime.OnnxRunner.step
    monkeypatch.setattr(runtime.OnnxRunner, "step", lambda self, t, p: shapes.append(t.shape) or real_step(self, t, p))
    again = run(melody_model, count=6, bars=4, seed=1, temperature=3.0)
    assert shapes == [(n, 1) for n in unfinished_after_each_token(again.tokens)]


def continuous_schedule(lengths: list[int], slots: int) -> list[int]:
    """The rows the RNN steps after each sampling step when variations of
    `lengths` sampled tokens take `slots` rows in order: a row whose variation
    ends goes to the next waiting one (which samples its first token on the
    next step), else it leaves the batch."""
    ends = [n - 1 for n in lengths[:slots]]          # the step of each row's last token
    waiting, step, shapes = len(ends), 0, []
    while ends:
        ended = [i for i, e in enumerate(ends) if e == step]
        for i in ended[:len(lengths) - waiting]:      # (their new last token is after this step)
            ends[i] = step + lengths[waiting]
            waiting += 1
        ends = [e for e in ends if e != step]
        if ends:
            shapes.append(len(ends))
        step += 1
    return shapes


@pytest.mark.parametrize("runtime_name", ["torch", "onnx"])
def test_more_variations_than_slots_keep_the_batch_full_and_the_music_does_not_depend_on_it(
        melody_model, monkeypatch, runtime_name):
    """Continuous batching: a variation that ends hands its row to the next
    waiting one, so the RNN steps `batch_size` rows until none wait; and
    variation i is the same music whatever the batch size."""
    from composer.model import runtime
    monkeypatch.setenv("COMPOSER_RUNTIME", runtime_name)
    runner_class = runtime.TorchRunner if runtime_name == "torch" else runtime.OnnxRunner
    shapes = []
    real_step = runner_class.step
    monkeypatch.setattr(runner_class, "step", lambda self, t, p: shapes.append(t.shape[0]) or real_step(self, t, p))
    songs = {}
    for batch_size in (1, 3, 12, 64):
        shapes.clear()
        # (4/4: at temperature 3 the model's own meters would be any, bars of very different lengths)
        result = run(melody_model, count=12, bars=2, seed=11, temperature=3.0, batch_size=batch_size,
                     time_signature=(4, 4))
        songs[batch_size] = [song_to_bytes(s) for s in result.songs]
        lengths = [len(t) - 1 for t in result.tokens]             # sampled tokens: all but the <bos> prefix
        assert shapes == continuous_schedule(lengths, batch_size)
        if batch_size == 3:     # full well past the first ends
            assert shapes.count(3) > 2 * max(lengths) and len(set(lengths)) > 2
    assert songs[1] == songs[3] == songs[12] == songs[64]
    assert len(set(songs[1])) == 12


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
    from composer.music.midifile import write_midi
    from composer.music.song import melody_song
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

    def progress(p):
        assert (p.unit, p.stage) == ("bar", "generating")
        seen.append((p.done, p.total, len(p.partial([0])[0].tracks[0].notes)))

    # free: with auto's ABAB of 1-bar phrases piece 1 of seed 0 is done before the midpoint; 4/4: in
    # the model's own choice of meter piece 0 of seed 0 is in 1/4 and done before the midpoint
    generate(melody_model, GenerateRequest(count=2, bars=4, seed=0, form="free", time_signature=(4, 4)),
             progress=progress)
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

    def progress(p):
        partial = p.partial
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

    def add(self, k):
        pass

    def restart(self, rows):
        pass


def sample_one_by_one(tok, constraints, count: int, cfg: SamplingConfig, seed: int, runner) -> list[list[int]]:
    """The plain loop, one variation at a time: its k-th token drawn with
    uniforms(seed, variation, k)."""
    out = []
    for v in range(count):
        grammar = tok.grammar(1, constraints, "cpu")
        grammar.update(torch.tensor([1]))                   # <bos>
        logits, row = runner.prime(torch.ones(1, 1, dtype=torch.long), None), [1]
        while not bool(grammar.done.all()):
            probs = torch.softmax(filter_logits(logits, grammar.mask(), cfg), dim=-1)
            nxt = draw(probs, torch.from_numpy(uniforms(seed, [v], [len(row) - 1]))[:, None])
            grammar.update(nxt[:, 0])
            row.append(int(nxt))
            logits = runner.step(nxt, None)
        out.append(row)
    return out


@pytest.mark.parametrize("cfg", [SamplingConfig(), SamplingConfig(temperature=1.4, top_p=0.9),
                                 SamplingConfig(top_k=5)])
def test_batched_and_continuous_sampling_give_each_variation_its_own_tokens(melody_model, cfg):
    """Dropping finished variations, starting waiting ones in their rows and
    batching itself change nothing: each variation is what the plain loop
    samples for it alone."""
    tok = melody_model.tokenizer
    runner = BigramRunner(tok.vocab_size)
    constraints = Constraints(bars=3)
    plain = sample_one_by_one(tok, constraints, 12, cfg, 5, runner)
    for slots in (12, 5, 1):
        ours = sample(melody_model.model, tok.grammar(1, constraints, "cpu"), [1], 12, cfg, slots=slots, seed=5,
                      prefix_positions=[0], runner=runner)
        assert ours == plain
    assert len({len(row) for row in plain}) > 3             # the variations finish at different steps


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
    """Why the draw needs no clamp: the largest uniform (1 - 2**-24) times any
    float32 near 1 rounds to a value below it, so the first running sum above
    it is a token of probability > 0."""
    one = np.float32(1.0).view(np.uint32)
    totals = np.arange(one - 2**16, one + 2**16, dtype=np.uint32).view(np.float32)   # 1 +- 2**16 ulps
    largest_u = np.float32(1) - np.float32(2**-24)
    u = uniforms(0, np.arange(1000).repeat(1000), np.tile(np.arange(1000), 1000))
    assert u.dtype == np.float32 and 0 <= float(u.min()) and float(u.max()) <= largest_u
    assert bool((totals * largest_u < totals).all())


def random_probs(batch: int, vocab: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, vocab, generator=gen) * 3
    masked = torch.rand(batch, vocab, generator=gen) < 0.5
    masked[:, 0] = False                                      # at least one allowed token per row
    return torch.softmax(logits.masked_fill(masked, float("-inf")), dim=-1)


def test_draw_is_the_inverse_cdf_of_one_uniform_per_sequence():
    probs = random_probs(300, 37, seed=1)
    u = torch.from_numpy(uniforms(4, np.arange(300), np.zeros(300, dtype=np.int64)))
    tokens = draw(probs, u[:, None])
    assert tokens.shape == (300, 1)
    assert tokens[:, 0].tolist() == reference_draw(probs, u)
    assert bool((probs.gather(1, tokens) > 0).all())          # a masked token is never drawn


def test_uniforms_depend_only_on_seed_variation_and_step():
    variations, steps = np.arange(10).repeat(5), np.tile(np.arange(5), 10)
    whole = uniforms(8, variations, steps)
    some = [3, 17, 22, 49]
    assert uniforms(8, variations[some], steps[some]).tolist() == whole[some].tolist()
    assert uniforms(8, variations, steps).tolist() == whole.tolist()
    assert len(set(whole.tolist())) == 50                     # no two (variation, step) pairs alike here
    other = uniforms(9, variations, steps)
    assert (other != whole).sum() == 50
    assert uniforms(8, [2**20], [7]).tolist() != uniforms(8, [7], [2**20]).tolist()


def test_uniforms_are_uniform_and_unrelated_across_steps_and_variations():
    n = 200
    u = uniforms(1, np.arange(n).repeat(n), np.tile(np.arange(n), n)).astype(np.float64).reshape(n, n)
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 43.8     # chi-square, 19 degrees of freedom, p = 0.001
    for a, b in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:])):         # next step; next variation
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02   # ~4 sigma at 40,000 pairs


def test_draw_frequencies_match_the_probabilities():
    probs = torch.tensor([0.05, 0.0, 0.25, 0.1, 0.0, 0.35, 0.2, 0.05])
    n = 40_000
    u = torch.from_numpy(uniforms(0, np.zeros(n, dtype=np.int64), np.arange(n)))[:, None]
    tokens = draw(probs.expand(n, -1).contiguous(), u)[:, 0]
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
    with pytest.raises(ConstraintError, match="3/32: a bar that does not fit the grid of 4 steps"):
        run(melody_model, bars=2, time_signature=(3, 32))


def test_a_frames_model_generates_bars_and_continues_a_primer():
    loaded = untrained_frames_model()
    songs = run(loaded, count=2, bars=2, seed=1, key="C", scale="major").songs
    for song in songs:
        assert song.end_beat <= 8 + 1e-9 and {n.pitch % 12 for n in song.tracks[0].notes} <= {0, 2, 4, 5, 7, 9, 11}
    primer = [Note(0, 1, 60), Note(0, 1, 64), Note(1, 2, 67)]
    kept = run(loaded, count=1, bars=1, seed=1, primer=primer).songs[0]
    assert [(n.start, n.pitch) for n in kept.tracks[0].notes[:3]] == [(0, 60), (0, 64), (1, 67)]
    assert kept.end_beat <= 2 + 4 + 1e-9
    assert run(loaded, count=1, seconds=3.0, seed=1).songs[0].end_beat <= 8 + 1e-9


def untrained_frames_model():
    from composer.model.modelfile import LoadedModel
    from composer.model.network import ModelConfig, MusicRNN
    from composer.representations.frames import FramesTokenizer
    tok = FramesTokenizer()
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, embed_dim=16, hidden_size=16, num_layers=1)).eval()
    return LoadedModel(model, tok)


@pytest.mark.parametrize("model_name, kwargs", [
    ("melody_model", dict(count=5, bars=2, seed=3, primer="C4:1 E4:1 G4:2", keep_primer=False)),
    ("performance_model", dict(count=5, seconds=2, seed=2)),
    ("frames", dict(count=5, bars=1, seed=4, key="C", scale="major"))])
def test_every_representation_gives_the_same_pieces_at_any_batch_size(model_name, kwargs, request):
    """The grammars' per-sequence state survives being restarted in a freed
    row (melody, performance and frames each keep it differently)."""
    model = untrained_frames_model() if model_name == "frames" else request.getfixturevalue(model_name)
    pieces = {b: [song_to_bytes(s) for s in run(model, batch_size=b, **kwargs).songs] for b in (1, 2, 5)}
    assert pieces[1] == pieces[2] == pieces[5]


@pytest.mark.parametrize("model_name", ["melody_model", "performance_model", "frames"])
def test_a_grammar_names_every_per_sequence_array_in_row_state(model_name, request):
    """keep/restart/repeat move only the arrays in `row_state`; one left out
    would be shared by all sequences. Seven sequences: every per-sequence
    array has length 7, nothing else does."""
    model = untrained_frames_model() if model_name == "frames" else request.getfixturevalue(model_name)
    constraints = Constraints(bars=2) if model_name != "performance_model" else Constraints(seconds=2)
    grammar = model.tokenizer.grammar(7, constraints, "cpu")
    per_row = {name for name, value in vars(grammar).items()
               if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim and len(value) == 7}
    assert per_row == set(grammar.row_state)
    assert grammar.repeat(3).size == 3


@pytest.mark.parametrize("runtime_name", ["torch", "onnx"])
def test_a_gru_model_gives_the_same_pieces_at_any_batch_size(tmp_path, monkeypatch, runtime_name):
    """A GRU's state is one tensor, not an LSTM's (h, c): restarting a row must work for both."""
    monkeypatch.setenv("COMPOSER_RUNTIME", runtime_name)
    model = load_model(tiny_model_file(tmp_path / "gru.model", "melody", cell="gru", steps=20))
    pieces = {b: [song_to_bytes(s) for s in run(model, count=6, bars=2, seed=8, temperature=2.0, batch_size=b).songs]
              for b in (1, 4, 6)}
    assert pieces[1] == pieces[4] == pieces[6] and len(set(pieces[1])) == 6


@pytest.mark.parametrize("model_name, kwargs", [
    ("melody_model", dict(count=12, bars=3, seed=5, temperature=3.0, batch_size=3)),
    ("performance_model", dict(count=6, seconds=2, seed=1, batch_size=2))])
def test_progress_never_goes_back_when_waiting_variations_start(model_name, kwargs, request):
    """A variation that ends counts whole; the one that takes its row starts
    at 0 (the slowest live row's progress times the rows would drop there)."""
    seen = []
    generate(request.getfixturevalue(model_name), GenerateRequest(**kwargs),
             progress=lambda p: seen.append((p.done, p.total)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] and len(set(done)) > 5
