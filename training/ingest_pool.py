"""Parse files in worker processes, so one bad file can only take its worker down.

A MIDI parser can crash the whole process (a segfault in a C extension, an
`os.abort()`), hang, or allocate without end. `run_contained` hands one file
at a time to each of `workers` processes; when a worker dies its file is
reported as "parser crashed (...)", when it takes longer than `timeout_s` the
worker is killed and its file reported as "timed out after N s"; either way
a fresh worker takes over and the run goes on. `should_stop()` is polled at
least every `POLL_S` seconds; on True every worker is killed and joined
before `Cancelled` is raised, so no process outlives the call.

Workers are forked where the platform allows it (Linux): they inherit the
already imported modules (importing torch anew would cost ~2 s per worker)
and the parse function and tokenizer need not be picklable. Elsewhere they
are spawned, and the parse function must be a module-level function.
"""
from __future__ import annotations

import faulthandler
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable, Iterable, Iterator

from composer.errors import Cancelled

POLL_S = 0.1          # how often should_stop() is asked while workers are busy, in seconds
JOIN_S = 2.0          # how long a finished worker may take to exit before it is killed, in seconds


@dataclass
class ParsedFile:
    """What a parse function returns for one file (plain data: it crosses processes)."""

    status: str                           # "used" | "skipped"
    reason: str = ""                      # why skipped, in a musician's words; "" when used
    tokens: list[int] = field(default_factory=list)
    n_notes: int = 0
    source: str = ""                      # which track(s) the tokens come from

    @classmethod
    def skipped(cls, reason: str) -> "ParsedFile":
        return cls("skipped", reason)

    @property
    def cacheable(self) -> bool:
        """False for outcomes that depend on this run, not on the file's bytes."""
        return not self.reason.startswith(("parser crashed", "timed out", "internal error"))


# parse(data, tokenizer, limits) -> ParsedFile; runs in the worker process
ParseFn = Callable[[bytes, object, object], ParsedFile]
# on_result(index, parsed, seconds) -> None; runs in the calling process
ResultFn = Callable[[int, ParsedFile, float], None]


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # not on Linux
        return max(1, os.cpu_count() or 1)


def _context():
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _worker_main(conn, parse: ParseFn, tokenizer, limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl+C is the parent's to handle
    faulthandler.disable()     # a crash is reported per file; an inherited stack dump would be noise
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, data = task
        start = time.perf_counter()
        try:
            parsed = parse(data, tokenizer, limits)
        except Exception as exc:     # a bug, not a bad file: report it, keep the worker
            parsed = ParsedFile.skipped(f"internal error: {type(exc).__name__}: {exc}")
        conn.send((index, parsed, time.perf_counter() - start))


class _Worker:
    def __init__(self, ctx, parse: ParseFn, tokenizer, limits):
        self.conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, parse, tokenizer, limits),
                                name="midi-ingest-worker", daemon=True)
        self.proc.start()
        child_conn.close()
        self.index: int | None = None     # the file it is parsing
        self.started = 0.0                # time.monotonic() when that file was sent

    def send(self, index: int, data: bytes) -> None:
        self.index, self.started = index, time.monotonic()
        self.conn.send((index, data))

    def stop(self, *, kill: bool) -> None:
        if not kill and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                kill = True
            else:
                self.proc.join(JOIN_S)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()
        self.proc.close()


def _crash_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"parser crashed (killed by {signal.Signals(-exitcode).name})"
        except ValueError:
            return f"parser crashed (killed by signal {-exitcode})"
    return f"parser crashed (exit code {exitcode})"


def run_contained(tasks: Iterable[tuple[int, bytes]], on_result: ResultFn, *, parse: ParseFn, tokenizer, limits,
                  workers: int, timeout_s: float, should_stop: Callable[[], bool] | None = None) -> int:
    """Parse every (index, data) of `tasks` in up to `workers` processes.

    `tasks` is consumed lazily, one item per free worker, so at most `workers`
    files are held in memory. Workers start only when a task arrives (an
    empty iterator starts none). Returns how many files were sent to a worker.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
    ctx = _context()
    pending: Iterator = iter(tasks)
    idle: list[_Worker] = []
    busy: list[_Worker] = []
    exhausted, sent, finished = False, 0, False

    def check_stop():
        if should_stop is not None and should_stop():
            raise Cancelled("scan cancelled")

    try:
        while True:
            check_stop()
            while not exhausted and (idle or len(busy) < workers):
                task = next(pending, None)      # may take a while (hashing, cache look-ups)
                if task is None:
                    exhausted = True
                    break
                worker = idle.pop() if idle else _Worker(ctx, parse, tokenizer, limits)
                worker.send(*task)
                busy.append(worker)
                sent += 1
                check_stop()
            if not busy:
                break
            deadline = min(w.started for w in busy) + timeout_s
            wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                 timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
            for worker in list(busy):
                outcome = _collect(worker, timeout_s)
                if outcome is None:
                    continue
                busy.remove(worker)
                index, parsed, seconds, alive = outcome
                if alive:
                    idle.append(worker)
                else:
                    worker.stop(kill=True)
                on_result(index, parsed, seconds)
        finished = True
    finally:
        for worker in idle + busy:
            worker.stop(kill=not finished)
    return sent


def _collect(worker: _Worker, timeout_s: float):
    """(index, parsed, seconds, worker still usable) if `worker` is done with its file, else None."""
    elapsed = time.monotonic() - worker.started
    if worker.conn.poll():
        try:
            index, parsed, seconds = worker.conn.recv()
            return index, parsed, seconds, True
        except (EOFError, OSError):
            pass                      # died mid-way: the exit code tells more
    if not worker.proc.is_alive() or worker.conn.closed:
        worker.proc.join()
        return worker.index, ParsedFile.skipped(_crash_reason(worker.proc.exitcode)), elapsed, False
    if elapsed > timeout_s:
        worker.proc.kill()
        worker.proc.join()
        return worker.index, ParsedFile.skipped(f"timed out after {timeout_s:g} s"), elapsed, False
    return None
