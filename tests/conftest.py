"""Shared test setup.

Numba reads NUMBA_ENABLE_CUDASIM when it is first imported, so the CUDA simulator has to be switched on here, before
any test module imports numba: on a machine without a GPU the CUDA kernels then run (slowly) on the CPU under Numba's
simulator; on a machine with a GPU they run on the GPU.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
