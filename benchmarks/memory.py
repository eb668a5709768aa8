"""Peak memory (issue 6, part 4): training the default-size model, and
generating 64 variations with the default model.

    python -m benchmarks.memory [--steps 12] [--count 64] [--folder DIR] [--model PATH] [--json PATH]

Each runs in a fresh child process (`python -m benchmarks.memory --child
KIND ...`) that reports its own peak resident set size (VmHWM, see
`_peak_kb`; no psutil), the peak of its own children (getrusage
RUSAGE_CHILDREN: the ingest workers of a scan that misses the cache), and its
peak right after the imports, as one JSON line.

Training: `training.trainer.train` with every default (LSTM 2x256, embedding
128, batch 16 x 256 tokens) on the folder, for `steps` steps with a
validation pass and a checkpoint at step 10 (at the last step when `steps`
< 10). The trainer's defaults validate every
`training.config.auto_eval_every` steps (60 for the folk folder) and
checkpoint every 100; both are moved so that a short run includes them,
since the validation pass over whole pieces is the largest single
allocation. Generation:
`composer.services.generate.generate` of 64 variations (the default request: 8 bars,
batch 64) with the shipped `composer/assets/melody.model`, writing nothing.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.__main__ import (
    CLI_ERRORS,
    Parser,
    existing_dir,
    fail,
    json_path,
    model_file,
    positive_int,
    training_data,
    write_json,
)
from benchmarks.folk import DEFAULT_FOLDER
from composer.assets import MELODY_MODEL, asset_path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = asset_path(MELODY_MODEL)


def _peak_kb() -> tuple[int, int]:
    """(peak RSS of this process, largest peak RSS of its finished children), in KiB.

    This process's own peak is VmHWM from /proc/self/status where there is one:
    Linux carries ru_maxrss over fork and exec, so a child started by a big
    parent (the benchmark command after its training part, ~750 MB) would
    report the parent's peak as its own."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    except OSError:
        pass
    return own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def child_training(folder: str, steps: int) -> dict:
    import torch  # noqa: F401  (counted in the baseline)

    from training.config import TrainConfig
    from training.trainer import train
    baseline = _peak_kb()[0]
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        every = min(10, steps)
        result = train(TrainConfig(folder=folder, out=str(Path(tmp) / "m.model"), steps=steps, force=True,
                                   eval_every=every, checkpoint_every=every))
        parameters = result.summary["parameters"]
    self_kb, children_kb = _peak_kb()
    return {"baseline_kb": baseline, "peak_kb": self_kb, "children_peak_kb": children_kb, "steps": steps,
            "parameters": parameters}


def child_generation(model: str, count: int) -> dict:
    import torch  # noqa: F401

    from composer.model.modelfile import load_model
    from composer.services.generate import GenerateRequest, generate
    baseline = _peak_kb()[0]
    loaded = load_model(model, "cpu")
    result = generate(loaded, GenerateRequest(count=count, seed=0), progress=lambda p: None)
    self_kb, children_kb = _peak_kb()
    return {"baseline_kb": baseline, "peak_kb": self_kb, "children_peak_kb": children_kb,
            "variations": len(result.songs), "model": model}


def _in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", *args], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
        raise RuntimeError(f"memory child {args[0]} failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(*, folder: Path = DEFAULT_FOLDER, model: Path = DEFAULT_MODEL, steps: int = 12, count: int = 64) -> dict:
    """Peak RSS in MB of each child (ru_maxrss is in KiB on Linux). Relative
    paths are taken from the current directory (the children run in ROOT);
    everything is checked before the first child starts."""
    from composer.model.modelfile import read_metadata
    if steps < 1 or count < 1:
        raise ValueError(f"steps and count must be >= 1, got {steps} and {count}")
    folder, model = Path(folder).resolve(), Path(model).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder {folder} does not exist")
    read_metadata(model)                             # ModelFileError: missing, not a model file
    result = {}
    for kind, args in (("training", ("training", str(folder), str(steps))),
                       ("generation", ("generation", str(model), str(count)))):
        r = _in_child(*args)
        r.update(peak_mb=r["peak_kb"] / 1024, baseline_mb=r["baseline_kb"] / 1024,
                 children_peak_mb=r["children_peak_kb"] / 1024)
        result[kind] = r
    return result


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=positive_int, default=12, help="training steps (default 12)")
    parser.add_argument("--count", type=positive_int, default=64, help="variations generated (default 64)")
    parser.add_argument("--folder", type=existing_dir, default=None,
                        help="MIDI files to train on (default: the folk corpus, converted on first use)")
    parser.add_argument("--model", type=model_file, default=DEFAULT_MODEL)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, n = args.child
        fn = child_training if kind == "training" else child_generation
        print(json.dumps(fn(path, int(n))))
        return 0
    try:
        result = run(folder=training_data(args.folder), model=args.model, steps=args.steps, count=args.count)
    except (*CLI_ERRORS, RuntimeError) as exc:          # RuntimeError: a child failed
        return fail(exc)
    for kind, r in result.items():
        print(f"{kind:10s} peak RSS {r['peak_mb']:7.0f} MB (after imports {r['baseline_mb']:.0f} MB; "
              f"largest child process {r['children_peak_mb']:.0f} MB)")
    if args.json:
        try:
            write_json(result, args.json)
        except OSError as exc:
            return fail(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
