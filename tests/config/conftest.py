from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sealfeed.config.example import example_solution


@pytest.fixture
def solution() -> dict[str, Any]:
    """A fresh, valid, reference-shaped solution object."""
    return copy.deepcopy(example_solution())


@pytest.fixture
def make_solution() -> Callable[..., dict[str, Any]]:
    return lambda **kw: copy.deepcopy(example_solution(**kw))
