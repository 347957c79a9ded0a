import pytest
import torch

from kdkit.device import DeviceError, resolve


def test_auto_and_cpu():
    assert resolve("cpu") == torch.device("cpu")
    assert resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(DeviceError, match="no CUDA GPU.*auto or cpu"):
        resolve("cuda")


def test_unknown_device_names_the_allowed_ones():
    with pytest.raises(DeviceError, match="auto, cpu, cuda"):
        resolve("tpu")
