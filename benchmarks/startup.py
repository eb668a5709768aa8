"""How fast the app starts: `python -m benchmarks.startup [--runs 5]`.

Launches `python -m gui` RUNS times in fresh processes (offscreen Qt,
temporary settings and models folder, the shipped models) and reports the
seconds from before the launch until the window is shown (the event loop
runs with the window on screen) and until the models are loaded and
Generate can run. Each run is done twice, alternating: as the app starts
now (models loading behind the window) and with RNN_COMPOSER_EAGER_LOAD=1,
which loads everything before the window shows, as the app did before.
The child prints the wall-clock times (gui/startup.py report), then quits.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gui.startup import EAGER_ENV, REPORT_ENV

ROOT = Path(__file__).resolve().parent.parent
MODES = {"behind": "0", "eager": "1"}     # name -> RNN_COMPOSER_EAGER_LOAD


def launch(eager: str, folder: Path, timeout: float = 120.0) -> tuple[float, float]:
    """(seconds to the shown window, seconds to loaded models) of one fresh app process."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{REPORT_ENV: "1", EAGER_ENV: eager})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "gui", "--settings", str(folder / "settings.ini"),
               "--models-dir", str(folder / "models")]
    started = time.time()          # the child cannot know when it was launched: the parent notes it
    out = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, timeout=timeout)
    times = dict(line.split()[1:] for line in out.stdout.splitlines() if line.startswith("startup "))
    if out.returncode != 0 or not {"shown", "ready"} <= times.keys():
        raise SystemExit(f"error: the app did not report its start (exit {out.returncode}): {out.stderr[-500:]}")
    shown, ready = float(times["shown"]) - started, float(times["ready"]) - started
    return shown, max(shown, ready)       # eager: ready before shown; the user waits for the window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="launches per mode (default 5)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for mode, eager in MODES.items():      # alternating, so a busy moment hits both
                folder = Path(tmp) / f"{mode}-{run}"
                folder.mkdir()
                results[mode].append(launch(eager, folder))
                print(f"run {run + 1} {mode:6s}: window {results[mode][-1][0]:.2f} s, "
                      f"models ready {results[mode][-1][1]:.2f} s", flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nmedian of {args.runs} (min-max), seconds from launch:")
    print(f"{'':8s}{'window shown':>22s}{'models ready':>22s}")
    medians = {}
    for mode, rows in results.items():
        cells = []
        for i in (0, 1):
            values = [row[i] for row in rows]
            cells.append(f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        medians[mode] = [statistics.median(row[i] for row in rows) for i in (0, 1)]
        print(f"{mode:8s}{cells[0]:>22s}{cells[1]:>22s}")
    print(f"window shown: behind / eager = {medians['behind'][0] / medians['eager'][0]:.2f}; "
          f"models ready: behind / eager = {medians['behind'][1] / medians['eager'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
