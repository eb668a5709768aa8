"""`python -m composer train`: a folder with broken files trains a model that
`generate` uses; the report names each broken file; the cache; Ctrl-C and
--resume; an empty folder."""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.midi_factory import drums_only, melody, write_song
from composer.cli.main import build_parser, main
from composer.model.modelfile import read_metadata
from composer.music.midifile import read_midi

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--layers", "1", "--hidden", "24", "--embed", "12", "--batch", "4", "--seq-len", "24",
        "--eval-every", "3", "--checkpoint-every", "3", "--workers", "1", "--quiet"]
BROKEN = {"truncated.mid": b"MThd\x00\x00\x00\x06\x00\x01", "notes.txt.mid": b"this is not MIDI at all\n"}


def make_folder(root: Path) -> Path:
    folder = root / "mixed"
    for i in range(5):
        write_song(melody(40, seed=i), folder / f"good{i}.mid")
    write_song(drums_only(), folder / "sub" / "drums.mid")
    for name, data in BROKEN.items():
        (folder / name).write_bytes(data)
    return folder


def test_mixed_folder_trains_a_model_that_generate_uses(tmp_path, capsys):
    folder = make_folder(tmp_path)
    model, report = tmp_path / "mixed.model", tmp_path / "report.json"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    rc = main(["train", str(folder), "--out", str(model), "--steps", "6", "--report", str(report), *cache, *TINY])
    err = capsys.readouterr().err
    assert rc == 0 and model.exists()
    for name in [*BROKEN, "sub/drums.mid"]:
        assert name in err
    assert "8 MIDI file(s)" in err and "device: CPU" in err
    skipped = {f["path"]: f["reason"] for f in json.loads(report.read_text())["files"] if f["status"] == "skipped"}
    assert set(skipped) == {*BROKEN, "sub/drums.mid"} and "drums only" in skipped["sub/drums.mid"]
    assert read_metadata(model)["training"]["corpus"]["files_skipped"] == 3

    songs = tmp_path / "songs"
    assert main(["generate", "--model", str(model), "--count", "2", "--bars", "2", "--seed", "1",
                 "--out", str(songs), "--quiet"]) == 0
    files = sorted(songs.glob("*.mid"))
    assert len(files) == 2 and all(read_midi(f).notes for f in files)

    rc = main(["train", str(folder), "--out", str(model), "--steps", "3", "--force", *cache, *TINY])
    assert rc == 0 and "from cache 8" in capsys.readouterr().err


def test_resume_continues_to_the_new_length(tmp_path, capsys):
    folder = make_folder(tmp_path)
    model = tmp_path / "r.model"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["train", str(folder), "--out", str(model), "--steps", "3", *cache, *TINY]) == 0
    assert main(["train", str(folder), "--out", str(model), "--steps", "3", *cache, *TINY]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["train", str(folder), "--out", str(model), "--steps", "6", "--resume", *cache, *TINY]) == 0
    assert "resumed from" in capsys.readouterr().err
    assert read_metadata(model)["training"]["steps"] == 6


@pytest.mark.system
def test_ctrl_c_checkpoints_and_resume_finishes(tmp_path):
    folder = make_folder(tmp_path)
    model = tmp_path / "c.model"
    args = [sys.executable, "-m", "composer", "train", str(folder), "--out", str(model), "--steps", "100000",
            "--cache-dir", str(tmp_path / "cache"), *TINY]
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    metrics = Path(str(model) + ".train") / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and metrics.read_text().strip()) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "stopped: cancelled" in err and "--resume" in err and model.exists()
    steps = read_metadata(model)["training"]["steps"]
    assert 0 < steps < 100000
    rc = subprocess.run([*args[:7], "--steps", str(steps + 2), *args[9:], "--resume"], cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    assert read_metadata(model)["training"]["steps"] == steps + 2


FAST = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--eval-every", "2",
        "--checkpoint-every", "2", "--workers", "1", "--quiet"]


def ctrl_c_after_the_first_step(monkeypatch):
    """Every run gets a real SIGINT (the CLI's Ctrl-C handler) after its first optimizer step."""
    import training.trainer
    real = training.trainer.train

    def train(config, progress=None, should_stop=None, **kw):
        def after_step(step, model):
            if step == 1:
                os.kill(os.getpid(), signal.SIGINT)
        return real(config, progress, should_stop, after_step=after_step)
    monkeypatch.setattr(training.trainer, "train", train)


def printed_resume(err: str) -> list[str]:
    """The arguments (from `train` on) of the `continue with:` command line printed in `err`."""
    line = next(line for line in err.splitlines() if line.startswith("continue with: "))
    words = shlex.split(line.removeprefix("continue with: "))
    assert words[:4] == ["python", "-m", "composer", "train"] and words[-1] == "--resume"
    return words[3:]


