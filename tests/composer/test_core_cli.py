"""`generate` run as a new user would, in a subprocess."""
import io
import subprocess
import sys

import mido
import pretty_midi
import pytest
from tinymodels import tiny_model_file

from composer.music.midifile import read_midi


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("cli") / "tiny.model", "melody")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "composer", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_generate_writes_midi_files_with_requested_bars_tempo_and_program(model_path, tmp_path):
    out = tmp_path / "songs"
    result = cli("generate", "--model", model_path, "--count", 5, "--bars", 6, "--temperature", 0.9,
                 "--seed", 7, "--tempo", 90, "--program", 40, "--time-signature", "3/4", "--out", out)
    assert result.returncode == 0, result.stderr
    files = sorted(out.glob("*.mid"))
    assert len(files) == 5 and "seed 7" in result.stderr and "device: CPU" in result.stderr
    for path in files:
        pm = pretty_midi.PrettyMIDI(str(path))
        assert pm.get_tempo_changes()[1][0] == pytest.approx(90, abs=0.01)
        assert [i.program for i in pm.instruments] == [40]
        midi = mido.MidiFile(path)
        ts = [m for t in midi.tracks for m in t if m.type == "time_signature"][0]
        assert (ts.numerator, ts.denominator) == (3, 4)
        song = read_midi(path)
        assert 0 < song.end_beat <= 6 * 3 + 1e-9
    again = tmp_path / "again"
    cli("generate", "--model", model_path, "--count", 5, "--bars", 6, "--temperature", 0.9, "--seed", 7,
        "--tempo", 90, "--program", 40, "--time-signature", "3/4", "--out", again)
    assert [p.read_bytes() for p in files] == [p.read_bytes() for p in sorted(again.glob("*.mid"))]


@pytest.mark.slow
def test_generate_refuses_to_overwrite_without_force(model_path, tmp_path):
    assert cli("generate", "--model", model_path, "--seed", 1, "--out", tmp_path).returncode == 0
    result = cli("generate", "--model", model_path, "--seed", 1, "--out", tmp_path)
    assert result.returncode == 2 and "--force" in result.stderr
    assert cli("generate", "--model", model_path, "--seed", 1, "--out", tmp_path, "--force").returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--model", "{tmp}/missing.model"], "no such model file"),
    (["--model", "{tmp}/corrupt.model"], "not a model file"),
    (["--model", "{model}", "--count", "-3"], "count must be in 1..10000, got -3"),
    (["--model", "{model}", "--key", "X#"], "unknown key"),
    (["--model", "{model}", "--primer", "{tmp}/not_midi.mid"], "no MThd"),
    (["--model", "{model}", "--primer", "{tmp}/absent.mid"], "does not exist"),
    (["--model", "{model}", "--temperature", "-1"], "temperature"),
])
def test_bad_input_is_one_line_and_exit_code_2(model_path, tmp_path, args, message):
    (tmp_path / "corrupt.model").write_bytes(b"\x00" * 100)
    (tmp_path / "not_midi.mid").write_text("hello")
    args = [a.format(tmp=tmp_path, model=model_path) for a in args]
    result = cli("generate", *args, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert io.StringIO(result.stdout).read() == ""


def test_train_comes_from_the_installed_entry_point():
    from importlib.metadata import entry_points

    from composer.cli.main import COMMAND_PLUGINS, build_parser
    assert [ep.value for ep in entry_points(group=COMMAND_PLUGINS) if ep.name == "train"] == \
        ["training.cli:add_train_parser"]
    assert "train" in build_parser()._subparsers._group_actions[0].choices


def test_a_plugin_that_fails_to_load_is_an_error_naming_it(monkeypatch):
    from importlib.metadata import EntryPoint

    import composer.cli.main as cli_main
    broken = EntryPoint("train", "training.no_such_module:add_train_parser", cli_main.COMMAND_PLUGINS)
    monkeypatch.setattr(cli_main, "entry_points", lambda group: [broken])
    with pytest.raises(cli_main.CliError, match="plugin 'train' .*no_such_module"):
        cli_main.build_parser()
