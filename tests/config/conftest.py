from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sealfeed.config.example import example_solution


@pytest.fixture
def make_solution() -> Callable[..., dict[str, Any]]:
    return lambda **kw: copy.deepcopy(example_solution(**kw))