def test_the_resume_command_repeats_the_users_options():
    from training.cli import config_from_args, resume_command
    given = ["train", "my music", "--out", "m.model", "--cell", "gru", "--steps", "1500", "--patience", "0",
             "--transpose=-5:6", "--track", "Lead Flute", "--chords", "lowest", "--no-position", "--infill-bars",
             "2:3", "--lookback", "1,2,4,8", "--lr", "0.002", "--force", "--quiet"]
    args = build_parser().parse_args(given)
    words = shlex.split(resume_command(args, out="m.model"))
    again = build_parser().parse_args(words[3:])
    assert "--force" not in words and again.resume
    assert config_from_args(again) == dataclasses.replace(config_from_args(args), resume=True, force=False)


def test_ctrl_c_prints_a_resume_command_that_works(tmp_path, capsys, monkeypatch):
    folder, model = make_folder(tmp_path), tmp_path / "s.model"
    ctrl_c_after_the_first_step(monkeypatch)
    assert main(["train", str(folder), "--out", str(model), "--steps", "4", "--patience", "0", "--seed", "3",
                 "--cell", "gru", "--cache-dir", str(tmp_path / "cache"), *FAST]) == 0
    err = capsys.readouterr().err
    assert "stopped: cancelled after 1 steps" in err
    monkeypatch.undo()
    assert main(printed_resume(err)) == 0, capsys.readouterr().err
    assert "resumed from" in capsys.readouterr().err
    assert read_metadata(model)["training"]["steps"] == 4


def test_ctrl_c_in_a_cell_comparison_marks_the_run_and_prints_its_resume_command(tmp_path, capsys, monkeypatch):
    folder, out = make_folder(tmp_path), tmp_path / "cc.model"
    ctrl_c_after_the_first_step(monkeypatch)
    assert main(["train", str(folder), "--out", str(out), "--cell", "lstm,gru,rnn", "--steps", "4", "--seed", "3",
                 "--cache-dir", str(tmp_path / "cache"), *FAST]) == 0
    err = capsys.readouterr().err
    rows = {line.split()[0]: line for line in err.splitlines() if line.split()[:1] in (["lstm"], ["gru"], ["rnn"])}
    assert rows["lstm"].endswith("cc-lstm.model  (cancelled at step 1, unfinished)")
    assert rows["gru"].endswith("(not started)") and rows["rnn"].endswith("(not started)")
    assert json.loads((tmp_path / "cc-cells.json").read_text())["not_started"] == ["gru", "rnn"]
    words = printed_resume(err)
    assert words[words.index("--cell") + 1] == "lstm"
    assert words[words.index("--out") + 1] == str(tmp_path / "cc-lstm.model")
    monkeypatch.undo()
    assert main(words) == 0, capsys.readouterr().err
    assert read_metadata(tmp_path / "cc-lstm.model")["training"]["steps"] == 4


