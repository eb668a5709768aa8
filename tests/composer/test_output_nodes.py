"""Never replace what is not ours: a device node, FIFO, socket or folder given
as any output of any command stays what it was, and the command says why in
one line with exit 2, --force or not. The nodes are made here in tmp_path
(a character device only where os.mknod is allowed); /dev is never touched."""
from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

import pytest
from tinymodels import tiny_model_file

from benchmarks.midi_factory import melody, write_song
from composer.cli.main import main
from composer.errors import NotAFileError
from composer.music.song import Note, melody_song

KINDS = ["fifo", "socket", "folder", "chardev"]
NOT_FOLDERS = ["fifo", "socket", "chardev"]
IS_KIND = {"fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "folder": stat.S_ISDIR, "chardev": stat.S_ISCHR}
SAYS = {"fifo": "a FIFO (named pipe)", "socket": "a socket", "folder": "a folder", "chardev": "a character device"}
TINY_TRAIN = ["--steps", "1", "--layers", "1", "--hidden", "8", "--embed", "8", "--batch", "2", "--seq-len", "16",
              "--workers", "1", "--quiet"]


def make_node(path: Path, kind: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        # an AF_UNIX address holds ~108 bytes, less than a tmp_path: bind the bare name from its folder
        here = os.getcwd()
        os.chdir(path.parent)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    else:
        try:            # the numbers of /dev/null, but a node of our own in tmp_path
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except OSError as exc:
            pytest.skip(f"cannot make a character device here (needs root): {exc}")
    assert is_still(path, kind)
    return path


def is_still(path: Path, kind: str) -> bool:
    return IS_KIND[kind](os.lstat(path).st_mode)


def refused(capsys, argv: list[str], node: Path, kind: str, option: str, *, folder: bool = False) -> str:
    """Run the CLI; it must exit 2 with one line naming `node`, what it is and
    the option to change, and leave the node as it was."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    expected = f"{node} is {SAYS[kind]}, not " + ("a folder to write into" if folder else "a file")
    assert f"{expected}: choose another {option}" in lines[0], lines[0]
    assert is_still(node, kind)
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("nodes") / "tiny.model", steps=3)



FORCE = pytest.mark.parametrize("force", [[], ["--force"]], ids=["", "force"])


# ---- generate ---------------------------------------------------------------------------

@FORCE
@pytest.mark.parametrize("kind", KINDS)
def test_generate_refuses_a_node_as_a_piece(tmp_path, capsys, model, kind, force):
    node = make_node(tmp_path / "songs" / "tune_s1_001.mid", kind)
    refused(capsys, ["generate", "--model", model, "--out", tmp_path / "songs", "--prefix", "tune", "--seed", "1",
                     "--bars", "1", "--quiet", *force], node, kind, "--out or --prefix")


@pytest.mark.parametrize("kind", NOT_FOLDERS)
def test_generate_refuses_a_node_as_its_out_folder(tmp_path, capsys, model, kind):
    node = make_node(tmp_path / "songs", kind)
    refused(capsys, ["generate", "--model", model, "--out", node, "--quiet", "--force"], node, kind, "--out",
            folder=True)


@FORCE
@pytest.mark.parametrize("kind", KINDS)
def test_generate_refuses_a_node_as_an_audio_file(tmp_path, capsys, model, kind, force):
    node = make_node(tmp_path / "songs" / "tune_s1_001.wav", kind)
    refused(capsys, ["generate", "--model", model, "--out", tmp_path / "songs", "--prefix", "tune", "--seed", "1",
                     "--bars", "1", "--audio", "wav", "--quiet", *force], node, kind, "--out or --prefix")
    assert not (tmp_path / "songs" / "tune_s1_001.mid").exists()     # refused before anything was written


# ---- train ------------------------------------------------------------------------------

@FORCE
@pytest.mark.parametrize("kind", KINDS)
def test_train_refuses_a_node_as_out(tmp_path, capsys, tunes, kind, force):
    node = make_node(tmp_path / "t.model", kind)
    refused(capsys, ["train", tunes, "--out", node, *TINY_TRAIN, *force], node, kind, "--out")
    assert not (tmp_path / "t.model.train").exists()


@FORCE
@pytest.mark.parametrize("kind", KINDS)
def test_train_refuses_a_node_as_report(tmp_path, capsys, tunes, kind, force):
    node = make_node(tmp_path / "report.json", kind)
    refused(capsys, ["train", tunes, "--out", tmp_path / "t.model", "--report", node, *TINY_TRAIN, *force],
            node, kind, "--report")
    assert not (tmp_path / "t.model").exists()


@pytest.mark.parametrize("kind", NOT_FOLDERS)
def test_train_refuses_a_node_as_its_checkpoint_folder(tmp_path, capsys, tunes, kind):
    node = make_node(tmp_path / "t.model.train", kind)
    refused(capsys, ["train", tunes, "--out", tmp_path / "t.model", "--force", *TINY_TRAIN], node, kind, "--out",
            folder=True)


@pytest.mark.parametrize("name", ["metrics.jsonl", "last.ckpt", "best.model"])
@pytest.mark.parametrize("kind", KINDS)
def test_train_refuses_a_node_among_its_checkpoint_files(tmp_path, capsys, tunes, kind, name):
    node = make_node(tmp_path / "t.model.train" / name, kind)
    refused(capsys, ["train", tunes, "--out", tmp_path / "t.model", "--force", *TINY_TRAIN], node, kind, "--out")


@pytest.mark.parametrize("kind", KINDS)
def test_a_cell_comparison_refuses_a_node_as_its_table_before_training(tmp_path, capsys, tunes, kind):
    node = make_node(tmp_path / "t-cells.json", kind)
    refused(capsys, ["train", tunes, "--out", tmp_path / "t.model", "--cell", "lstm,gru", *TINY_TRAIN], node, kind,
            "--out")
    assert not list(tmp_path.glob("t-*.model"))


# ---- eval, infill, copy-index, corpus conversion ---------------------------------------------

@FORCE
@pytest.mark.parametrize("option", ["--json", "--html"])
@pytest.mark.parametrize("kind", KINDS)
def test_eval_refuses_a_node_as_json_or_html(tmp_path, capsys, model, tunes, kind, option, force):
    node = make_node(tmp_path / "report.out", kind)
    refused(capsys, ["eval", model, tunes, option, node, "--quiet", *force], node, kind, option)


@FORCE
@pytest.mark.parametrize("kind", KINDS)
def test_infill_refuses_a_node_as_a_variation(tmp_path, capsys, model, kind, force):
    song = write_song(melody(32, seed=1), tmp_path / "song.mid")
    node = make_node(tmp_path / "out" / "song-infill-01.mid", kind)
    refused(capsys, ["infill", model, song, "--bars", "2", "--count", "1", "--out", tmp_path / "out", "--quiet",
                     *force], node, kind, "--out")


@pytest.mark.parametrize("kind", NOT_FOLDERS)
def test_infill_refuses_a_node_as_its_out_folder(tmp_path, capsys, model, kind):
    song = write_song(melody(32, seed=1), tmp_path / "song.mid")
    node = make_node(tmp_path / "out", kind)
    refused(capsys, ["infill", model, song, "--bars", "2", "--out", node, "--quiet"], node, kind, "--out",
            folder=True)


@pytest.mark.parametrize("remove", [[], ["--remove"]], ids=["store", "remove"])
@pytest.mark.parametrize("kind", KINDS)
def test_copy_index_refuses_a_node_as_the_model_it_rewrites(tmp_path, capsys, tunes, kind, remove):
    node = make_node(tmp_path / "m.model", kind)
    refused(capsys, ["copy-index", node, *([] if remove else [tunes]), *remove], node, kind, "MODEL")


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_conversion_refuses_a_node_as_report_or_out_dir(tmp_path, capsys, kind):
    from training.corpus import main as corpus_main
    node = make_node(tmp_path / "report.json", kind)
    assert corpus_main(["folk", str(tmp_path / "midi"), "--report", str(node), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {node} is {SAYS[kind]}, not a file: choose another --report"
    assert is_still(node, kind) and not (tmp_path / "midi").exists()
    if kind != "folder":
        out = make_node(tmp_path / "out_dir", kind)
        assert corpus_main(["folk", str(out), "--quiet"]) == 2
        assert f"{out} is {SAYS[kind]}, not a folder to write into" in capsys.readouterr().err
        assert is_still(out, kind)


# ---- the check at the moment of writing ----------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_writer_refuses_a_node_when_it_writes(tmp_path, model, kind):
    """The core writers (all through composer.midi_io.write_atomic), with force:
    what a front end that forgot its own check would reach."""
    import torch

    from composer.corpus.ingest import IngestReport
    from composer.model.modelfile import load_model, save_model, store_copy_index
    from composer.music.midifile import write_atomic, write_midi
    from composer.sound.audio import write_audio
    from training.checkpoint import save_checkpoint

    node = make_node(tmp_path / "target", kind)
    loaded = load_model(model)
    song = melody_song([Note(0, 1, 60)])
    writers = {
        "write_atomic": lambda: write_atomic(node, b"data", force=True),
        "write_midi": lambda: write_midi(song, node, force=True),
        "write_audio": lambda: write_audio(song, node, force=True, audio_format="wav"),
        "save_model": lambda: save_model(node, loaded.model, loaded.tokenizer, force=True),
        "store_copy_index": lambda: store_copy_index(node, None),
        "save_checkpoint": lambda: save_checkpoint(node, {"w": torch.zeros(2)}, {"state": {}, "param_groups": []},
                                                   {"step": 1}),
        "ingest report": lambda: IngestReport(folder="f", representation="melody").save_json(node),
    }
    for name, write in writers.items():
        with pytest.raises(NotAFileError, match=re.escape(f"{node} is {SAYS[kind]}, not a file")):
            write()
        assert is_still(node, kind), name
    assert [p.name for p in tmp_path.iterdir()] == ["target"]          # no temp file left either
