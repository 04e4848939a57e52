"""What the check procedures see of the monitor, and small helpers they share.

A check procedure takes a ``Context`` (the connection, the judge, whether the monitor sees every
segment), the segment, the subflow and the sending host ``h`` (0 = A, the connection's initiator,
1 = B), and reports through the judge.  The yes/no decisions themselves are the pure guards of
``connection``, ``subflow``, ``mapping`` and ``paths``.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from .connection import Connection
from .options import MptcpOption
from .segment import Segment
from .subflow import Subflow
from .verdicts import Judge

__all__ = ["HOSTS", "Check", "Context", "first_option", "hexkey"]

HOSTS = ("A", "B")
"""Host names by index: 0 is A, the connection's initiator; 1 is B, its listener."""

_O = TypeVar("_O", bound=MptcpOption)


class Context(Protocol):
    """What a check sees of the monitor."""

    @property
    def conn(self) -> Connection: ...

    @property
    def judge(self) -> Judge: ...

    @property
    def complete(self) -> bool: ...


class Check(Protocol):
    """A check procedure named by a transition table."""

    def __call__(self, m: Context, seg: Segment, sub: Subflow, h: int, /) -> None: ...


def hexkey(value: int | None) -> str:
    """A key, token or HMAC in hex, or ``unknown``."""
    return "unknown" if value is None else f"{value:#x}"


def first_option(seg: Segment, kind: type[_O]) -> _O | None:
    """The segment's first MPTCP option of class ``kind``, if any."""
    for option in seg.mptcp:
        if type(option) is kind:
            return option
    return None
