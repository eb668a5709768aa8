"""How the sampler runs the RNN one step at a time.

Eager PyTorch spends most of a batch-1 step in per-call overhead; ONNX Runtime
runs the same step graph several times faster on the CPU (measured in
docs/benchmarks.md). So on the CPU, when onnxruntime is installed, the model's
one-step graph is exported once (cached on disk by a hash of the weights) and
run there; on GPUs, or if the export fails, the step runs in eager PyTorch.
Either way the logits agree with the eager model to ~1e-6.

Set COMPOSER_RUNTIME=torch to force eager PyTorch, =onnx to require ONNX Runtime.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

import torch

from .model import MusicRNN

log = logging.getLogger(__name__)
_SESSIONS: dict[str, object] = {}
_LOCK = threading.Lock()


class TorchRunner:
    """Eager PyTorch: prime with the whole prefix, then one token per step."""

    name = "torch"

    def __init__(self, model: MusicRNN):
        self.model = model
        self.state = None

    def prime(self, tokens: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        logits, self.state = self.model(tokens, positions=positions)     # (B, P, V)
        return logits[:, -1]                                             # (B, V)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        logits, self.state = self.model(tokens, self.state, positions=positions)   # (B, 1, V)
        return logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with the sequences `rows` (indices into the current batch) only."""
        if isinstance(self.state, tuple):
            self.state = tuple(s.index_select(1, rows) for s in self.state)      # (layers, B', H)
        else:
            self.state = self.state.index_select(1, rows)


class _StepGraph(torch.nn.Module):
    """One RNN step with the state as explicit inputs/outputs, for export."""

    def __init__(self, model: MusicRNN):
        super().__init__()
        self.model = model
        self.lstm = model.config.cell == "lstm"

    def forward(self, tokens, positions, h, c):
        state = (h, c) if self.lstm else h
        logits, new = self.model(tokens, state, positions=positions if self.model.pos_embed is not None else None)
        if self.lstm:
            return logits[:, -1], new[0], new[1]
        return logits[:, -1], new, c


class OnnxRunner(TorchRunner):
    """Primes in PyTorch (one call for the whole prefix), steps in ONNX Runtime."""

    name = "onnx"

    def __init__(self, model: MusicRNN, session):
        super().__init__(model)
        self.session = session
        self.lstm = model.config.cell == "lstm"
        self.inputs = {i.name for i in session.get_inputs()}   # the exporter drops unused ones

    def prime(self, tokens, positions):
        logits = super().prime(tokens, positions)
        h, c = self.state if self.lstm else (self.state, torch.zeros_like(self.state))
        self.h, self.c = h.contiguous().numpy(), c.contiguous().numpy()
        return logits

    def step(self, tokens, positions):
        feeds = {"tokens": tokens.contiguous().numpy(), "h": self.h, "c": self.c}
        if positions is not None:
            feeds["positions"] = positions.contiguous().numpy()
        logits, self.h, c = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})
        self.c = c if self.lstm else self.c
        return torch.from_numpy(logits)

    def keep(self, rows: torch.Tensor) -> None:
        index = rows.cpu().numpy()
        self.h, self.c = self.h[:, index], self.c[:, index]                       # (layers, B', H)


def _weights_key(model: MusicRNN) -> str:
    """A hash of config + weights, memoized on the model until a parameter changes
    (in-place updates bump each tensor's version counter)."""
    versions = tuple(p._version for p in model.parameters())
    cached = getattr(model, "_composer_weights_key", None)
    if cached and cached[0] == versions:
        return cached[1]
    key = _hash_weights(model)
    model._composer_weights_key = (versions, key)
    return key


def _hash_weights(model: MusicRNN) -> str:
    digest = hashlib.sha256(repr(model.config.to_dict()).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnn-composer" / "onnx"


def _export(model: MusicRNN, path: Path) -> None:
    c = model.config
    graph = _StepGraph(model).eval()
    args = (torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long),
            torch.zeros(c.num_layers, 2, c.hidden_size), torch.zeros(c.num_layers, 2, c.hidden_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, args, tmp, input_names=["tokens", "positions", "h", "c"],
                              output_names=["logits", "h2", "c2"], dynamo=False,
                              dynamic_axes={"tokens": {0: "B"}, "positions": {0: "B"}, "h": {1: "B"},
                                            "c": {1: "B"}, "logits": {0: "B"}, "h2": {1: "B"}, "c2": {1: "B"}})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _session(model: MusicRNN):
    import onnxruntime as ort
    key = _weights_key(model)
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        path = _cache_dir() / f"{key}.onnx"
        if not path.exists():
            _export(model, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1       # a step is small: threads cost more than they save
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        _SESSIONS[key] = session
        return session


def make_runner(model: MusicRNN):
    """The fastest runner that is exact for this model and device."""
    choice = os.environ.get("COMPOSER_RUNTIME", "auto")
    device = next(model.parameters()).device
    if choice == "torch" or device.type != "cpu" or model.training:
        return TorchRunner(model)
    try:
        return OnnxRunner(model, _session(model))
    except Exception as exc:  # optional accelerator: any failure falls back to eager torch
        if choice == "onnx":
            raise
        log.warning("ONNX Runtime unavailable, sampling with eager PyTorch: %s", exc)
        return TorchRunner(model)
