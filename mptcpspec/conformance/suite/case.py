"""Active test cases: a name, an RFC section, what the stack may answer, and a verdict with evidence.

In the manner of quic-interop-runner, every ``Case`` has a name, a description and an RFC 8684 section,
and its body ends in passed, failed or unsupported; as in tlsfuzzer, the body lists the answers the
stack may legally give at each step (``Tester.expect_any``), so any allowed behaviour passes.  A body
returns a one-line summary of what it saw when the stack behaved; it raises ``CaseFailed`` (with the
frames that show it) when the stack did not, and ``CaseUnsupported`` when the stack cannot be brought
into the situation the case needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..stacks.base import StackConfig

if TYPE_CHECKING:
    from .tester import Tester

__all__ = ["Case", "CaseFailed", "CaseUnsupported", "Role", "Status"]


class Status(enum.Enum):
    """The verdict of one case."""

    PASSED = "passed"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"
    DEVIATION = "deviation (expected)"
    SKIPPED = "skipped"


class Role(enum.Enum):
    """Which side the stack's application plays: ``SERVER`` listens (the tester opens the connection),
    ``CLIENT`` connects to the tester."""

    SERVER = "server"
    CLIENT = "client"


class CaseFailed(Exception):
    """The stack answered with none of the allowed alternatives; ``frames`` are the evidence."""

    def __init__(self, message: str, frames: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.frames = frames


class CaseUnsupported(Exception):
    """The stack cannot be put in the situation the case needs (the message says why)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One active test.

    ``name`` is ``area.what`` (``mp-join.bad-ack-hmac``); ``section`` the RFC 8684 section it tests;
    ``body(tester)`` drives the conversation and returns a summary of what the stack did;
    ``config`` is what the stack must be configured with; ``role`` what its application does;
    ``up``/``down`` the bytes its application expects and answers.
    """

    name: str
    section: str
    description: str
    body: Callable[[Tester], str] = field(repr=False, compare=False)
    config: StackConfig = field(default_factory=StackConfig)
    role: Role = Role.SERVER
    up: int = 1000
    down: int = 500
    ip_version: int = 4

    @property
    def citation(self) -> str:
        return f"RFC 8684 §{self.section}"
