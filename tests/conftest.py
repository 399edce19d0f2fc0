"""Suite-wide settings for running in parallel (pytest-xdist, ``-n 2`` in pyproject.toml).

The end-to-end files run DVC pipelines for minutes each, one process after another, so two workers halve
the wall time on 2 cores only if neither waits for the longest file: those files are queued first (each
file stays on one worker, ``--dist loadfile``), in the order ``LONGEST`` explains, and every worker and the processes it
starts keep to one thread, so two workers do not oversubscribe the cores.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # before any test module imports torch
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

# Files by measured run time (seconds on a 2-core Xeon, one process: 817, 478, 265, 123, 101). xdist starts
# each worker with two files, the first four queued: the pipeline file (1089 s beside another worker) gets a
# short one beside it, and the other worker the next two long ones, so the longest never waits behind one.
LONGEST = ("test_pipeline.py", "test_dvc_team.py", "test_device.py", "test_fault_injection.py", "test_ddp.py",
           "test_real_path.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST)))  # stable: the rest keep their order
