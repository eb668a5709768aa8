"""Generation throughput, side by side in one process (issue 6, part 2).

    python -m benchmarks.generation [--model PATH] [--json PATH] [--repeats N]

For batch 1, 16 and 64: notes/s of `composer.services.generate.generate` with every
feature on (top-p, key mask, a progress callback that decodes the partial song
as the app's generate tab does: the variation its piano roll shows, up to 20
times a second, less often when a decode takes longer than 5 ms, see
`gui_like_progress`)
against a raw sampling loop of the same model (embedding -> RNN step -> softmax
-> multinomial in eager torch) run for the same number of steps. Also the time
from calling generate to the first note available to a progress callback, and
the time for one 8-bar melody at batch 1. Ratios are what count on a shared
machine; absolute times are printed for context. The batch sizes take turns
within each repeat, so a change of load on a shared machine hits all of them;
"raw loop vs batch 1" is how the raw loop itself scales with the batch (the
same notes in the raw loop's time), the context for "vs batch 1". "notes/CPU-s"
divides by the process's CPU time instead of the wall time: on a machine
shared with busier processes the wall time of a 30 ms batch-1 call depends on
whether a core was free, its CPU time much less; with one thread it is close
to what an idle core would give.

Threads: `--threads N` sets torch's threads (the raw loop and the sampler's
priming); the sampler's ONNX Runtime steps follow COMPOSER_SAMPLER_THREADS
(`--sampler-threads` sets it: auto, the default, or a count; steps of fewer
than composer.model.runtime.BIG_BATCH (32) sequences always run on one thread), and
the result says how many steps of at least that many
ran on more than one.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from benchmarks.__main__ import CLI_ERRORS, Parser, fail, json_path, model_file, positive_int, write_json
from composer.assets import MELODY_MODEL, asset_path
from composer.model import runtime
from composer.model.modelfile import LoadedModel, load_model
from composer.model.network import ModelConfig, MusicRNN
from composer.representations.melody import MelodyTokenizer
from composer.services.generate import GenerateRequest, generate

DEFAULT_MODEL = asset_path(MELODY_MODEL)


def load(path: Path | None) -> tuple[LoadedModel, str]:
    path = path or (DEFAULT_MODEL if DEFAULT_MODEL.exists() else None)
    if path is not None:
        return load_model(path, "cpu"), str(path)
    tok = MelodyTokenizer()
    torch.manual_seed(0)
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=256, num_layers=2,
                                 position_classes=tok.position_classes)).eval()
    return LoadedModel(model, tok), "untrained 2x256 LSTM (no composer/assets/melody.model)"


@torch.no_grad()
def raw_loop(model: MusicRNN, batch: int, steps: int, seed: int) -> float:
    """Seconds for `steps` plain sampling steps at `batch`."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.ones(batch, 1, dtype=torch.long)
    pos = torch.zeros(batch, 1, dtype=torch.long) if model.pos_embed is not None else None
    state = None
    start = time.perf_counter()
    for _ in range(steps):
        emb = model.embed(x) + (model.pos_embed(pos) if pos is not None else 0)
        h, state = model.rnn(emb, state)
        logits = model.head(model.proj(h) if model.proj is not None else h)[:, -1]
        x = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
    return time.perf_counter() - start


JOB = 256                   # a headless job of 256 pieces 64 at a time: the batch stays full (continuous batching)
PREVIEW_INTERVAL = 0.05     # gui/generate_view.py: piano-roll updates at most 20 times a second


def gui_like_progress():
    """A progress callback that decodes the partial song as the app's generate
    tab does (gui/generate_view.py, generation_job): the one variation shown
    (the first, unless the user selects another), at most every 0.05 s, and
    never more often than 10x the time the last decode took, so decoding stays
    under ~10% of the time however large the batch."""
    state = {"last": float("-inf"), "interval": PREVIEW_INTERVAL}

    def progress(p):
        now = time.monotonic()
        if p.finished or now - state["last"] >= state["interval"]:
            state["last"] = now
            p.partial([0])                  # the app decodes the one variation its piano roll shows
            state["interval"] = max(PREVIEW_INTERVAL, 10 * (time.monotonic() - now))

    return progress


def ours(loaded: LoadedModel, batch: int, bars: int, seed: int, count: int | None = None
         ) -> tuple[float, int, int, float]:
    """Seconds, notes, sampling steps and CPU seconds (the process's) for one
    full-featured generate() call of `count` (default `batch`) variations."""
    progress, steps = gui_like_progress(), [0]

    def counting(p):
        steps[0] += 1                 # once per sampling step, and once at the end
        progress(p)

    request = GenerateRequest(count=count or batch, bars=bars, seed=seed, top_p=0.95, key="D", scale="dorian",
                              batch_size=batch)
    start, cpu = time.perf_counter(), time.process_time()
    result = generate(loaded, request, progress=counting)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    notes = sum(len(s.tracks[0].notes) for s in result.songs)
    return seconds, notes, steps[0] - 1, cpu


def first_note_seconds(loaded: LoadedModel, seed: int) -> float:
    start = time.perf_counter()
    seen = []

    def progress(p):
        if not seen and p.partial([0])[0].tracks[0].notes:
            seen.append(time.perf_counter() - start)

    generate(loaded, GenerateRequest(count=1, bars=8, seed=seed), progress=progress)
    return seen[0]


