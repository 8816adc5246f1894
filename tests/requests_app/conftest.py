"""Fixtures of the requests_app tests."""

import pytest

from requests_app.guard import services as guard


@pytest.fixture(autouse=True)
def _fresh_guard_index():
    # Each test's database is rolled back; this process's in-memory copy of the guard must not outlive it.
    guard.guard_reset_local()
    yield
    guard.guard_reset_local()
