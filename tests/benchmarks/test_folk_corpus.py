"""`python -m benchmarks` from a fresh clone: the folk corpus the training and
memory parts need is converted on first use (after saying how long it takes),
never over a folder that holds something, and `--folder` replaces it."""
from __future__ import annotations

import pytest

from benchmarks import folk


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch):
    monkeypatch.setattr(folk, "ROOT", tmp_path)
    monkeypatch.setattr(folk, "DEFAULT_FOLDER", tmp_path / "runs" / "dm2" / "folk")
    monkeypatch.setattr(folk, "TUNES", 3)
    return tmp_path


@pytest.mark.slow
def test_the_corpus_is_built_once_after_saying_how_long(fresh_clone):
    said, reports = [], []
    folder = folk.training_folder(say=said.append, progress=reports.append, workers=1)
    assert folder == fresh_clone / "runs" / "dm2" / "folk"
    assert len(list(folder.glob("*.mid"))) == 3 and not folder.with_name("folk.partial").exists()
    assert len(said) == 1 and "converting 3 tunes" in said[0] and "runs/dm2/folk" in said[0] and "min" in said[0]
    assert reports[-1].stage == "converting folk" and reports[-1].done == reports[-1].total == 3
    assert folk.training_folder(say=said.append) == folder and len(said) == 1      # built: nothing more to do


def test_a_folder_that_holds_anything_is_used_as_it_is(fresh_clone):
    mine = fresh_clone / "runs" / "dm2" / "folk" / "sub"
    mine.mkdir(parents=True)
    (mine / "tune.midi").write_bytes(b"MThd")
    said = []
    assert folk.training_folder(say=said.append) == mine.parent and said == []
    assert (mine / "tune.midi").read_bytes() == b"MThd"


def test_folder_given_is_used_without_building(fresh_clone, tmp_path):
    said = []
    assert folk.training_folder(tmp_path / "elsewhere", say=said.append) == tmp_path / "elsewhere"
    assert said == [] and not (fresh_clone / "runs").exists()


def test_the_estimate_grows_with_the_tunes_and_shrinks_with_workers():
    assert folk.estimate_seconds(900, 2) > folk.estimate_seconds(100, 2)
    assert folk.estimate_seconds(900, 1) >= folk.estimate_seconds(900, 2)
