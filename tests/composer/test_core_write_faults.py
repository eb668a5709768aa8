"""Disk full and read-only folders while exporting: a clear error, the previous
file intact, no temp file left behind. Both faults are real OS conditions made
in a child process (a file-size limit, and an unprivileged user)."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from composer.music.midifile import read_midi, write_midi
from composer.music.song import Note, melody_song

CHILD = r"""
import os, resource, signal, sys
from composer.music.midifile import write_midi
from composer.music.song import Note, melody_song
mode, path = sys.argv[1], sys.argv[2]
if mode == "full":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
elif os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)                  # root ignores permissions: become nobody
song = melody_song([Note(i * 0.25, i * 0.25 + 0.25, 60 + i % 12) for i in range(400)])
try:
    write_midi(song, path, force=True)
except OSError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def _existing(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    path = write_midi(melody_song([Note(0, 1, 67)]), folder / "song.mid")
    return folder, path, path.read_bytes()


@pytest.mark.parametrize("mode, message", [("full", "File too large"), ("readonly", "Permission denied")])
def test_failed_export_keeps_the_previous_file(mode, message):
    # pytest's tmp_path lives below a 0700 folder that an unprivileged child cannot enter
    base = Path(tempfile.mkdtemp(prefix="composer-faults-"))
    base.chmod(0o755)
    folder, path, before = _existing(base)
    if mode == "readonly":
        folder.chmod(0o555)
    try:
        result = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True)
    finally:
        folder.chmod(0o755)
    try:
        _check(result, folder, path, before, message)
    finally:
        shutil.rmtree(base)


def _check(result, folder, path, before, message):
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("WriteError cannot write") and message in result.stdout
    assert str(path) in result.stdout
    assert path.read_bytes() == before
    assert read_midi(path).tracks[0].notes == [Note(0, 1, 67)]
    assert sorted(os.listdir(folder)) == ["song.mid"]
