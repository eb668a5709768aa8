"""Parse files in worker processes, so one bad file can only take its worker down.

A MIDI parser can crash the whole process (a segfault in a C extension, an
`os.abort()`), hang, or allocate without end. `run_contained` hands files to
`workers` processes, each parsing one file at a time. Small files travel in
batches, both ways: up to `BATCH_FILES` files per message to a worker (and
up to `PREFETCH` queued, so a worker never waits for the parent), and their
results come back together, or every `RESULTS_EVERY_S` when files are slow;
one message per file cost the parent more CPU than hashing and caching them.
Before each file a worker counts it in a shared counter, so the parent knows
which file is in the parser. When a worker dies, that file is reported as
"parser crashed (...)"; when one file takes longer than `timeout_s` the
worker is killed and the file reported as "timed out after N s"; either way
the other files sent to it (parsed but unreported ones too) go to a fresh
worker and the run goes on. `should_stop()` is polled at least every
`POLL_S` seconds; on True every worker is killed and joined before
`Cancelled` is raised, so no process outlives the call.

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
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from composer.errors import Cancelled

POLL_S = 0.1          # how often should_stop() is asked while workers are busy, in seconds
JOIN_S = 2.0          # how long a finished worker may take to exit before it is killed, in seconds
BATCH_FILES = 16      # files per message to a worker
PREFETCH = 32         # files queued per worker (two batches), so it never waits for the parent ...
PREFETCH_BYTES = 8_192        # ... if they fit in half its socket buffer, and in at least 8 KB (macOS's
MAX_PREFETCH_BYTES = 65_536   # whole buffer), at most 64 KB: a send to a busy worker never blocks
RESULTS_EVERY_S = 0.05    # a worker sends what it has at least this often, in seconds (slow files)


@dataclass
class ParsedFile:
    """What a parse function returns for one file (plain data: it crosses processes)."""

    status: str                           # "used" | "skipped"
    reason: str = ""                      # why skipped, in a musician's words; "" when used
    tokens: list[int] = field(default_factory=list)
    n_notes: int = 0
    source: str = ""                      # which track(s) the tokens come from
    damage: str = ""                      # a damaged file: what was wrong and what was kept (Song.damage)

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


def _worker_main(conn, started, parse: ParseFn, tokenizer, limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl+C is the parent's to handle
    faulthandler.disable()     # a crash is reported per file; an inherited stack dump would be noise
    conn.send(READY)           # start-up (a spawned worker imports torch) is not the first file's time
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        results, last_sent = [], time.monotonic()
        for index, data in batch:
            started.value += 1     # this file is in the parser: if the process dies now, it is the culprit
            start = time.perf_counter()
            try:
                parsed = parse(data, tokenizer, limits)
            except Exception as exc:  # noqa: BLE001 -- a bug, not a bad file: report it, keep the worker
                parsed = ParsedFile.skipped(f"internal error: {type(exc).__name__}: {exc}")
            results.append((index, parsed, time.perf_counter() - start))
            if time.monotonic() - last_sent >= RESULTS_EVERY_S:
                conn.send(results)
                results, last_sent = [], time.monotonic()
        if results:
            conn.send(results)


class _Worker:
    """One worker process, the files sent to it (oldest first) and those waiting to be sent."""

    def __init__(self, ctx, parse: ParseFn, tokenizer, limits):
        self.conn, child_conn = ctx.Pipe()
        self.started = ctx.RawValue("q", 0)     # files the worker has begun to parse, counted by it
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, self.started, parse, tokenizer, limits),
                                name="midi-ingest-worker", daemon=True)
        # A forked child inherits every object of the parent (torch, Qt...): frozen, its garbage
        # collector skips them, instead of walking (and copying-on-write) the whole heap again and again.
        gc.freeze()
        try:
            self.proc.start()
        finally:
            gc.unfreeze()
        child_conn.close()
        self.budget = _send_budget(self.conn)
        self.queue: deque[tuple[int, bytes]] = deque()    # sent, not answered
        self.outbox: list[tuple[int, bytes]] = []          # to be sent as one message
        self.queued_bytes = 0     # of the files in queue and outbox
        self.answered = 0         # results received
        self.seen_started = 0     # `started` as the parent last saw it
        self.since = 0.0          # time.monotonic() of the last sign of progress (or of the send to an idle worker)
        self.broken = False       # a send failed: the process is dying
        self.ready = False        # the process has started and waits for files

    def limit(self, timeout_s: float) -> float:
        """Seconds the worker may go without progress: the per-file limit once it
        runs, plus start-up time before that."""
        return timeout_s if self.ready else max(STARTUP_S, timeout_s)

    def busy(self) -> bool:
        return bool(self.queue)

    def has_room(self, size: int) -> bool:
        """Can a file of `size` bytes be queued without risking a blocking send?
        Small files are queued (up to PREFETCH) so the worker never waits for
        the parent; a big one goes only to a worker with nothing queued."""
        waiting = len(self.queue) + len(self.outbox)
        if not waiting:
            return True
        return waiting < PREFETCH and not self.broken and size + self.queued_bytes <= self.budget

    def assign(self, index: int, data: bytes) -> None:
        """Queue a file; it is sent at once to an idle worker, else with the next full batch
        or `flush()`."""
        self.outbox.append((index, data))
        self.queued_bytes += len(data)
        if len(self.outbox) >= BATCH_FILES or not self.queue:
            self.flush()

    def flush(self) -> None:
        """Send the files waiting in the outbox, as one message."""
        if not self.outbox:
            return
        if not self.queue:
            self.since = time.monotonic()
        self.queue.extend(self.outbox)
        batch, self.outbox = self.outbox, []
        try:
            self.conn.send(batch)
        except OSError:
            self.broken = True    # reported when the process is found dead

    def in_parser(self) -> int:
        """Position in `queue` of the file the worker is parsing (-1: none of them yet).
        A new count also counts as progress for the time limit."""
        started = self.started.value
        if started != self.seen_started:
            self.seen_started, self.since = started, time.monotonic()
        return started - self.answered - 1

    def unsent(self) -> list[tuple[int, bytes]]:
        """Every file given to this worker and not answered (for another worker), emptying it."""
        files = list(self.queue) + self.outbox
        self.queue.clear()
        self.outbox, self.queued_bytes = [], 0
        return files

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


def _send_budget(conn) -> int:
    """Bytes of files that may wait unread in `conn` without a send blocking:
    half the socket's send buffer (208 KB on Linux), within PREFETCH_BYTES..MAX_PREFETCH_BYTES."""
    try:
        with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    except (AttributeError, OSError, ValueError):    # not a socket (Windows pipes): the small default
        return PREFETCH_BYTES
    return max(PREFETCH_BYTES, min(MAX_PREFETCH_BYTES, buffer // 2))


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

    def next_task() -> tuple[int, bytes] | None:
        return retry.popleft() if retry else next(pending, None)   # may hash, look up the cache

    try:
        while True:
            check_stop()
            task = _hand_out(task, next_task, check_stop, pool, workers,
                             lambda: _Worker(ctx, parse, tokenizer, limits))
            answered = _wait_for_results(pool, retry, timeout_s, on_result)
            if answered is None:
                break
            done += answered
        finished = True
    finally:
        for worker in pool:
            worker.stop(kill=not finished)
    return done


def _hand_out(task: tuple[int, bytes] | None, next_task: Callable[[], tuple[int, bytes] | None],
              check_stop: Callable[[], None], pool: list[_Worker], workers: int,
              new_worker: Callable[[], _Worker]) -> tuple[int, bytes] | None:
    """Give files to the least loaded worker with room, starting with `task`
    (None: the next one), starting workers up to `workers` while the others
    have files queued. Returns the file no worker could take yet, or None."""
    while True:
        if task is None:
            task = next_task()
            if task is None:
                return None
            check_stop()
        worker = min((w for w in pool if w.has_room(len(task[1]))),
                     key=lambda w: len(w.queue) + len(w.outbox), default=None)
        if worker is None or ((worker.queue or worker.outbox) and len(pool) < workers):
            if len(pool) >= workers:
                return task
            worker = new_worker()
            pool.append(worker)
        worker.assign(*task)
        task = None


def _wait_for_results(pool: list[_Worker], retry: deque[tuple[int, bytes]], timeout_s: float,
                      on_result: ResultFn) -> int | None:
    """Send what the workers have queued, wait for an answer (at most POLL_S or
    until the earliest deadline) and report every result; a lost worker is
    stopped and its other files go to `retry`. Returns how many files were
    reported, or None when no worker has anything to do."""
    for worker in pool:
        worker.flush()
    busy = [w for w in pool if w.busy()]
    if not busy:
        return None
    deadline = min(w.since + w.limit(timeout_s) for w in busy)
    wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
         timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
    reported = 0
    for worker in busy:
        results, lost = _collect(worker, timeout_s)
        for index, parsed, seconds in results:
            reported += 1
            on_result(index, parsed, seconds)
        if lost:
            pool.remove(worker)
            worker.stop(kill=True)
            retry.extend(worker.unsent())
    return reported


def _collect(worker: _Worker, timeout_s: float) -> tuple[list, bool]:
    """Results `worker` has sent, and whether the worker is lost (crashed or
    timed out: then the file it was parsing is among the results, reported as
    such, and its other files are left in it for the caller to hand out again)."""
    results = []
    try:
        while worker.queue and worker.conn.poll():
            message = worker.conn.recv()
            if message == READY:
                worker.ready = True
                worker.since = time.monotonic()      # the head file starts now
                continue
            for index, parsed, seconds in message:
                queued_index, data = worker.queue.popleft()
                if index != queued_index:          # a worker answers in the order it was given files
                    raise RuntimeError(f"ingest worker answered for file {index}, expected {queued_index}")
                worker.queued_bytes -= len(data)
                worker.answered += 1
                results.append((index, parsed, seconds))
            worker.since = time.monotonic()
    except (EOFError, OSError):
        pass                                     # died: the exit code tells more
    if not worker.queue:
        return results, False
    position = worker.in_parser()
    elapsed = time.monotonic() - worker.since
    if worker.broken or not worker.proc.is_alive():
        worker.proc.join()
        results.append((_take_culprit(worker, position), ParsedFile.skipped(_crash_reason(worker.proc.exitcode)),
                        elapsed))
        return results, True
    if elapsed > worker.limit(timeout_s):
        worker.proc.kill()
        worker.proc.join()
        reason = (f"timed out after {timeout_s:g} s" if worker.ready
                  else f"the parser process did not start within {worker.limit(timeout_s):g} s")
        results.append((_take_culprit(worker, position), ParsedFile.skipped(reason), elapsed))
        return results, True
    return results, False


def _take_culprit(worker: _Worker, position: int) -> int:
    """Remove from the worker's queue, and return the index of, the file it was
    parsing when it was lost (the oldest one if it had not begun any)."""
    position = position if 0 <= position < len(worker.queue) else 0
    index, data = worker.queue[position]
    del worker.queue[position]
    worker.queued_bytes -= len(data)
    return index