def test_empty_folder_exits_2_without_a_model(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    model = tmp_path / "e.model"
    rc = main(["train", str(tmp_path / "empty"), "--out", str(model), "--cache-dir", str(tmp_path / "c"), *TINY])
    assert rc == 2 and not model.exists()
    assert "no usable MIDI files" in capsys.readouterr().err


def test_cell_comparison_trains_one_model_per_cell_and_prints_the_table(tmp_path, capsys):
    folder = make_folder(tmp_path)
    out = tmp_path / "mine.model"
    rc = main(["train", str(folder), "--out", str(out), "--cell", "lstm,gru,rnn", "--steps", "3",
               "--cache-dir", str(tmp_path / "cache"), *TINY])
    err = capsys.readouterr().err
    assert rc == 0
    table = json.loads((tmp_path / "mine-cells.json").read_text())
    assert [r["cell"] for r in table["runs"]] == ["lstm", "gru", "rnn"]
    for run in table["runs"]:
        path = Path(run["model_path"])
        assert path == tmp_path / f"mine-{run['cell']}.model"
        meta = read_metadata(path)
        assert meta["model"]["cell"] == run["cell"]
        assert run["val_bits_per_note"] == meta["training"]["val_bits_per_note"] > 0
        assert f"{run['val_bits_per_note']:.3f}" in err
    assert err.count("8 MIDI file(s)") == 1          # the ingest summary once, not per cell
    assert not out.exists()
    # the plain RNN model generates like the others
    assert main(["generate", "--model", str(tmp_path / "mine-rnn.model"), "--bars", "2", "--seed", "3",
                 "--out", str(tmp_path / "songs"), "--quiet"]) == 0


def test_unknown_cell_is_one_line_naming_it(capsys):
    try:
        main(["train", "x", "--cell", "lstm,transformer"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "'lstm,transformer'" in capsys.readouterr().err


def test_under_torchrun_the_resume_command_is_the_same_launch(monkeypatch):
    from training.cli import resume_command
    args = build_parser().parse_args(["train", "music", "--out", "m.model", "--steps", "40"])
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    words = shlex.split(resume_command(args, out="m.model"))
    assert words[:6] == ["torchrun", "--standalone", "--nproc-per-node=2", "-m", "composer", "train"]
    assert words[-1] == "--resume" and "--steps" in words


def test_a_checkpoint_resumes_only_with_its_number_of_processes(tmp_path, capsys):
    """A checkpoint of a 2-process run resumed by one process would change each
    process's files and the global batch (a QA run went on silently, epochs going back)."""
    from training.checkpoint import load_checkpoint, save_checkpoint
    folder, model = make_folder(tmp_path), tmp_path / "s.model"
    common = ["train", str(folder), "--out", str(model), "--cache-dir", str(tmp_path / "cache"), *FAST]
    assert main([*common, "--steps", "2"]) == 0
    last = tmp_path / "s.model.train" / "last.ckpt"
    ckpt = load_checkpoint(last)
    save_checkpoint(last, ckpt.model_state, ckpt.optimizer_state, {**ckpt.meta, "world_size": 2}, ckpt.extra)
    capsys.readouterr()
    assert main([*common, "--steps", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "written by 2 process(es) and this run has 1; resume with the same number" in err


def test_form_comparison_trains_one_model_per_design_and_prints_the_table(tmp_path, capsys):
    folder = make_folder(tmp_path)
    out = tmp_path / "mine.model"
    rc = main(["train", str(folder), "--out", str(out), "--compare-form", "baseline,lookback-copy", "--steps", "3",
               "--cache-dir", str(tmp_path / "cache"), *TINY])
    err = capsys.readouterr().err
    assert rc == 0
    table = json.loads((tmp_path / "mine-designs.json").read_text())
    assert [r["design"] for r in table["runs"]] == ["baseline", "lookback-copy"]
    lookbacks = []
    for run in table["runs"]:
        meta = read_metadata(Path(run["model_path"]))
        lookbacks.append((meta["model"].get("lookback"), meta["model"].get("lookback_copy")))
        assert run["val_bits_per_note"] == meta["training"]["val_bits_per_note"] > 0
        assert f"{run['val_bits_per_note']:.3f}" in err
    assert lookbacks == [([], False), ([1, 2, 4, 8], True)]
    assert err.count("8 MIDI file(s)") == 1
    assert main(["generate", "--model", str(tmp_path / "mine-lookback-copy.model"), "--bars", "4", "--seed", "3",
                 "--count", "3", "--out", str(tmp_path / "songs"), "--quiet"]) == 0
    assert len(list((tmp_path / "songs").glob("*.mid"))) == 3


def test_lookback_options_are_checked_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path), "--lookback", "2,1"])
    assert exc.value.code == 2 and "--lookback '2,1'" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--compare-form", "all", "--lookback", "1,2"]) == 2
    assert "--compare-form sets the lookback options itself" in capsys.readouterr().err


def test_a_damaged_file_is_used_up_to_the_damage_unless_strict_midi(tmp_path, capsys):
    folder = tmp_path / "damaged"
    for i in range(3):
        write_song(melody(40, seed=i), folder / f"good{i}.mid")
    whole = (folder / "good0.mid").read_bytes()
    (folder / "cut.mid").write_bytes(whole[:len(whole) * 2 // 3])
    model, report = tmp_path / "d.model", tmp_path / "report.json"
    common = [str(folder), "--out", str(model), "--steps", "1", "--report", str(report),
              "--cache-dir", str(tmp_path / "cache"), *TINY]       # one cache: the setting is part of its key
    assert main(["train", *common]) == 0
    assert "1 damaged file(s) used up to the damage:" in capsys.readouterr().err
    cut = next(f for f in json.loads(report.read_text())["files"] if f["path"] == "cut.mid")
    assert cut["status"] == "used" and cut["damage"].startswith(f"truncated at byte {len(whole) * 2 // 3}")
    assert main(["train", *common, "--strict-midi", "--force"]) == 0
    cut = next(f for f in json.loads(report.read_text())["files"] if f["path"] == "cut.mid")
    assert cut["status"] == "skipped" and cut["reason"].startswith("corrupt: truncated at byte")
