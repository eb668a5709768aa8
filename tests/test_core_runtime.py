"""The ONNX Runtime sampler step against eager PyTorch: same tokens, same files."""
import pytest
import torch

from composer.generate import GenerateRequest, generate
from composer.melody import MelodyTokenizer
from composer.midi_io import song_to_bytes
from composer.model import ModelConfig, MusicRNN
from composer.modelfile import LoadedModel
from composer.performance import PerformanceTokenizer
from composer.runtime import OnnxRunner, TorchRunner, make_runner

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
    request = dict(count=5, bars=3, seconds=2.0 if tok.kind == "performance" else None, seed=9, temperature=1.3,
                   primer="C4:1 E4:1 G4:1")
    out = {}
    for runtime in ("torch", "onnx"):
        monkeypatch.setenv("COMPOSER_RUNTIME", runtime)
        out[runtime] = [song_to_bytes(s) for s in generate(loaded, GenerateRequest(**request)).songs]
    assert out["torch"] == out["onnx"]
    assert list(tmp_path.glob("rnn-composer/onnx/*.onnx"))        # the exported step graph is cached


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


def test_step_logits_match_eager(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tok = MelodyTokenizer()
    model = model_for(tok, "lstm")
    tokens = torch.tensor([tok.encode_notes([], (4, 4), end=False)] * 3)
    positions = torch.tensor([tok.positions(tokens[0].tolist())] * 3)
    eager, onnx = TorchRunner(model), make_runner(model)
    with torch.no_grad():
        a, b = eager.prime(tokens, positions), onnx.prime(tokens, positions)
        for step in range(5):
            nxt = torch.full((3, 1), 10 + step)
            pos = torch.full((3, 1), step)
            a, b = eager.step(nxt, pos), onnx.step(nxt, pos)
            assert torch.allclose(a, b, atol=1e-5)
