"""Fixtures of the store contract: which backend, and stores on a fresh database of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.store_contract.backends import BACKENDS, Backend, make
from tests.store_contract.harness import StoreFactory


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> Backend:
    """One store backend (every contract test runs once per entry of ``BACKENDS``)."""
    return make(str(request.param), request)


@pytest.fixture
async def store_factory(store_backend: Backend) -> AsyncIterator[StoreFactory]:
    """``await store_factory()``: a store on this test's database (call again for another
    connection to the same database)."""
    factory = StoreFactory(store_backend)
    try:
        yield factory
    finally:
        await factory.close_all()
