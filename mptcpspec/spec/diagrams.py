"""State diagrams drawn from the transition tables themselves (Graphviz ``dot`` text), never by hand.

``subflow_dot()``, ``connection_dot()`` and ``close_dot()`` render ``subflow.TRANSITIONS``,
``connection.TRANSITIONS`` and ``connection.CLOSE_TRANSITIONS`` (RFC 8684 appendix D): one edge per
(state, event) pair, labelled with the event and the rule ids the transition checks; self-loops that
check nothing are left out to keep the pictures readable.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .connection import CLOSE_TRANSITIONS
from .connection import TRANSITIONS as PHASE_TRANSITIONS
from .subflow import TRANSITIONS as SUBFLOW_TRANSITIONS

__all__ = ["close_dot", "connection_dot", "subflow_dot", "to_dot"]

Edge = tuple[enum.Enum, enum.Enum, enum.Enum, tuple[str, ...]]
"""(state, event, next state, rule ids checked)."""


def to_dot(name: str, edges: Iterable[Edge]) -> str:
    """A ``digraph`` with one labelled edge per transition (quiet self-loops omitted)."""
    lines = [f'digraph "{name}" {{', "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for state, event, after, rules in edges:
        if after is state and not rules:
            continue
        label = "\\n".join((str(event.value), *rules))
        lines.append(f'  "{state.value}" -> "{after.value}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def subflow_dot() -> str:
    """The subflow machine (RFC 8684 §3.1, §3.2)."""
    return to_dot("subflow", ((s, e, t.next, t.rules) for (s, e), t in SUBFLOW_TRANSITIONS.items()))


def connection_dot() -> str:
    """The connection's phases (RFC 8684 §3.1, §3.5, §3.7)."""
    return to_dot("connection", ((s, e, t.next, t.rules) for (s, e), t in PHASE_TRANSITIONS.items()))


def close_dot() -> str:
    """One endpoint's data-level close (RFC 8684 appendix D)."""
    return to_dot("data-level close", ((s, e, t, ()) for (s, e), t in CLOSE_TRANSITIONS.items()))
