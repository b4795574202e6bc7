"""Shared test setup.

Numba reads NUMBA_ENABLE_CUDASIM when it is first imported, so the CUDA simulator has to be switched on here, before
any test module imports numba: on a machine without a GPU the CUDA kernels then run (slowly) on the CPU under Numba's
simulator; on a machine with a GPU they run on the GPU.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest
from hypothesis import HealthCheck, settings

# One Hypothesis profile for the whole suite: no per-example deadline (the first example of a Numba kernel pays its
# compilation, and a shared 2-core machine makes any wall-clock deadline flaky). FOUNDATIONS_HYPOTHESIS=thorough
# runs more examples.
settings.register_profile("foundations", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", parent=settings.get_profile("foundations"), max_examples=500)
settings.load_profile(os.environ.get("FOUNDATIONS_HYPOTHESIS", "foundations"))


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (deselect with -m 'not browser')")
