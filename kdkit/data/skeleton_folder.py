"""Skeleton motion from a folder of NumPy arrays, one trial per file.

Files are named ``a{action}_s{subject}_t{trial}.npy`` (numbers from 1, as in UTD-MHAD) and
hold an array of shape ``(T, J, 3)``: T frames of J joints' x, y, z (any T per file, the same
J in every file, any joint order as long as it is the same). Other files are ignored. The
result is a :class:`kdkit.data.skeleton.SkeletonSet` with labels ``action - 1`` and actions
named ``a1``..``aN`` (N the largest action number), like :func:`load_utd_mhad` (which reads
UTD-MHAD's own ``.mat`` files).

What is checked (each problem is one :class:`DataError` naming the folder or the file); nothing
is repaired:

* the folder missing, no file matching the name pattern (how many ``.npy`` files did not
  match is said), action 0, two files for the same action, subject and trial (``a1`` and
  ``a01``);
* a file that is not a readable ``.npy`` array, or holds no numbers;
* a shape other than ``(T, J, 3)`` with T, J ≥ 1 (the shape found is given);
* a J that differs from the first file's (both files named);
* NaN or infinite values (how many, and the first frame and joint).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import DataError
from .skeleton import SkeletonSet

NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)\.npy")


def _read(f: Path) -> np.ndarray:
    try:
        x = np.load(f, allow_pickle=False)
    except Exception as e:  # numpy raises several types for broken files
        raise DataError(f"{f}: not a readable .npy array ({e})") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise DataError(f"{f}: holds {getattr(x, 'dtype', type(x).__name__)} values, expected "
                        "numbers")
    if x.ndim != 3 or x.shape[2] != 3 or min(x.shape) < 1:
        raise DataError(f"{f}: shape {x.shape}, expected (T, J, 3): T frames of J joints' "
                        "x, y, z")
    bad = ~np.isfinite(x)
    if bad.any():
        t, j, _ = np.argwhere(bad)[0]
        raise DataError(f"{f}: {int(bad.sum())} NaN or infinite values (first at frame {t}, "
                        f"joint {j}); fill or drop those frames")
    return x.astype(float)


def load_skeleton_folder(folder, *, name: str | None = None) -> SkeletonSet:
    """Every ``a*_s*_t*.npy`` of ``folder`` as one :class:`SkeletonSet` (module docstring)."""
    d = Path(folder).expanduser()
    if not d.is_dir():
        raise DataError(f"skeleton folder not found: {d} (expected files named "
                        "a{action}_s{subject}_t{trial}.npy)")
    keys = {f: tuple(map(int, m.groups())) for f in d.iterdir()
            if (m := NAME.fullmatch(f.name)) and f.is_file()}
    if not keys:
        other = sum(1 for f in d.glob("*.npy"))
        raise DataError(f"no a{{action}}_s{{subject}}_t{{trial}}.npy files in {d} ({other} "
                        "other .npy files)")
    files = sorted(keys, key=lambda f: (keys[f], f.name))
    for f, g in zip(files, files[1:]):
        if keys[f] == keys[g]:
            raise DataError(f"{d}: {f.name} and {g.name} are the same action, subject and trial")
    zero = next((f for f in files if keys[f][0] < 1), None)
    if zero is not None:
        raise DataError(f"{zero}: action numbers start at 1")
    seqs = []
    for f in files:
        x = _read(f)
        if seqs and x.shape[1] != seqs[0].shape[1]:
            raise DataError(f"{f}: {x.shape[1]} joints, but {files[0].name} has "
                            f"{seqs[0].shape[1]}; every file needs the same joints")
        seqs.append(x)
    a, s, t = (np.array(v) for v in zip(*(keys[f] for f in files)))
    return SkeletonSet(seqs, a - 1, s, t, tuple(f"a{i + 1}" for i in range(int(a.max()))),
                       name or d.name)


def load_skeletons(folder, *, joints: int | None = None) -> SkeletonSet:
    """A study's skeleton data: UTD-MHAD's ``a*_s*_t*_skeleton.mat`` files, else a folder of
    ``.npy`` arrays (:func:`load_skeleton_folder`); ``joints`` requires that many joints (a
    study whose preprocessing names joints, e.g. the hips of the 20-joint Kinect v1 layout)."""
    from .skeleton import load_utd_mhad

    d = Path(folder).expanduser()
    mat = d.is_dir() and any(f.name.endswith("_skeleton.mat") for f in d.iterdir())
    data = load_utd_mhad(d) if mat else load_skeleton_folder(d)
    j = data.sequences[0].shape[1]
    if joints is not None and j != joints:
        raise DataError(f"{d}: the arrays hold {j} joints; this study needs {joints} in the "
                        "Kinect v1 order of UTD-MHAD (its preprocessing uses the hip and "
                        "shoulder joints)")
    return data
