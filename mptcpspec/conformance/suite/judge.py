"""The judge of an active case: the spec monitor run over the conversation the tester recorded.

The conversation holds what the tester sent (some of it deliberately wrong) and what the stack
answered.  Only violations first noticed on a segment the stack sent count against the stack; the
tester's own breaches are the point of the case.  The monitor runs with ``complete=False``: the
conversation ends when the case does, so a check resting on a segment's absence stays undetermined.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...spec.monitor import ConnectionMonitor
from ...spec.rules import Finding
from .case import Role
from .tester import Exchange

__all__ = ["judge_conversation", "stack_violations"]


def judge_conversation(name: str, conversation: Sequence[Exchange], role: Role) -> list[Finding]:
    """Every finding of the monitor over ``conversation`` (one connection, A being the initiator:
    the tester when the stack's application is a server)."""
    monitor = ConnectionMonitor(name)
    findings: list[Finding] = []
    for exchange in conversation:
        from_initiator = exchange.from_tester is (role is Role.SERVER)
        findings += monitor.step(exchange.segment, from_initiator)
    return findings + monitor.finish()


def stack_violations(findings: Sequence[Finding], conversation: Sequence[Exchange]) -> list[Finding]:
    """The violations first noticed on a segment the stack sent."""
    stack_frames = {e.segment.frame for e in conversation if not e.from_tester}
    return [f for f in findings if f.is_violation and f.frames and f.frames[0] in stack_frames]
