"""One torch thread: the tiny models gain nothing from two, and shared cores make two much slower."""

import pytest
import torch

# Also registered by tests/conftest.py (pytest_plugins); imported here so these tests run on their own.
from tests.fixtures.demo import tiny_lm, tiny_world, tiny_world_retrained  # noqa: F401


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
