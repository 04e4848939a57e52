"""The active conformance suite: cases grouped by RFC 8684 section, and the sanity case run first.

``all_cases()`` lists every case in section order; ``SANITY`` (a plain MP_CAPABLE handshake, a
transfer each way and the data-level close) runs before them, and if it fails the others are skipped.
"""

from __future__ import annotations

from . import capable, dss, fallback, join, paths, witnessed
from .case import Case
from .session import open_session
from .tester import Tester

__all__ = ["SANITY", "all_cases"]


def _sanity(t: Tester) -> str:
    session = open_session(t)
    session.upload()
    return session.close()


SANITY = Case("sanity.handshake-and-transfer", "3.1",
              "a v1 MP_CAPABLE handshake, data both ways, DATA_FIN both ways", _sanity)  # fmt: skip


def all_cases() -> tuple[Case, ...]:
    """Every case of the suite (the sanity case first), grouped by RFC section."""
    return (SANITY, *capable.CASES, *dss.CASES, *join.CASES, *paths.CASES, *fallback.CASES, *witnessed.CASES)
