"""The torch device a study runs on: ``auto`` (CUDA when available, else the CPU), ``cpu``
or ``cuda`` (``cuda:N`` for one of several GPUs). Seeding stays deterministic on the CPU; on
a GPU some kernels are not bit-for-bit reproducible, so tables may differ in the last digits.
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device was asked for that this machine does not have."""


def check(name: str) -> None:
    """Raise :class:`DeviceError` with what is allowed unless ``name`` can be used here."""
    resolve(name)


def resolve(name: str = "auto") -> torch.device:
    """``name`` as a ``torch.device`` (see the module docstring)."""
    if not isinstance(name, str) or not (name in DEVICES or name.startswith("cuda:")):
        raise DeviceError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device '{name}' was asked for, but torch sees no CUDA GPU on this "
                          "machine (torch.cuda.is_available() is False); use device: auto or "
                          "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device '{name}': this machine has {torch.cuda.device_count()} "
                          "CUDA GPU(s)")
    return dev
