"""Parse files in worker processes, so one bad file can only take its worker down.

A MIDI parser can crash the whole process (a segfault in a C extension, an
`os.abort()`), hang, or allocate without end. `run_contained` hands files to
`workers` processes, each parsing one file at a time (up to `PREFETCH` small
files are queued ahead, so a worker never waits for the parent). When a
worker dies, the file it was parsing is reported as "parser crashed (...)";
when one file takes longer than `timeout_s` the worker is killed and the file
reported as "timed out after N s"; either way the files queued behind it go
to a fresh worker and the run goes on. `should_stop()` is polled at
least every `POLL_S` seconds; on True every worker is killed and joined
before `Cancelled` is raised, so no process outlives the call.

Workers are forked on Linux: they inherit the already imported modules
(importing torch anew would cost ~2 s per worker) and the parse function and
tokenizer need not be picklable. Elsewhere (macOS, Windows) they are spawned,
and the parse function must be a module-level function.
"""
from __future__ import annotations

import faulthandler
import gc
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from composer.errors import Cancelled

POLL_S = 0.1          # how often should_stop() is asked while workers are busy, in seconds
JOIN_S = 2.0          # how long a finished worker may take to exit before it is killed, in seconds
PREFETCH = 4          # files queued per worker, so it never waits for the parent between files
PREFETCH_BYTES = 8_192    # ... if they fit in the socket buffer together (8 KB on macOS): a send never blocks


@dataclass
class ParsedFile:
    """What a parse function returns for one file (plain data: it crosses processes)."""

    status: str                           # "used" | "skipped"
    reason: str = ""                      # why skipped, in a musician's words; "" when used
    tokens: list[int] = field(default_factory=list)
    n_notes: int = 0
    source: str = ""                      # which track(s) the tokens come from

    @classmethod
    def skipped(cls, reason: str) -> ParsedFile:
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


START_METHOD: str | None = None   # None: "fork" on Linux, else "spawn" (tests set "spawn" to cover that path)


def _context():
    # fork only on Linux: macOS system libraries are not fork-safe (Python's default there is spawn)
    return mp.get_context(START_METHOD or ("fork" if sys.platform.startswith("linux") else "spawn"))


READY = ("ready",)
STARTUP_S = 120.0      # how long a worker may take to start before its first file counts as lost


