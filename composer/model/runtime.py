"""How the sampler runs the RNN one step at a time.

Eager PyTorch spends most of a batch-1 step in per-call overhead; ONNX Runtime
runs the same step graph several times faster on the CPU (measured in
docs/benchmarks.md). So on the CPU, when onnxruntime is installed, the model's
one-step graph is exported once (cached on disk by a hash of the weights) and
run there; on GPUs, or if the export fails, the step runs in eager PyTorch.
Either way the logits agree with the eager model to ~1e-6. The graph and its
cache are in composer/model/onnx_export.py; this module holds the runners.

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

import logging
import os
import threading
import time

import numpy as np
import torch

from composer.model.network import MusicRNN
from composer.model.onnx_export import GRAPH_VERSION, cache_dir, export_step_graph, remove_older_graphs, weights_key

log = logging.getLogger(__name__)
_SESSIONS: dict[tuple[str, int], object] = {}
_CHOOSERS: dict[str, ThreadChooser] = {}
_LOCK = threading.Lock()
BIG_BATCH = 32          # steps of at least this many sequences may use more than one thread
# (shipped model, idle machine, median of 30: 2 threads vs 1 take 1.18x the time at 16 rows,
# 1.01x at 24, 0.80x at 32, 0.73x at 48)
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


def _session(model: MusicRNN, threads: int = 1):
    import onnxruntime as ort
    key = weights_key(model)
    with _LOCK:
        if (key, threads) in _SESSIONS:
            return _SESSIONS[key, threads]
        path = cache_dir() / f"{key}-{GRAPH_VERSION}.onnx"
        if not path.exists():
            export_step_graph(model, path)
            remove_older_graphs(path, key)
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


def thread_chooser(model: MusicRNN) -> ThreadChooser | None:
    """The chooser of this model's auto runners (None before one ran big steps)."""
    with _LOCK:
        return _CHOOSERS.get(weights_key(model))


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
            chooser = _CHOOSERS.setdefault(weights_key(model), ThreadChooser(_usable_cores()))
    return OnnxRunner(model, session, wide=lambda: _session(model, wide_threads), chooser=chooser)
