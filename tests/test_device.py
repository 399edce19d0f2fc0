"""seldlib.device: one way to turn a params/CLI device name into a torch device."""

import pytest
import torch

from seldlib.device import resolve_device


def test_names_and_devices_resolve_alike():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(torch.device("cpu"))
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_gpu_without_cuda_is_refused_for_names_and_devices():
    for name in ("cuda", "cuda:1", torch.device("cuda", 0)):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device(name)
