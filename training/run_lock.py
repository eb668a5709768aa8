"""One training per output: a lock file in the run's checkpoint folder.

Two `train` runs writing the same model file would mix their steps in
metrics.jsonl and leave one run's model, the other silently lost. A run takes
`OUT.train/lock` before any work and removes it at the end (also on errors and
Ctrl-C); a second run refuses, naming the first one's process id.

The file is created with O_CREAT|O_EXCL and holds the owner's process id and
host name (JSON). Where the OS has flock(2), the owner also holds a lock on
the open file; the kernel drops it when the process ends however it ends, so
a file nobody holds on this host is stale, and is taken over (with a note)
without the pid-reuse and check-then-delete races of a pid test. Without
flock, a stale file is one whose process is gone on this host (on Windows,
where that cannot be asked safely, the message says which file to delete). A
lock from another host is never taken over: its process cannot be checked.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from composer.errors import ComposerError

try:
    import fcntl
except ImportError:             # Windows: the process-id test alone
    fcntl = None

__all__ = ["LOCK_NAME", "RunLock", "RunLocked", "take_run_lock"]

LOCK_NAME = "lock"
_ATTEMPTS = 20                  # a lock released while we look at it: look again


class RunLocked(ComposerError):
    """Another training is writing the same output (or its lock cannot be made)."""


class RunLock:
    """A held lock; `note` says so when a stale lock was taken over."""

    def __init__(self, path: Path, fd: int, made_folder: bool, note: str = ""):
        self.path, self._fd, self._made_folder, self.note = path, fd, made_folder, note

    def release(self) -> None:
        """Remove the lock file (if it is still ours) and let go of it; a
        checkpoint folder this lock created and nothing else filled goes too."""
        if self._fd is None:
            return
        try:
            if _same_file(self._fd, self.path):     # unlink before letting go: see take_run_lock
                self.path.unlink()
        finally:
            os.close(self._fd)
            self._fd = None
        if self._made_folder:
            try:
                self.path.parent.rmdir()
            except OSError:
                pass

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def take_run_lock(folder: str | os.PathLike, output: str | os.PathLike) -> RunLock:
    """Take `folder`/lock for a run writing `output` (named in the message).
    Raises RunLocked naming the process that holds it."""
    folder = Path(folder)
    made_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    for _ in range(_ATTEMPTS):
        try:
            fd, fresh = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            try:
                fd, fresh = os.open(path, os.O_RDWR), False
            except FileNotFoundError:
                continue
        if not _hold(fd):
            holder = _read(fd)
            os.close(fd)
            raise RunLocked(_busy(holder, output, path))
        if not _same_file(fd, path):     # its owner removed it between our open and our lock
            os.close(fd)
            continue
        note = ""
        if not fresh:
            holder = _read(fd)
            if not _stale(holder):
                os.close(fd)
                raise RunLocked(_busy(holder, output, path))
            note = (f"took over the lock of an earlier training of {output} (pid {holder.get('pid', '?')}), "
                    "which is no longer running")
        _write(fd, {"pid": os.getpid(), "host": socket.gethostname(), "output": str(output)})
        return RunLock(path, fd, made_folder, note)
    raise RunLocked(f"could not take the lock {path}: other trainings keep taking it; try again")


def _hold(fd: int) -> bool:
    """Lock the open file without waiting; False: a live process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (here.st_dev, here.st_ino)


def _read(fd: int) -> dict:
    """The holder's record ({} when unreadable, e.g. not written yet)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(fd: int, record: dict) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(record) + "\n").encode())


def _stale(holder: dict) -> bool:
    """An unheld lock file whose process is gone. Called once we hold the
    file: with flock, its owner on this host would hold it, so it is gone."""
    host = holder.get("host")
    if host is not None and host != socket.gethostname():
        return False
    pid = holder.get("pid")
    if fcntl is not None or not isinstance(pid, int):
        return True
    return not _alive(pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":     # (on Windows os.kill would end the process)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _busy(holder: dict, output, path: Path) -> str:
    pid, host = holder.get("pid", "?"), holder.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    text = f"another training (pid {pid}{where}) is writing {output}; wait for it or stop it"
    if where or fcntl is None:          # cannot be checked from here
        text += f" (if it is no longer running, delete {path})"
    return text
