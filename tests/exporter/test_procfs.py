"""Property tests: the /proc parsers only ever raise ProcParseError (an InputError).

(The cgroup parsers, sealfeed.cgroup, have theirs in tests/test_cgroup.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealfeed.exporter.procfs import (
    ProcParseError,
    parse_children,
    parse_int_file,
    parse_keyed,
    parse_pg_backend,
    parse_pid_stat,
    parse_uptime,
)
from tests.exporter.procfs_tree import stat_line

PARSERS: list[Callable[[str], Any]] = [
    parse_pid_stat,
    parse_uptime,
    parse_children,
    lambda t: parse_int_file(t, location="x"),
    lambda t: parse_keyed(t, location="x"),
    lambda t: parse_keyed(t, location="x", sep=":"),
]


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_parsers_raise_only_parse_errors(parser: Callable[[str], Any], text: str) -> None:
    try:
        parser(text)
    except ProcParseError as err:
        assert err.exit_code == 2


@settings(max_examples=200, deadline=None)
@given(
    pid=st.integers(1, 4_194_304),
    comm=st.text(alphabet=st.characters(blacklist_characters="\n\0"), min_size=0, max_size=15),
    ppid=st.integers(0, 4_194_304),
    cpu=st.integers(0, 10**6),
    threads=st.integers(1, 10_000),
)
def test_stat_roundtrip(pid: int, comm: str, ppid: int, cpu: int, threads: int) -> None:
    st_ = parse_pid_stat(stat_line(pid, comm, ppid, cpu=cpu, threads=threads, start=5, rss_kb=64))
    assert (st_.pid, st_.comm, st_.ppid, st_.num_threads) == (pid, comm, ppid, threads)


@given(data=st.binary(max_size=300))
def test_pg_title_never_raises(data: bytes) -> None:
    parse_pg_backend(data)
