"""Writes .npy files with numpy itself (np.lib.format.write_array), for NpyFiles in test_weights_hardening.cpp.

Usage: npy_files.py OUT_DIR. Each file's values are 0.5 * (0, 1, 2, ...) in the array's own dtype and order:
  f4_v1_2x3.npy, f4_v2_4.npy, f4_v3_2x1x2.npy, f4_scalar.npy, f4_empty_0x3.npy   -- little-endian float32, C order
  f4_big_endian.npy ('>f4'), f8.npy ('<f8'), f4_fortran.npy (fortran_order True), structured.npy ([('a', '<f4')])
"""
import os
import sys

import numpy as np


def write(path, array, version=(1, 0)):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def values(shape, dtype):
    n = int(np.prod(shape)) if len(shape) else 1
    return (0.5 * np.arange(n)).astype(dtype).reshape(shape)


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
write(os.path.join(out, "f4_v1_2x3.npy"), values((2, 3), "<f4"))
write(os.path.join(out, "f4_v2_4.npy"), values((4,), "<f4"), version=(2, 0))
write(os.path.join(out, "f4_v3_2x1x2.npy"), values((2, 1, 2), "<f4"), version=(3, 0))
write(os.path.join(out, "f4_scalar.npy"), values((), "<f4"))
write(os.path.join(out, "f4_empty_0x3.npy"), values((0, 3), "<f4"))
write(os.path.join(out, "f4_big_endian.npy"), values((2, 2), ">f4"))
write(os.path.join(out, "f8.npy"), values((2, 2), "<f8"))
write(os.path.join(out, "f4_fortran.npy"), np.asfortranarray(values((2, 3), "<f4")))
write(os.path.join(out, "structured.npy"), np.zeros(3, dtype=[("a", "<f4")]))