def one_melody_seconds(loaded: LoadedModel, seed: int) -> float:
    start = time.perf_counter()
    generate(loaded, GenerateRequest(count=1, bars=8, seed=seed))
    return time.perf_counter() - start


def _sampler_threads(text: str) -> str:
    """An argparse type: "auto" or a thread count >= 1."""
    try:
        runtime.sampler_threads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a thread count >= 1, got {text!r}") from None
    return text


def run(model_path: Path | None, repeats: int, threads: int | None = None, sampler_threads: str | None = None) -> dict:
    """`repeats` >= 1 rounds of every batch size; `threads` (>= 1, None = torch's
    choice) torch threads; `sampler_threads` "auto" or a count (None: the environment's)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if threads is not None:
        torch.set_num_threads(threads)
    if sampler_threads is not None:
        runtime.sampler_threads(sampler_threads)      # refuses a bad value before any work
        os.environ["COMPOSER_SAMPLER_THREADS"] = sampler_threads
    loaded, name = load(model_path)
    one_melody_seconds(loaded, 0)                     # warm-up: ONNX graph export/load, allocator
    runs = ((1, 1), (16, 16), (64, 64), (64, JOB))   # (batch, variations)
    ratios, rates, raw_rates, cpu_rates = ({b: [] for b in runs} for _ in range(4))
    for r in range(repeats):                          # batch sizes interleaved: a change of load hits all of them
        for batch, count in runs:
            seconds, notes, steps, cpu = ours(loaded, batch, 8, seed=r, count=count)
            raw = raw_loop(loaded.model, batch, steps, seed=r)
            ratios[batch, count].append(raw / seconds)
            rates[batch, count].append(notes / seconds)
            raw_rates[batch, count].append(notes / raw)      # the raw loop's time for the same notes
            cpu_rates[batch, count].append(notes / cpu)
    rows = [{"batch": b, "variations": n, "notes_per_s": statistics.median(rates[b, n]),
             "ratio_to_raw_loop": statistics.median(ratios[b, n]),
             "raw_loop_notes_per_s": statistics.median(raw_rates[b, n]),
             "notes_per_cpu_s": statistics.median(cpu_rates[b, n])} for b, n in runs]
    for row in rows:
        row["speedup_vs_batch1"] = row["notes_per_s"] / rows[0]["notes_per_s"]
        row["raw_loop_speedup_vs_batch1"] = row["raw_loop_notes_per_s"] / rows[0]["raw_loop_notes_per_s"]
        row["cpu_speedup_vs_batch1"] = row["notes_per_cpu_s"] / rows[0]["notes_per_cpu_s"]
    wide, _ = runtime.sampler_threads()
    chooser = runtime.thread_chooser(loaded.model)
    return {
        "model": name, "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "torch_threads": torch.get_num_threads(),
        "sampler_threads": os.environ.get("COMPOSER_SAMPLER_THREADS", "auto"),
        "sampler_threads_big_batches": wide,
        "big_steps_on_one_and_n_threads": chooser.steps if chooser else None,
        "runtime": os.environ.get("COMPOSER_RUNTIME", "auto"),
        "rows": rows,
        "first_note_s": statistics.median(first_note_seconds(loaded, r) for r in range(repeats)),
        "one_8_bar_melody_s": statistics.median(one_melody_seconds(loaded, r) for r in range(repeats)),
        "targets": {"ratio_to_raw_loop": ">= 0.8", "batch64_vs_batch1": ">= 15", "first_note_s": "< 0.1",
                    "one_8_bar_melody_s": "< 0.1"},
    }


def main(argv=None) -> int:
    parser = Parser(prog="python -m benchmarks.generation", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=model_file, default=None)
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--sampler-threads", type=_sampler_threads, default=None,
                        help="ONNX Runtime threads for steps of >= 32 sequences: auto or N "
                             "(default: COMPOSER_SAMPLER_THREADS or auto)")
    args = parser.parse_args(argv)
    try:
        result = run(args.model, args.repeats, args.threads, args.sampler_threads)
    except CLI_ERRORS as exc:
        return fail(exc)
    print(f"model: {result['model']}  runtime: {result['runtime']}  machine: {result['machine']}")
    split = result["big_steps_on_one_and_n_threads"]
    big = result['sampler_threads_big_batches']
    chose = f" (big steps on 1 / {big} threads: {split[0]} / {split[1]})" if split else ""
    print(f"torch threads: {result['torch_threads']}  sampler threads: {result['sampler_threads']}{chose}")
    print(f"{'batch':>5} {'pieces':>6} {'notes/s':>9} {'vs raw loop':>12} {'vs batch 1':>11} "
          f"{'raw loop vs batch 1':>20} "
          f"{'notes/CPU-s':>12} {'CPU vs batch 1':>15}")
    for row in result["rows"]:
        print(f"{row['batch']:>5} {row['variations']:>6} {row['notes_per_s']:>9.0f} {row['ratio_to_raw_loop']:>12.2f} "
              f"{row['speedup_vs_batch1']:>10.1f}x {row['raw_loop_speedup_vs_batch1']:>19.1f}x "
              f"{row['notes_per_cpu_s']:>12.0f} {row['cpu_speedup_vs_batch1']:>14.1f}x")
    print(f"first note available: {result['first_note_s'] * 1000:.0f} ms; "
          f"one 8-bar melody at batch 1: {result['one_8_bar_melody_s'] * 1000:.0f} ms")
    if args.json:
        try:
            write_json(result, args.json)
        except OSError as exc:
            return fail(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
