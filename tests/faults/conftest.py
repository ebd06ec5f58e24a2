"""Fixtures for the fault-injection suite: a zygote that forks real training processes."""

from __future__ import annotations

import pytest

from ..conftest import write_tiny
from .helpers import Zygote


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    write_tiny(data)
    z = Zygote(data)
    z.data = data
    yield z
    z.close()
