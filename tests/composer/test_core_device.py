"""Device choice without a GPU: the CUDA/MPS branches are driven by patching
torch's availability probes (this machine has neither device)."""
import pytest
import torch

from composer.errors import ComposerError
from composer.model.device import choose_device, precision_for


def test_auto_on_this_machine_is_cpu_with_a_reason():
    device, reason = choose_device(None)
    assert device.type == "cpu" and reason == "CPU: no CUDA or MPS device found"
    assert choose_device("auto")[0].type == "cpu"


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Test GPU")
    assert choose_device("auto") == (torch.device("cuda"), "CUDA: Test GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert choose_device(None) == (torch.device("mps"), "MPS: Apple GPU")


@pytest.mark.parametrize("name, message", [("cuda", "no CUDA device"), ("cuda:1", "no CUDA device"),
                                           ("mps", "MPS is not available"), ("tpu", "unknown device")])
def test_unavailable_or_unknown_device_is_a_clear_error(name, message):
    with pytest.raises(ComposerError, match=message):
        choose_device(name)


def test_cuda_index_beyond_the_devices_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ComposerError, match="only 1 CUDA device"):
        choose_device("cuda:3")


def test_mixed_precision_only_on_cuda():
    assert not precision_for(torch.device("cpu")).enabled
    bf16 = precision_for(torch.device("cuda"), bf16_supported=True)
    assert bf16.enabled and bf16.dtype == torch.bfloat16 and not bf16.grad_scaler
    fp16 = precision_for(torch.device("cuda"), bf16_supported=False)
    assert fp16.enabled and fp16.dtype == torch.float16 and fp16.grad_scaler
