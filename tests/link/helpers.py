"""In-process link VMs for the service tests: LinkService instances on loopback
addresses, a TCP stand-in for Chainlink, waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sealfeed.link.collateral import CollateralProvider
from sealfeed.link.identity import direct_quoter
from sealfeed.link.plan import LinkPlan, parse_plan
from sealfeed.link.service import LinkService
from tests.fakes.tsm import FakeTdxHost, TdKnobs
from tests.link.conftest import CONFIG_HASH, plan_doc

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(guarded())


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port currently free on ``ip`` (any 127.0.0.0/8 address is local on Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


async def eventually(pred: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


class Node:
    """Stand-in for a Chainlink node's P2P port: greets with its name, then echoes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections = 0

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        w.write(f"{self.name}\n".encode())
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.write_eof()  # half-close answered: the peer's EOF reached us through the tunnel
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def start(self) -> Node:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def talk(addr: tuple[str, int], payload: bytes) -> tuple[str, bytes]:
    """Connect, read the greeting, send ``payload``, half-close, read the echo to EOF."""
    r, w = await asyncio.open_connection(*addr)
    try:
        greeting = (await asyncio.wait_for(r.readline(), 10)).decode().strip()
        w.write(payload)
        await w.drain()
        w.write_eof()
        echo = await asyncio.wait_for(r.read(-1), 20)
        return greeting, echo
    finally:
        w.close()


@dataclass
class Vm:
    """One in-process "VM": its TD knobs (mutable: the next identity uses them) and link."""

    name: str
    ip: str
    port: int
    td: TdKnobs = field(default_factory=TdKnobs)
    config_hash: str = CONFIG_HASH
    svc: LinkService | None = None
    task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def plan(self, host: FakeTdxHost, collateral: Path | dict[str, Any], **kw: Any) -> LinkPlan:
        kw.setdefault("reattest_seconds", 60)
        kw.setdefault("probe_seconds", 0.5)
        return parse_plan(plan_doc(self.name, host=host, collateral=collateral,
                                   listen=self.address, **kw))  # fmt: skip

    async def start(self, host: FakeTdxHost, plan: LinkPlan, **kw: Any) -> LinkService:
        self.svc = LinkService(
            plan,
            config_hash=self.config_hash,
            quoter=direct_quoter(lambda rd: host.quote(rd, self.td), self.config_hash),
            collateral=CollateralProvider(plan.collateral, clock=time.time),
            **kw,
        )
        ready = asyncio.Event()
        self.task = asyncio.create_task(self.svc.run(notify=ready.set))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([waiter, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()  # raises the start-up error
        return self.svc

    async def stop(self) -> None:
        if self.svc is not None and self.task is not None:
            self.svc.stop.set()
            await self.task
            self.task = None


@contextlib.asynccontextmanager
async def stopping(*vms: Vm) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for vm in vms:
            with contextlib.suppress(Exception):
                await vm.stop()
