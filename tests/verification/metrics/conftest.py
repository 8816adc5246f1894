"""The tiny demo world as the metrics see it: its records as plain dicts, the base model (memorises every
member) and the gold standard retrained without the forgotten people."""

from __future__ import annotations

import pytest

from palimpsest.ml.loading import LoadedModel, load_causal_lm
from verification.metrics.probes import ProbeSet
from verification.metrics.world_probes import WorldRecords, demo_probe_set

# Attributes no two people of the tiny world share: a model that never saw a person cannot guess them.
IDENTIFYING = ("birth_date", "home_address", "phone", "email", "spouse")


@pytest.fixture(scope="session")
def records(tiny_world) -> WorldRecords:
    return WorldRecords.read(tiny_world.world_dir)


@pytest.fixture(scope="session")
def forget_ids(tiny_world_retrained) -> list[str]:
    return list(tiny_world_retrained.forgotten_ids)


@pytest.fixture(scope="session")
def retrained_lm(tiny_world_retrained) -> LoadedModel:
    """The model trained without `forget_ids`: read only, like tiny_lm."""
    return load_causal_lm(tiny_world_retrained.model_dir)


@pytest.fixture(scope="session")
def probe_set(records, forget_ids) -> ProbeSet:
    return demo_probe_set(records, forget_ids)
