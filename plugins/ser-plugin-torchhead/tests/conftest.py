"""Tiny networks: train them on one torch thread (extra threads only add synchronisation)."""

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    monkeypatch.setenv("SERBENCH_TORCH_THREADS", "1")