def _worker_main(conn, parse: ParseFn, tokenizer, limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl+C is the parent's to handle
    faulthandler.disable()     # a crash is reported per file; an inherited stack dump would be noise
    conn.send(READY)           # start-up (a spawned worker imports torch) is not the first file's time
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
        except Exception as exc:  # noqa: BLE001 -- a bug, not a bad file: report it, keep the worker
            parsed = ParsedFile.skipped(f"internal error: {type(exc).__name__}: {exc}")
        conn.send((index, parsed, time.perf_counter() - start))


class _Worker:
    """One worker process and the files sent to it, oldest (the one it is parsing) first."""

    def __init__(self, ctx, parse: ParseFn, tokenizer, limits):
        self.conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, parse, tokenizer, limits),
                                name="midi-ingest-worker", daemon=True)
        # A forked child inherits every object of the parent (torch, Qt...): frozen, its garbage
        # collector skips them, instead of walking (and copying-on-write) the whole heap again and again.
        gc.freeze()
        try:
            self.proc.start()
        finally:
            gc.unfreeze()
        child_conn.close()
        self.queue: deque[tuple[int, bytes]] = deque()
        self.head_since = 0.0     # time.monotonic() when the file at the head was started (or sent)
        self.broken = False       # a send failed: the process is dying
        self.ready = False        # the process has started and waits for files

    def limit(self, timeout_s: float) -> float:
        """Seconds the head file may take: the per-file limit once the worker runs,
        plus start-up time before that."""
        return timeout_s if self.ready else max(STARTUP_S, timeout_s)

    def has_room(self, size: int) -> bool:
        """Can a file of `size` bytes be queued without risking a blocking send?
        Small files are queued (up to PREFETCH) so the worker never waits for
        the parent; a big one goes only to a worker with nothing queued."""
        if not self.queue:
            return True
        return (len(self.queue) < PREFETCH and not self.broken
                and size + sum(len(d) for _, d in self.queue) <= PREFETCH_BYTES)

    def send(self, index: int, data: bytes) -> None:
        if not self.queue:
            self.head_since = time.monotonic()
        self.queue.append((index, data))
        try:
            self.conn.send((index, data))
        except OSError:
            self.broken = True    # reported when the process is found dead

    def stop(self, *, kill: bool) -> None:
        if not kill and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
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

    `tasks` is consumed lazily, a few small files per worker ahead, so only
    those are held in memory. Workers start only when a task arrives (an
    empty iterator starts none). When a worker dies or times out, its file is
    reported and the files queued behind it go to the next worker. Returns
    how many files were parsed (or lost a worker).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
    ctx = _context()
    pending: Iterator = iter(tasks)
    retry: deque[tuple[int, bytes]] = deque()    # queued behind a file that crashed its worker
    pool: list[_Worker] = []
    task, done, finished = None, 0, False

    def check_stop():
        if should_stop is not None and should_stop():
            raise Cancelled("scan cancelled")

    try:
        while True:
            check_stop()
            while True:                          # hand out files while some worker has room
                if task is None:
                    task = retry.popleft() if retry else next(pending, None)   # may hash, look up the cache
                    if task is None:
                        break
                    check_stop()
                worker = min((w for w in pool if w.has_room(len(task[1]))), key=lambda w: len(w.queue),
                             default=None)
                if worker is None or (worker.queue and len(pool) < workers):
                    if len(pool) >= workers:
                        break
                    worker = _Worker(ctx, parse, tokenizer, limits)
                    pool.append(worker)
                worker.send(*task)
                task = None
            busy = [w for w in pool if w.queue]
            if not busy:
                break
            deadline = min(w.head_since + w.limit(timeout_s) for w in busy)
            wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                 timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
            for worker in busy:
                results, lost = _collect(worker, timeout_s)
                for index, parsed, seconds in results:
                    done += 1
                    on_result(index, parsed, seconds)
                if lost:
                    pool.remove(worker)
                    worker.stop(kill=True)
                    retry.extend(worker.queue)
        finished = True
    finally:
        for worker in pool:
            worker.stop(kill=not finished)
    return done


def _collect(worker: _Worker, timeout_s: float) -> tuple[list, bool]:
    """Results `worker` has sent, and whether the worker is lost (crashed or
    timed out: then its head file is among the results, reported as such, and
    the rest of its queue is left for the caller to hand out again)."""
    results = []
    try:
        while worker.queue and worker.conn.poll():
            message = worker.conn.recv()
            if message == READY:
                worker.ready = True
                worker.head_since = time.monotonic()      # the head file starts now
                continue
            index, parsed, seconds = message
            queued_index, _ = worker.queue.popleft()
            if index != queued_index:             # a worker answers in the order it was given files
                raise RuntimeError(f"ingest worker answered for file {index}, expected {queued_index}")
            worker.head_since = time.monotonic()
            results.append((index, parsed, seconds))
    except (EOFError, OSError):
        pass                                     # died: the exit code tells more
    if not worker.queue:
        return results, False
    elapsed = time.monotonic() - worker.head_since
    if worker.broken or not worker.proc.is_alive():
        worker.proc.join()
        index, _ = worker.queue.popleft()
        results.append((index, ParsedFile.skipped(_crash_reason(worker.proc.exitcode)), elapsed))
        return results, True
    if elapsed > worker.limit(timeout_s):
        worker.proc.kill()
        worker.proc.join()
        index, _ = worker.queue.popleft()
        reason = (f"timed out after {timeout_s:g} s" if worker.ready
                  else f"the parser process did not start within {worker.limit(timeout_s):g} s")
        results.append((index, ParsedFile.skipped(reason), elapsed))
        return results, True
    return results, False
