"""How the sampler runs the RNN one step at a time.

Eager PyTorch spends most of a batch-1 step in per-call overhead; ONNX Runtime
runs the same step graph several times faster on the CPU (measured in
docs/benchmarks.md). So on the CPU, when onnxruntime is installed, the model's
one-step graph is exported once (cached on disk by a hash of the weights) and
run there; on GPUs, or if the export fails, the step runs in eager PyTorch.
Either way the logits agree with the eager model to ~1e-6.

Set COMPOSER_RUNTIME=torch to force eager PyTorch, =onnx to require ONNX Runtime.

Threads: a step of fewer than BIG_BATCH sequences always runs on one thread
(a second one only adds hand-offs). A bigger step is compute-bound, so with
COMPOSER_SAMPLER_THREADS=auto (the default) it may run on up to
min(usable cores, 4) threads: when the load average leaves a core to spare,
the runner times both sessions on a few steps now and then and keeps the
faster (two threads win on an idle machine and lose when other processes hold
the cores; the logits are the same bits either way, so the choice never
changes the music). =N always uses N threads for big
steps, =1 never more than one (as before 2026-12).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from composer.model.network import MusicRNN, copy_bonus
from composer.safe_write import check_target

log = logging.getLogger(__name__)
_SESSIONS: dict[tuple[str, int], object] = {}
_CHOOSERS: dict[str, ThreadChooser] = {}
_LOCK = threading.Lock()
BIG_BATCH = 32          # steps of at least this many sequences may use more than one thread
# (shipped model, idle machine, median of 30: 2 threads vs 1 take 1.18x the time at 16 rows,
# 1.01x at 24, 0.80x at 32, 0.73x at 48)
GRAPH_VERSION = "g2"    # the exported step graph's layout (part of its cache file name)
MAX_THREADS = 4         # auto: a 64 x 256 LSTM step gains little from more


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def sampler_threads(setting: str | int | None = None) -> tuple[int, bool]:
    """(threads for steps of >= BIG_BATCH sequences, whether to choose by timing)
    from `setting` or COMPOSER_SAMPLER_THREADS: "auto" (default) or a count >= 1."""
    setting = os.environ.get("COMPOSER_SAMPLER_THREADS", "auto") if setting is None else setting
    if str(setting).strip().lower() == "auto":
        threads = max(1, min(_usable_cores(), MAX_THREADS))
        return threads, threads > 1
    try:
        threads = int(setting)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"COMPOSER_SAMPLER_THREADS must be 'auto' or a thread count >= 1, got {setting!r}")
    return threads, False


def _load_average() -> float:
    """Runnable processes, averaged over the last minute (0 where the OS does not say)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


