"""The ``reference`` stack: the project's own sans-IO endpoint (``mptcpspec.reference``), in-process.

No root and no device: ``inject`` hands the tester's segment to ``Endpoint.receive``, ``receive`` returns
what ``segments_to_send`` produced, running the endpoint's timers on the real clock meanwhile.  The
application is in-process too and behaves like ``apps.py``: a server reads to the end of the stream,
checks it against the seeded stream, answers and closes; a client sends, closes and checks the answer.
Each ``listen``/``connect`` makes a fresh endpoint (one connection per case); the addresses are the
linux stack's, though nothing is routed.
"""

from __future__ import annotations

import collections
import time

from ...reference import events as ev
from ...reference.endpoint import Endpoint
from ...reference.state import Config, Role
from ...spec.segment import Segment
from .apps import stream
from .base import AppOutcome, AppRun, Stack, StackConfig, StackUnavailable

__all__ = ["ReferenceStack"]

_SEED = 8684
_IDLE = 0.005


def _address(number: int, ip_version: int) -> str:
    return f"10.235.1.{number}" if ip_version == 4 else f"fd00:235:1::{number}"


class _App(AppRun):
    """The in-process application on one endpoint; events are fed to it by the stack's pump."""

    def __init__(
        self, stack: ReferenceStack, endpoint: Endpoint, expected: bytes, answer: bytes, server: bool
    ):
        self.stack = stack
        self.endpoint = endpoint
        self.expected = expected
        self.answer = answer
        self.server = server
        self.received = bytearray()
        self.ended = False
        self.reset = False
        self.closed = False
        self.aborted = False

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.DataReceived):
            self.received += event.data
            limit = self.stack.config.abort_after
            if self.server and limit is not None and len(self.received) >= limit and not self.aborted:
                self.aborted = True
                self.endpoint.abort()
        elif isinstance(event, ev.StreamEnded):
            self.ended = True
            if self.server:
                self.endpoint.send(self.answer)
                self.endpoint.close()
        elif isinstance(event, ev.ConnectionEstablished) and self.stack.config.announce_alt:
            self.endpoint.add_address(self.stack.stack_alt_addr(4))
        elif isinstance(event, ev.ConnectionClosed):
            self.closed, self.reset = True, event.reset

    def outcome(self, timeout: float) -> AppOutcome:
        deadline = time.monotonic() + timeout
        while not self._done() and time.monotonic() < deadline:
            self.stack.pump()
            time.sleep(_IDLE)
        ok = self.aborted or (self.ended and bytes(self.received) == self.expected and not self.reset)
        detail = f"received {len(self.received)} of {len(self.expected)} bytes, ended={self.ended}"
        return AppOutcome(self.closed or self.ended, ok, self.reset, detail + f", reset={self.reset}")

    def _done(self) -> bool:
        """Finished as ``apps.py`` is: the peer's stream has ended (a server has answered and closed by
        then), or the connection was reset, closed or aborted."""
        return self.closed or self.reset or self.aborted or self.ended

    def stop(self) -> None:
        self.stack.drop(self)


class ReferenceStack(Stack):
    """The reference endpoint under test (``--stack reference``)."""

    name = "reference"

    def __init__(self) -> None:
        self.config = StackConfig()
        self._app: _App | None = None
        self._out: collections.deque[Segment] = collections.deque()

    def stack_addr(self, ip_version: int = 4) -> str:
        return _address(2, ip_version)

    def stack_alt_addr(self, ip_version: int = 4) -> str:
        return _address(3, ip_version)

    def tester_addr(self, ip_version: int = 4) -> str:
        return _address(1, ip_version)

    def tester_alt_addr(self, ip_version: int = 4) -> str:
        return _address(4, ip_version)

    def configure(self, config: StackConfig) -> None:
        self.config = config

    def _endpoint(self, role: Role) -> Endpoint:
        config = Config(checksum=self.config.checksum, max_subflows=self.config.subflows + 1,
                        auto_join=self.config.add_addr_accepted > 0)  # fmt: skip
        return Endpoint(role, config, time.monotonic())

    def listen(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        endpoint = self._endpoint(Role.SERVER)
        self._app = _App(self, endpoint, stream(_SEED, up), stream(_SEED + 1, down), server=True)
        self._out.clear()
        return self._app

    def connect(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        endpoint = self._endpoint(Role.CLIENT)
        now = time.monotonic()
        endpoint.connect((self.stack_addr(ip_version), None), (self.tester_addr(ip_version), port), now)
        endpoint.send(stream(_SEED, up))
        endpoint.close()
        self._app = _App(self, endpoint, stream(_SEED + 1, down), b"", server=False)
        self._out.clear()
        self.pump()
        return self._app

    def set_backup(self, address: str, backup: bool) -> None:
        if self._app is None:
            raise StackUnavailable("no application is running on the reference stack")
        endpoint = self._app.endpoint
        for number, subflow in endpoint.state.subflows.items():
            if subflow.local[0] == address:
                endpoint.set_backup(number, backup)
        self.pump()

    def drop(self, app: _App) -> None:
        """Forget ``app``'s endpoint (the case is over)."""
        if self._app is app:
            self._app = None

    def pump(self) -> None:
        """Run due timers, hand events to the application and queue what the endpoint sends."""
        app = self._app
        if app is None:
            return
        now = time.monotonic()
        timer = app.endpoint.get_timer()
        if timer is not None and timer <= now:
            app.endpoint.handle_timer(now)
        while (event := app.endpoint.next_event()) is not None:
            app.on_event(event)
            if (
                self.config.join_from_alt
                and isinstance(event, ev.ConnectionEstablished)
                and not event.fallback
            ):
                app.endpoint.open_subflow(self.stack_alt_addr(4))
        self._out.extend(app.endpoint.segments_to_send(now))

    def inject(self, segment: Segment) -> None:
        if self._app is None:
            raise StackUnavailable("no application is running on the reference stack")
        self._app.endpoint.receive(segment, time.monotonic())
        self.pump()

    def receive(self, timeout: float) -> Segment | None:
        deadline = time.monotonic() + timeout
        while not self._out:
            self.pump()
            if self._out or time.monotonic() >= deadline:
                break
            time.sleep(min(_IDLE, max(deadline - time.monotonic(), 0.0)))
        return self._out.popleft() if self._out else None
