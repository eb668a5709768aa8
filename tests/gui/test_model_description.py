"""One description of a model file: the app's picker, `composer info` and the
loaded model's summary give the same size (weights only, not the copy index)."""
from __future__ import annotations

from composer.assets import INFILL_MODEL, MELODY_MODEL, asset_path
from composer.cli.main import main
from composer.model.modelfile import load_model
from composer.services.describe import describe_model
from gui.catalog import describe


def test_picker_info_and_loaded_model_agree(capsys):
    for name in (MELODY_MODEL, INFILL_MODEL):
        path = asset_path(name)
        loaded = load_model(path)
        description = describe_model(path)
        entry = describe(path, "default")
        assert entry.parameters == description.parameters == loaded.model.num_parameters()
        assert description.summary() == loaded.summary()
        assert description.infill == entry.infill == loaded.is_infill
        assert main(["info", str(path)]) == 0
        assert f"parameters:      {loaded.model.num_parameters():,}" in capsys.readouterr().out
    assert load_model(asset_path(MELODY_MODEL)).copy_arrays      # (so the copy index was left out above)
