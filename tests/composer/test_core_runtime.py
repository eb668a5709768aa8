"""The ONNX Runtime sampler step against eager PyTorch: same tokens, same files."""
import pytest
import torch

from composer.model.modelfile import LoadedModel
from composer.model.network import ModelConfig, MusicRNN
from composer.model.runtime import BIG_BATCH, OnnxRunner, TorchRunner, make_runner
from composer.music.midifile import song_to_bytes
from composer.representations.melody import MelodyTokenizer
from composer.representations.performance import PerformanceTokenizer
from composer.services.generate import GenerateRequest, generate

pytest.importorskip("onnxruntime")


def model_for(tok, cell):
    torch.manual_seed(1)
    return MusicRNN(ModelConfig(vocab_size=tok.vocab_size, cell=cell, embed_dim=24, hidden_size=40, num_layers=2,
                                position_classes=tok.position_classes)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("tok", [MelodyTokenizer(), PerformanceTokenizer()], ids=["melody", "performance"])
def test_onnx_and_torch_runners_sample_the_same_music(monkeypatch, tmp_path, tok, cell):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loaded = LoadedModel(model_for(tok, cell), tok)
    length = dict(seconds=2.0) if tok.kind == "performance" else dict(bars=3)
    request = dict(count=5, seed=9, temperature=1.3, primer="C4:1 E4:1 G4:1", **length)
    out = {}
    for runtime in ("torch", "onnx"):
        monkeypatch.setenv("COMPOSER_RUNTIME", runtime)
        out[runtime] = [song_to_bytes(s) for s in generate(loaded, GenerateRequest(**request)).songs]
    assert out["torch"] == out["onnx"]
    assert list(tmp_path.glob("rnn-composer/onnx/*.onnx"))        # the exported step graph is cached


def test_a_new_graph_layout_replaces_the_old_cache_file(monkeypatch, tmp_path):
    from composer.model import runtime
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(runtime, "_SESSIONS", {})            # the same weights may be loaded from another test
    model = model_for(MelodyTokenizer(), "lstm")
    key = runtime.weights_key(model)
    cache = tmp_path / "rnn-composer" / "onnx"
    cache.mkdir(parents=True)
    old, other = cache / f"{key}.onnx", cache / "0123abcd.onnx"     # this model's old layout, another model's
    old.write_bytes(b"old layout"), other.write_bytes(b"another model")
    assert isinstance(make_runner(model), OnnxRunner)
    assert sorted(p.name for p in cache.glob("*.onnx")) == sorted([f"{key}-{runtime.GRAPH_VERSION}.onnx", other.name])


def test_runner_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = model_for(MelodyTokenizer(), "lstm")
    monkeypatch.setenv("COMPOSER_RUNTIME", "auto")
    assert isinstance(make_runner(model), OnnxRunner)
    monkeypatch.setenv("COMPOSER_RUNTIME", "torch")
    assert isinstance(make_runner(model), TorchRunner)
    monkeypatch.setenv("COMPOSER_RUNTIME", "auto")
    model.train()
    assert type(make_runner(model)) is TorchRunner          # dropout active: never a frozen graph


@pytest.mark.parametrize("cell, layers, tie, positions", [("lstm", 2, False, True), ("gru", 2, False, True),
                                                         ("rnn", 2, False, True), ("lstm", 3, True, False),
                                                         ("gru", 1, True, False), ("rnn", 1, False, False)])
def test_step_logits_match_eager(monkeypatch, tmp_path, cell, layers, tie, positions):
    """The exported step folds the first layer's input projection into lookup
    tables and writes the cells out; it must stay the eager model's function."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tok = MelodyTokenizer()
    torch.manual_seed(3)
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, cell=cell, embed_dim=24, hidden_size=40, num_layers=layers,
                                 tie_weights=tie, position_classes=tok.position_classes if positions else 0)).eval()
    with torch.no_grad():
        for p in model.parameters():            # weights big enough that a wrong gate or bias shows
            p.normal_(0, 0.5)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.tensor([tok.encode_notes([], (4, 4), end=False)] * 3)
    pos = torch.tensor([tok.positions(tokens[0].tolist())] * 3) if positions else None
    eager, onnx = TorchRunner(model), make_runner(model)
    assert isinstance(onnx, OnnxRunner)
    with torch.no_grad():
        a, b = eager.prime(tokens, pos), onnx.prime(tokens, pos)
        for _ in range(6):
            nxt = torch.randint(0, tok.vocab_size, (3, 1), generator=generator)
            pos = torch.randint(0, tok.position_classes, (3, 1), generator=generator) if positions else None
            a, b = eager.step(nxt, pos), onnx.step(nxt, pos)
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-5), (a - b).abs().max()
            assert a.abs().max() > 0.5


def test_sampler_threads_setting(monkeypatch):
    from composer.model.runtime import MAX_THREADS, sampler_threads
    monkeypatch.setenv("COMPOSER_SAMPLER_THREADS", "3")
    assert sampler_threads() == (3, False)
    assert sampler_threads(1) == (1, False)                    # the parameter overrides the variable
    threads, choose = sampler_threads("auto")
    assert 1 <= threads <= MAX_THREADS and choose == (threads > 1)
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match=repr(bad)):
            sampler_threads(bad)
    monkeypatch.setenv("COMPOSER_SAMPLER_THREADS", "lots")
    with pytest.raises(ValueError, match="'lots'"):              # not a silent fall-back to eager torch
        make_runner(model_for(MelodyTokenizer(), "lstm"))


@pytest.mark.parametrize("wide_seconds, chosen", [(0.5, 1), (0.95, 0), (2.0, 0)])
def test_thread_chooser_keeps_the_faster_session(wide_seconds, chosen):
    from composer.model.runtime import ThreadChooser
    chooser = ThreadChooser(cores=2, load=lambda: 1.0)
    picks = []
    for _ in range(2 * ThreadChooser.PROBE):                 # a probe: both sessions, alternating
        which = chooser.pick()
        picks.append(which)
        chooser.record(which, (wide_seconds if which else 1.0) * 64, 64)
    assert sorted(picks) == [0] * ThreadChooser.PROBE + [1] * ThreadChooser.PROBE
    assert chooser.best == chosen                              # N threads only if >= 10 % faster
    after = [chooser.pick() for _ in range(5)]
    assert after == [chosen] * 5
    for _ in range(chooser.spacing):                           # until the next probe: the winner only
        assert chooser.pick() == chosen
        chooser.record(chosen, 1.0, 64)
    assert chooser.steps[chosen] >= chooser.spacing


def test_thread_chooser_stays_on_one_thread_while_no_core_is_spare():
    from composer.model.runtime import ThreadChooser
    load = [4.5]
    chooser = ThreadChooser(cores=2, load=lambda: load[0])
    for _ in range(3 * ThreadChooser.MIN_SPACING):
        assert chooser.pick() == 0
        chooser.record(0, 1.0, 64)
    load[0] = 0.8                                              # the neighbours stopped: probe again
    for _ in range(ThreadChooser.MIN_SPACING):
        chooser.record(chooser.pick(), 1.0, 64)
    assert chooser.steps[1] > 0


def test_thread_count_never_changes_the_logits_or_the_music(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tok = MelodyTokenizer()
    loaded = LoadedModel(model_for(tok, "lstm"), tok)
    runners = [make_runner(loaded.model, threads) for threads in (1, 2)]
    assert runners[0].wide is None and runners[1].wide is not None
    rows = BIG_BATCH + 8
    tokens = torch.tensor([tok.encode_notes([], (4, 4), end=False)] * rows)
    positions = torch.tensor([tok.positions(tokens[0].tolist())] * rows)
    with torch.no_grad():
        for runner in runners:
            runner.prime(tokens, positions)
        for step in range(4):
            nxt, pos = torch.randint(10, 60, (rows, 1)), torch.full((rows, 1), step)
            narrow, wide = (runner.step(nxt, pos) for runner in runners)
            assert torch.equal(narrow, wide)                    # the same bits, not just close
    assert runners[1].wide.get_session_options().intra_op_num_threads == 2
    out = {}
    for threads in ("1", "2", "auto"):
        monkeypatch.setenv("COMPOSER_SAMPLER_THREADS", threads)
        songs = generate(loaded, GenerateRequest(count=BIG_BATCH + 4, bars=2, seed=4, temperature=1.3)).songs
        out[threads] = [song_to_bytes(s) for s in songs]
    assert out["1"] == out["2"] == out["auto"]


def test_a_failing_multi_thread_session_falls_back_to_one_thread(monkeypatch, tmp_path):
    from composer.model import runtime
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tok = MelodyTokenizer()
    model = model_for(tok, "lstm")
    runner = make_runner(model, 2)
    real_session = runtime._session

    def no_threads(model, threads=1):
        if threads > 1:
            raise RuntimeError("thread pool refused")
        return real_session(model, threads)

    monkeypatch.setattr(runtime, "_session", no_threads)
    rows = BIG_BATCH + 4
    tokens = torch.tensor([tok.encode_notes([], (4, 4), end=False)] * rows)
    positions = torch.tensor([tok.positions(tokens[0].tolist())] * rows)
    eager = TorchRunner(model)
    with torch.no_grad():
        eager.prime(tokens, positions), runner.prime(tokens, positions)
        nxt, pos = torch.full((rows, 1), 12), torch.zeros(rows, 1, dtype=torch.long)
        assert torch.allclose(runner.step(nxt, pos), eager.step(nxt, pos), atol=1e-5)
    assert runner.wide is runner.session
