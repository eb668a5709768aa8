"""Long work on a worker thread, reported back as signals on the GUI thread.

A job is a plain function `fn(progress, should_stop)` from the Qt-free core
(wrapped in a closure that builds its arguments), following the task
protocol of composer.tasks. `Job` runs it on its own QThread and turns its
hooks into signals:

    progress(Progress) -> Job.progressed(Progress)
    return value       -> Job.succeeded(result)
    Cancelled          -> Job.cancelled()
    any other error    -> Job.failed(JobError(message, details))

The outcome signals are emitted only after the thread has stopped, so a slot
may start the next job at once. Workers never touch widgets: the only thing
crossing threads is the signal payload.
"""
from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from composer.errors import Cancelled, ComposerError
from composer.tasks import ProgressFn, ShouldStop

JobFunction = Callable[[ProgressFn, ShouldStop], Any]


@dataclass(frozen=True)
class JobError:
    """A worker's failure, ready for an error dialog."""

    message: str      # one line for the user
    details: str      # the full traceback


class Throttle:
    """Lets through at most one update per `interval` seconds (the final one
    always passes), so a fast loop does not flood the GUI with repaints."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self._last = float("-inf")

    def ready(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            return True
        return False


class _Worker(QObject):
    progressed = Signal(object)   # composer.tasks.Progress
    done = Signal(str, object)    # ("ok" | "cancelled" | "failed", payload)

    def __init__(self, fn: JobFunction, stop: threading.Event):
        super().__init__()
        self._fn = fn
        self._stop = stop

    def _should_stop(self) -> bool:
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self.progressed.emit, self._should_stop)
        except Cancelled:
            self.done.emit("cancelled", None)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user as a dialog
            self.done.emit("failed", JobError(_message(exc), traceback.format_exc()))
        else:
            self.done.emit("cancelled" if self._stop.is_set() and result is None else "ok", result)
        finally:
            QThread.currentThread().quit()


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ComposerError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Job(QObject):
    """Runs one `JobFunction` on its own thread; create, connect, `start()`."""

    progressed = Signal(object)   # composer.tasks.Progress
    succeeded = Signal(object)
    failed = Signal(object)       # JobError
    cancelled = Signal()
    finished = Signal()           # after the outcome signal, whatever it was

    def __init__(self, name: str, fn: JobFunction, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._stop = threading.Event()
        self._outcome: tuple[str, object] = ("cancelled", None)
        self._thread = QThread()
        self._thread.setObjectName(f"job:{name}")
        self._worker = _Worker(fn, self._stop)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress)
        self._worker.done.connect(self._on_done)
        self._worker.done.connect(self._worker.deleteLater)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Ask the worker to stop at its next `should_stop()` check."""
        self._stop.set()

    def is_running(self) -> bool:
        """True while the worker thread runs (the outcome signals come after)."""
        return self._thread.isRunning()

    def stop_and_wait(self) -> None:
        """Cancel and block until the thread has ended (used when closing)."""
        self.cancel()
        self._thread.wait()

    @Slot(object)
    def _on_progress(self, payload) -> None:
        if not self._stop.is_set():
            self.progressed.emit(payload)

    @Slot(str, object)
    def _on_done(self, kind: str, payload) -> None:
        self._outcome = (kind, payload)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread.wait()
        kind, payload = self._outcome
        if kind == "ok":
            self.succeeded.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.finished.emit()


def load_if_needed(path, loaded):
    """On a worker: the model already loaded, or `path` loaded on the automatic device."""
    if loaded is not None:
        return loaded
    from composer.model.device import choose_device
    from composer.model.modelfile import load_model
    device, _ = choose_device("auto")
    return load_model(path, device)