class ThreadChooser:
    """Which of two sessions (1 thread, N threads) runs big steps, by timing.

    Every `spacing` big steps it runs PROBE steps on each, alternating, and keeps
    N threads if their median seconds per sequence is at least MARGIN lower than
    one thread's (a noisy near-tie goes to one thread, which leaves the other
    cores to the neighbours), else one thread; while the same one keeps winning
    the spacing doubles (up to MAX_SPACING), so on a steady machine the probes of
    the slower one cost well under 1 % of the steps. While the load average is at
    least the number of cores (no core to spare) it does not probe and stays on
    one thread: there a wrongly won probe (load changes by the second) cost up to
    `spacing` steps at about twice the time."""

    PROBE = 4
    MARGIN = 0.1
    MIN_SPACING, MAX_SPACING = 32, 1024

    def __init__(self, cores: int, clock=time.perf_counter, load=_load_average):
        self.cores, self.clock, self.load = cores, clock, load
        self.best = 1                        # 0: one thread, 1: N threads
        self.spacing = self.MIN_SPACING
        self.until_probe = 0                 # big steps left before the next probe
        self.samples: tuple[list[float], list[float]] = ([], [])
        self.steps = [0, 0]                  # big steps run on one thread, on N threads

    def pick(self) -> int:
        """0 (one thread) or 1 (N threads) for the next big step."""
        if self.until_probe > 0:
            return self.best
        if not (self.samples[0] or self.samples[1]) and self.load() >= self.cores:
            self.best, self.until_probe = 0, self.MIN_SPACING      # busy machine: look again later
            return 0
        return 1 if len(self.samples[1]) <= len(self.samples[0]) else 0

    def record(self, which: int, seconds: float, rows: int) -> None:
        """A big step of `rows` sequences took `seconds` on session `which`."""
        self.steps[which] += 1
        if self.until_probe > 0:
            self.until_probe -= 1
            return
        self.samples[which].append(seconds / rows)
        if min(len(s) for s in self.samples) < self.PROBE:
            return
        medians = [sorted(s)[len(s) // 2] for s in self.samples]
        winner = 1 if medians[1] < (1 - self.MARGIN) * medians[0] else 0
        self.spacing = min(2 * self.spacing, self.MAX_SPACING) if winner == self.best else self.MIN_SPACING
        self.best, self.until_probe, self.samples = winner, self.spacing, ([], [])


class TorchRunner:
    """Eager PyTorch: prime with the whole prefix, then one token per step."""

    name = "torch"

    def __init__(self, model: MusicRNN):
        self.model = model
        self.state = self.first = None

    def prime(self, tokens: torch.Tensor, positions: torch.Tensor | None,
              lookback: torch.Tensor | None = None) -> torch.Tensor:
        """Run the prefixes (B, P); `add` starts more sequences in the state of the first."""
        logits, self.state = self.model(tokens, positions=positions, lookback=lookback)     # (B, P, V)
        self.first = _rows(self.state, slice(0, 1))
        return logits[:, -1]                                             # (B, V)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor | None,
             lookback: torch.Tensor | None = None) -> torch.Tensor:
        logits, self.state = self.model(tokens, self.state, positions=positions, lookback=lookback)   # (B, 1, V)
        return logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with the sequences `rows` (indices into the current batch) only."""
        self.state = _rows(self.state, rows)                                     # (layers, B', H)

    def add(self, k: int) -> None:
        """Append k sequences in the state `prime` left its first one in."""
        joined = [torch.cat([s, f.expand(-1, k, -1)], 1) for s, f in zip(_parts(self.state), _parts(self.first))]
        self.state = tuple(joined) if isinstance(self.state, tuple) else joined[0]

    def restart(self, rows: torch.Tensor) -> None:
        """The sequences `rows` start again from the state `prime` left its first one in."""
        for now, first in zip(_parts(self.state), _parts(self.first)):
            now[:, rows] = first


def _parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _rows(state, rows):
    """The sequences `rows` (a LongTensor or a slice) of an RNN state (layers, B, H) or (h, c)."""
    if isinstance(state, tuple):
        return tuple(_rows(s, rows) for s in state)
    return state[:, rows] if isinstance(rows, slice) else state.index_select(1, rows)


class _StepGraph(torch.nn.Module):
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


class OnnxRunner(TorchRunner):
    """Primes in PyTorch (one call for the whole prefix), steps in ONNX Runtime:
    on one thread, or for steps of >= BIG_BATCH sequences on `wide` (a session
    with more threads; a callable that makes it on first use), always or as
    `chooser` finds faster."""

    name = "onnx"

    def __init__(self, model: MusicRNN, session, wide=None, chooser: ThreadChooser | None = None):
        super().__init__(model)
        self.session = session
        self.wide, self.chooser = wide, chooser
        self.lstm = model.config.cell == "lstm"
        self.inputs = {i.name for i in session.get_inputs()}   # the exporter drops unused ones

    def prime(self, tokens, positions, lookback=None):
        logits = super().prime(tokens, positions, lookback)
        h, c = self.state if self.lstm else (self.state, torch.zeros_like(self.state))
        self.h, self.c = h.contiguous().numpy(), c.contiguous().numpy()
        self.h0, self.c0 = self.h[:, :1].copy(), self.c[:, :1].copy()           # (layers, 1, H)
        return logits

    def step(self, tokens, positions, lookback=None):
        feeds = {"tokens": tokens.contiguous().numpy(), "h": self.h, "c": self.c}
        if positions is not None:
            feeds["positions"] = positions.contiguous().numpy()
        if lookback is not None:
            feeds["lookback"] = lookback.contiguous().numpy()
        feeds = {k: v for k, v in feeds.items() if k in self.inputs}
        rows = tokens.shape[0]
        if self.wide is None or rows < BIG_BATCH:
            logits, self.h, c = self.session.run(None, feeds)
        elif self.chooser is None:
            logits, self.h, c = self._wide().run(None, feeds)
        else:
            which = self.chooser.pick()
            session = self._wide() if which else self.session
            start = self.chooser.clock()
            logits, self.h, c = session.run(None, feeds)
            self.chooser.record(which, self.chooser.clock() - start, rows)
        self.c = c if self.lstm else self.c
        return torch.from_numpy(logits)

    def _wide(self):
        if callable(self.wide):
            try:
                self.wide = self.wide()
            except Exception as exc:  # more threads are optional: go on with the one-thread session
                log.warning("no multi-thread ONNX Runtime session, stepping on one thread: %s", exc)
                self.wide = self.session
        return self.wide

    def keep(self, rows: torch.Tensor) -> None:
        index = rows.cpu().numpy()
        self.h, self.c = self.h[:, index], self.c[:, index]                       # (layers, B', H)

    def add(self, k: int) -> None:
        self.h = np.concatenate([self.h, np.repeat(self.h0, k, axis=1)], axis=1)
        self.c = np.concatenate([self.c, np.repeat(self.c0, k, axis=1)], axis=1)

    def restart(self, rows: torch.Tensor) -> None:
        index = rows.cpu().numpy()
        self.h[:, index], self.c[:, index] = self.h0, self.c0


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


def _session(model: MusicRNN, threads: int = 1):
    import onnxruntime as ort
    key = _weights_key(model)
    with _LOCK:
        if (key, threads) in _SESSIONS:
            return _SESSIONS[key, threads]
        path = _cache_dir() / f"{key}-{GRAPH_VERSION}.onnx"
        if not path.exists():
            _export(model, path)
            _remove_older_graphs(path, key)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if threads > 1:
            # idle workers sleep instead of spinning: spinning took the neighbours' cores
            # (batch-64 step, 2 threads, load 4.3: 2.0 ms without spinning, 2.4 ms with)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        _SESSIONS[key, threads] = session
        return session


def _remove_older_graphs(path: Path, key: str) -> None:
    """Delete this model's step graphs of earlier layouts (`{key}.onnx` before
    "g2", `{key}-g1.onnx` ...), which nothing reads any more; a file another
    process still has open is left for next time."""
    for old in path.parent.glob(f"{key}*.onnx"):
        if old != path and re.fullmatch(rf"{key}(-g\d+)?\.onnx", old.name):
            try:
                old.unlink()
            except OSError as exc:
                log.debug("could not remove the old step graph %s: %s", old, exc)


def thread_chooser(model: MusicRNN) -> ThreadChooser | None:
    """The chooser of this model's auto runners (None before one ran big steps)."""
    with _LOCK:
        return _CHOOSERS.get(_weights_key(model))


def make_runner(model: MusicRNN, threads: str | int | None = None):
    """The fastest runner that is exact for this model and device. `threads`:
    as COMPOSER_SAMPLER_THREADS (which it overrides), "auto" or a count."""
    choice = os.environ.get("COMPOSER_RUNTIME", "auto")
    wide_threads, choose = sampler_threads(threads)
    device = next(model.parameters()).device
    if choice == "torch" or device.type != "cpu" or model.training:
        return TorchRunner(model)
    try:
        session = _session(model)
    except Exception as exc:  # optional accelerator: any failure falls back to eager torch
        if choice == "onnx":
            raise
        log.warning("ONNX Runtime unavailable, sampling with eager PyTorch: %s", exc)
        return TorchRunner(model)
    if wide_threads == 1:
        return OnnxRunner(model, session)
    chooser = None
    if choose:
        with _LOCK:
            chooser = _CHOOSERS.setdefault(_weights_key(model), ThreadChooser(_usable_cores()))
    return OnnxRunner(model, session, wide=lambda: _session(model, wide_threads), chooser=chooser)
