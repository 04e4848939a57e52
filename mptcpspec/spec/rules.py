"""Rules and findings: the vocabulary every verdict of mptcpspec is written in.

A ``Rule`` is one requirement a wire observer can check, tied to an RFC section and its requirement
level.  A ``Finding`` is one observation against a rule.  Findings are data: nothing raises on a
violation.  The catalogue itself (every rule mptcpspec knows) is ``mptcpspec.spec.catalogue``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Finding", "Level", "Rule", "Verdict"]


class Level(enum.Enum):
    """RFC 2119 requirement level of a rule."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


class Verdict(enum.Enum):
    """What a finding says.

    ``VIOLATION``: the trace shows conclusive evidence that the rule was broken.
    ``UNDETERMINED``: the rule applied but the capture cannot show whether it held (unknown keys,
    payload cut by snaplen, packets missing); the message says why.
    ``NOTE``: something worth knowing that breaks no rule (a capture artefact, a SHOULD-level oddity
    that an allowed behaviour explains).
    """

    VIOLATION = "violation"
    UNDETERMINED = "undetermined"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Rule:
    """One checkable requirement: ``id`` is ``area.name`` in kebab case, e.g. ``dss.checksum``."""

    id: str
    rfc: int
    section: str
    level: Level
    summary: str

    @property
    def citation(self) -> str:
        """``RFC 8684 §3.3.1`` style reference."""
        return f"RFC {self.rfc} §{self.section}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation against a rule.

    ``frames`` are the capture frame numbers of the evidence (first is where it was noticed);
    ``connection`` and ``subflow`` identify where, as the monitor names them; ``message`` states what
    was observed and what was expected, with numbers.
    """

    rule: Rule
    verdict: Verdict
    frames: tuple[int, ...]
    message: str
    connection: str = ""
    subflow: str = ""

    @property
    def is_violation(self) -> bool:
        return self.verdict is Verdict.VIOLATION
