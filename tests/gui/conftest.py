"""Fixtures of the app's tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest


@pytest.fixture(scope="session")
def pulse_server(tmp_path_factory):
    """A private PulseAudio server with a null sink: a real audio output on a machine without one."""
    if shutil.which("pulseaudio") is None:
        pytest.skip("needs the pulseaudio program to make a null audio output")
    runtime = tmp_path_factory.mktemp("pulse")
    socket = runtime / "native"
    env = dict(os.environ, HOME=str(runtime), XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(runtime))
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--log-target=stderr",
         "-L", "module-null-sink sink_name=null",
         "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        server.kill()
        pytest.skip(f"pulseaudio did not start: {server.stderr.read().decode(errors='replace')[-300:]}")
    yield f"unix:{socket}"
    server.terminate()
    server.wait(timeout=10)
