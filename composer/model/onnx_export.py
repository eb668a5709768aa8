"""The model's one-step graph for ONNX Runtime: the step written out with its
first layer folded into lookup tables (StepGraph), exported once per set of
weights (export_step_graph) to a cache file named by a hash of the config and
weights (weights_key, cache_dir); composer.model.runtime runs it."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path

import torch

from composer.model.network import MusicRNN, copy_bonus
from composer.safe_write import check_target

log = logging.getLogger(__name__)
GRAPH_VERSION = "g2"    # the exported step graph's layout (part of its cache file name)


class StepGraph(torch.nn.Module):
    """One step of the model written out for export, the state as explicit
    inputs/outputs (tokens (B, 1), positions (B, 1), h and c (layers, B, H);
    a GRU or RNN passes c through unchanged).

    The first layer's input projection is folded into lookup tables: the
    embedding times W_ih plus the biases is a (V, gates x H) table, the
    position embedding times W_ih a (P, gates x H) one, so a step gathers a row
    instead of multiplying by the embed x (gates x H) matrix (for the default
    2 x 256 LSTM with 128-wide embeddings that is 14 % of each sequence's
    work in a step, the part that grows with the batch). Later layers multiply
    [x, h] by one stacked matrix. The same algebra in another order: the
    logits agree with the eager model to ~1e-6 (tests/composer/test_core_runtime.py)."""

    def __init__(self, model: MusicRNN):
        super().__init__()
        c = model.config
        self.cell, self.layers = c.cell, c.num_layers
        self.proj, self.head = model.proj, model.head
        rnn = model.rnn
        gru = self.cell == "gru"
        with torch.no_grad():
            w0, b0 = rnn.weight_ih_l0, rnn.bias_ih_l0
            # a GRU's hidden bias stays with W_hh h: the reset gate scales that part
            self.register_buffer("table", model.embed.weight @ w0.T + b0 + (0 if gru else rnn.bias_hh_l0))
            self.register_buffer("pos_table", model.pos_embed.weight @ w0.T if model.pos_embed is not None else None)
            self.lookback_bars = len(c.lookback)
            if c.lookback:          # the lookback and repeat-flag embeddings folded the same way
                self.register_buffer("lookback_table", model.lookback_embed.weight @ w0.T)
                self.register_buffer("repeat_table", model.repeat_embed.weight @ w0.T)
                self.register_buffer("lookback_offsets", torch.arange(len(c.lookback)) * c.vocab_size)
            self.copy_gate, self.vocab_size = model.copy_gate, c.vocab_size
            for k in range(self.layers):
                w_hh, b_hh = getattr(rnn, f"weight_hh_l{k}"), getattr(rnn, f"bias_hh_l{k}")
                w_ih, b_ih = (getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"bias_ih_l{k}")) if k else (None, None)
                if gru:
                    self.register_buffer(f"wh{k}", w_hh.T.contiguous())
                    self.register_buffer(f"bh{k}", b_hh.clone())
                    if k:
                        self.register_buffer(f"wi{k}", w_ih.T.contiguous())
                        self.register_buffer(f"bi{k}", b_ih.clone())
                elif k:                            # [x, h] @ [W_ih; W_hh] + both biases
                    self.register_buffer(f"w{k}", torch.cat([w_ih, w_hh], 1).T.contiguous())
                    self.register_buffer(f"b{k}", b_ih + b_hh)
                else:                              # layer 0: only h @ W_hh, the rest is in the tables
                    self.register_buffer(f"w{k}", w_hh.T.contiguous())

    def forward(self, tokens, positions, h, c, lookback=None):
        x_in = self.table[tokens[:, 0]]                                   # (B, gates x H)
        if self.pos_table is not None:
            x_in = x_in + self.pos_table[positions[:, 0]]
        n = self.lookback_bars
        if n:                                                             # lookback (B, 1, n + 1)
            x_in = (x_in + self.lookback_table[lookback[:, 0, :n] + self.lookback_offsets].sum(1)
                    + self.repeat_table[lookback[:, 0, n]])
        hs, cs, x = [], [], None
        for k in range(self.layers):
            hk = h[k]
            if self.cell == "gru":                # gates r, z, n as in torch.nn.GRU
                gi = x_in if k == 0 else x @ getattr(self, f"wi{k}") + getattr(self, f"bi{k}")
                gh = hk @ getattr(self, f"wh{k}") + getattr(self, f"bh{k}")
                ir, iz, i_n = gi.chunk(3, -1)
                hr, hz, h_n = gh.chunk(3, -1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                x = (1 - z) * torch.tanh(i_n + r * h_n) + z * hk
            else:
                w = getattr(self, f"w{k}")
                gates = x_in + hk @ w if k == 0 else torch.cat([x, hk], 1) @ w + getattr(self, f"b{k}")
                if self.cell == "rnn":             # torch.nn.RNN's default tanh
                    x = torch.tanh(gates)
                else:                              # gates i, f, g, o as in torch.nn.LSTM
                    i, f, g, o = gates.chunk(4, -1)
                    ck = torch.sigmoid(f) * c[k] + torch.sigmoid(i) * torch.tanh(g)
                    x = torch.sigmoid(o) * torch.tanh(ck)
                    cs.append(ck)
            hs.append(x)
        out = self.head(self.proj(x) if self.proj is not None else x)
        if self.copy_gate is not None:
            out = out + copy_bonus(self.copy_gate(x), lookback[:, 0, :n], self.vocab_size)
        return out, torch.stack(hs), torch.stack(cs) if cs else c


def weights_key(model: MusicRNN) -> str:
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


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnn-composer" / "onnx"


def export_step_graph(model: MusicRNN, path: Path) -> None:
    """Export the one-step graph of `model` to `path` (atomically: a temporary file, then a rename)."""
    c = model.config
    graph = StepGraph(model).eval()
    args = (torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long),
            torch.zeros(c.num_layers, 2, c.hidden_size), torch.zeros(c.num_layers, 2, c.hidden_size))
    names = ["tokens", "positions", "h", "c"]
    axes = {"tokens": {0: "B"}, "positions": {0: "B"}, "h": {1: "B"}, "c": {1: "B"}, "logits": {0: "B"},
            "h2": {1: "B"}, "c2": {1: "B"}}
    if c.lookback:      # (only then: the graphs of other models stay as they were)
        args += (torch.zeros(2, 1, len(c.lookback) + 1, dtype=torch.long),)
        names.append("lookback")
        axes["lookback"] = {0: "B"}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, args, tmp, input_names=names,
                              output_names=["logits", "h2", "c2"], dynamo=False, dynamic_axes=axes)
        check_target(path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_older_graphs(path: Path, key: str) -> None:
    """Delete this model's step graphs of earlier layouts (`{key}.onnx` before
    "g2", `{key}-g1.onnx` ...), which nothing reads any more; a file another
    process still has open is left for next time."""
    for old in path.parent.glob(f"{key}*.onnx"):
        if old != path and re.fullmatch(rf"{key}(-g\d+)?\.onnx", old.name):
            try:
                old.unlink()
            except OSError as exc:
                log.debug("could not remove the old step graph %s: %s", old, exc)
