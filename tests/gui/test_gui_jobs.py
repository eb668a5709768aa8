"""Job: a plain function on a worker thread, its outcome as signals."""
from __future__ import annotations

import threading

from composer.errors import Cancelled
from composer.tasks import Progress
from gui.jobs import Job, Throttle


def test_result_and_progress_arrive_on_the_gui_thread(qtbot):
    seen = []

    def work(progress, should_stop):
        seen.append(threading.current_thread() is threading.main_thread())
        for i in range(3):
            progress(Progress(i, 3, "step"))
        return "done"

    job = Job("t", work)
    got = []
    job.progressed.connect(got.append)
    with qtbot.waitSignal(job.succeeded) as blocker:
        job.start()
    assert blocker.args == ["done"] and [p.done for p in got] == [0, 1, 2] and seen == [False]
    assert not job.is_running()


def test_an_unexpected_error_keeps_its_traceback(qtbot):
    def work(progress, should_stop):
        return {}["missing"]

    job = Job("t", work)
    with qtbot.waitSignal(job.failed) as blocker:
        job.start()
    error = blocker.args[0]
    assert error.message == "KeyError: 'missing'"
    assert "Traceback" in error.details and "work" in error.details


def test_cancel_is_seen_by_should_stop(qtbot):
    started = threading.Event()

    def work(progress, should_stop):
        started.set()
        while not should_stop():
            started.wait(0.01)
        raise Cancelled("stopped")

    job = Job("t", work)
    job.start()
    assert started.wait(30)
    with qtbot.waitSignal(job.cancelled):
        job.cancel()
    assert not job.is_running()


def test_throttle_lets_the_first_and_final_updates_through():
    throttle = Throttle(interval=3600)
    assert throttle.ready()
    assert not throttle.ready()
    assert throttle.ready(final=True)
