"""Small predicates over the stack's segments, combined into the allowed answers of a case."""

from __future__ import annotations

from typing import TypeVar

from ...spec.options import MptcpOption
from ...spec.segment import Segment
from .tester import Flow, Match

__all__ = ["bare_synack", "option", "plain", "reset", "synack"]

T = TypeVar("T", bound=MptcpOption)


def option(segment: Segment, kind: type[T]) -> T | None:
    """The first option of type ``kind`` in ``segment``, if any."""
    return next((o for o in segment.mptcp if isinstance(o, kind)), None)


def synack(flow: Flow) -> Match:
    """A SYN/ACK on ``flow``."""
    return lambda s: flow.inbound(s) and s.syn and s.has_ack


def bare_synack(flow: Flow) -> Match:
    """A SYN/ACK on ``flow`` without any MPTCP option: the stack treats the SYN as plain TCP."""
    return lambda s: synack(flow)(s) and not s.mptcp


def reset(flow: Flow) -> Match:
    """A RST on ``flow``."""
    return lambda s: flow.inbound(s) and s.rst


def plain(flow: Flow) -> Match:
    """A non-SYN segment on ``flow`` that carries no MPTCP option (fallback to TCP, RFC 8684 §3.7)."""
    return lambda s: flow.inbound(s) and not s.syn and not s.rst and not s.mptcp
