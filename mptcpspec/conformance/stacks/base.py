"""The ``Stack`` interface: what the active suite needs of an MPTCP implementation under test.

The tester (``mptcpspec.conformance.suite.tester``) talks to a stack at the level of Segments, as
packetdrill does with the kernel: it ``inject``s crafted segments and ``receive``s what the stack sends.
On the stack's side an application either listens (``listen``: the tester is the connection's
initiator) or connects to the tester (``connect``).  The application moves a seeded pseudo-random
byte stream each way (``mptcpspec.conformance.stacks.apps.stream``) and reports whether the bytes it
received were the expected ones, so a case can tell that data really reached the stack's application.

Addresses: the stack owns ``stack_addr(v)``, ``stack_alt_addr(v)`` is a second address of the stack
(for its own joins and announcements), and the tester owns ``tester_addr(v)`` and
``tester_alt_addr(v)``, which the stack routes towards the tester and never owns itself.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType

from ...spec.segment import Segment

__all__ = ["AppOutcome", "AppRun", "Stack", "StackConfig", "StackUnavailable"]


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Knobs a case may ask of the stack before it starts its application.

    ``checksum``: the stack requires DSS checksums (RFC 8684 §3.1, flag A); ``subflows``: how many
    additional subflows the stack accepts or opens per connection; ``add_addr_accepted``: how many
    ADD_ADDRs it acts on; ``join_from_alt``: the stack opens an MP_JOIN from ``stack_alt_addr`` once a
    connection is up; ``announce_alt``: it announces ``stack_alt_addr`` with ADD_ADDR;
    ``abort_after``: the server aborts (``SO_LINGER`` 0, an MP_FASTCLOSE, RFC 8684 §3.5) once it has
    read that many bytes.
    """

    checksum: bool = False
    subflows: int = 2
    add_addr_accepted: int = 2
    join_from_alt: bool = False
    announce_alt: bool = False
    abort_after: int | None = None


@dataclass(frozen=True, slots=True)
class AppOutcome:
    """What the stack's application reported: ``finished`` (it exited), ``ok`` (the bytes it received
    were the expected stream), ``reset`` (its connection was reset), and its raw report text."""

    finished: bool
    ok: bool
    reset: bool
    detail: str


class AppRun(abc.ABC):
    """One run of the stack-side application (server or client)."""

    @abc.abstractmethod
    def outcome(self, timeout: float) -> AppOutcome:
        """Wait up to ``timeout`` seconds for the application to end and return what it reported."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End the application now if it still runs."""


class StackUnavailable(Exception):
    """The stack cannot run here (not root, no kernel MPTCP, missing tool); the message says why."""


class Stack(abc.ABC):
    """An MPTCP implementation the tester can exchange segments with.

    Use as a context manager: ``__enter__`` builds the environment (namespace, TUN device, in-process
    endpoint), ``__exit__`` tears it down whatever happens.
    """

    name: str = "stack"

    @abc.abstractmethod
    def stack_addr(self, ip_version: int = 4) -> str:
        """The stack's main address."""

    @abc.abstractmethod
    def stack_alt_addr(self, ip_version: int = 4) -> str:
        """A second address of the stack (for joins it opens and addresses it announces)."""

    @abc.abstractmethod
    def tester_addr(self, ip_version: int = 4) -> str:
        """The tester's main address."""

    @abc.abstractmethod
    def tester_alt_addr(self, ip_version: int = 4) -> str:
        """A second tester address, for joins from another address and for announcements."""

    @abc.abstractmethod
    def configure(self, config: StackConfig) -> None:
        """Apply ``config`` for the applications started from now on."""

    @abc.abstractmethod
    def listen(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        """Start a server on ``stack_addr:port`` that reads ``up`` bytes, then answers ``down`` bytes
        and closes; returns once it listens."""

    @abc.abstractmethod
    def connect(self, port: int, *, up: int, down: int, ip_version: int = 4) -> AppRun:
        """Start a client connecting to ``tester_addr:port`` that sends ``up`` bytes, half-closes and
        reads ``down`` bytes."""

    @abc.abstractmethod
    def set_backup(self, address: str, backup: bool) -> None:
        """Have the stack mark its subflows from ``address`` backup (or regular again): it tells the
        peer with MP_PRIO (RFC 8684 §3.3.8)."""

    @abc.abstractmethod
    def inject(self, segment: Segment) -> None:
        """Deliver one segment to the stack."""

    @abc.abstractmethod
    def receive(self, timeout: float) -> Segment | None:
        """The next segment the stack sends (``frame`` and ``time`` unset), or ``None`` after
        ``timeout`` seconds."""

    def unavailable_reason(self) -> str | None:
        """Why this stack cannot run here, or ``None`` when it can."""
        return None

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
