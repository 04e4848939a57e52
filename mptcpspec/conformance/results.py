"""What a validation produces: per-connection summaries, findings and capture notes, per file.

These are the shared result types of the trace checker (``replay``), the report writers (``report``)
and the CLI.  Plain frozen data: no formatting here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.rules import Finding, Verdict

__all__ = [
    "ConnectionSummary",
    "Endpoint",
    "FileReport",
    "Note",
    "SeriesPoint",
    "SubflowSummary",
]

Endpoint = tuple[str, int]
"""An (address, port) pair."""


@dataclass(frozen=True, slots=True)
class Note:
    """A capture note: something about the capture itself (not the stacks), e.g. a truncated record."""

    frame: int
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of a sequence graph: data sent (``kind`` "data" or "reinjection") or acknowledged
    ("data_ack") at ``time`` on ``subflow`` in direction ``direction`` ("A>B" or "B>A").

    ``dsn`` is the 64-bit data sequence number (relative to the direction's IDSN when the keys are
    known, else to the first DSN seen), ``length`` the number of data bytes (0 for acks).
    """

    frame: int
    time: float
    direction: str
    subflow: str
    kind: str
    dsn: int
    length: int


@dataclass(frozen=True, slots=True)
class SubflowSummary:
    """One subflow of a connection.  A is the connection's initiator, B its listener."""

    id: str
    initiator: Endpoint
    responder: Endpoint
    opened_by: str  # "A", "B" or "?" (capture started after the SYN)
    kind: str  # "initial", "join" or "unknown"
    address_ids: tuple[int | None, int | None]  # (initiator's, responder's) address IDs when seen
    backup: bool
    first_frame: int
    last_frame: int
    end: str  # "open", "fin", "rst", "fastclose", "tcprst:<reason>"
    packets: int
    bytes_sent: tuple[int, int]  # payload bytes (initiator -> responder, responder -> initiator)


@dataclass(frozen=True, slots=True)
class ConnectionSummary:
    """One MPTCP connection (or a TCP connection that fell back from MPTCP)."""

    id: str
    version: int | None
    client: Endpoint
    server: Endpoint
    keys: tuple[int | None, int | None]  # (A's key, B's key); None when the capture does not show it
    tokens: tuple[int | None, int | None]
    checksums: bool | None
    fallback: str | None  # why the connection fell back to TCP, or None
    state: str  # final connection state as the monitor names it
    subflows: tuple[SubflowSummary, ...]
    data_bytes: tuple[int, int]  # data-level bytes (A -> B, B -> A)
    first_frame: int
    last_frame: int
    start_time: float
    end_time: float
    checks: int  # number of rule checks that were evaluated
    series: tuple[SeriesPoint, ...] = ()  # filled only when the caller asked for sequence graphs


@dataclass(frozen=True, slots=True)
class FileReport:
    """The validation of one capture file.  ``error`` is set when the input was unusable."""

    path: str
    packets: int
    connections: tuple[ConnectionSummary, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[Note, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(1 for f in self.findings if f.verdict is Verdict.VIOLATION)
