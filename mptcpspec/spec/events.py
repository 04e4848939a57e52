"""What the monitor tells an observer: transitions, mapped data, DATA_ACK advances.

The CLI's ``--trace`` prints these as JSON lines (our qlog) and the sequence graphs are drawn from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MonitorEvent", "Observer"]


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """One thing the monitor saw happen.

    ``kind`` is ``transition`` (``machine`` moved from ``before`` to ``after`` on ``event``), ``data``,
    ``reinjection`` (``length`` bytes at ``dsn``) or ``data_ack`` (up to ``dsn``).  ``direction`` is
    ``A>B`` or ``B>A``; ``dsn`` is relative to the sender's IDSN when known, else to its first DSN.
    """

    kind: str
    frame: int
    time: float
    connection: str
    subflow: str
    direction: str
    machine: str = ""
    event: str = ""
    before: str = ""
    after: str = ""
    dsn: int | None = None
    length: int = 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict without the empty fields."""
        out: dict[str, object] = {
            "kind": self.kind,
            "frame": self.frame,
            "time": self.time,
            "connection": self.connection,
            "subflow": self.subflow,
            "direction": self.direction,
        }
        for name in ("machine", "event", "before", "after"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.dsn is not None:
            out["dsn"] = self.dsn
            out["length"] = self.length
        return out


Observer = Callable[[MonitorEvent], None]
"""Receives every ``MonitorEvent`` of a monitor."""
