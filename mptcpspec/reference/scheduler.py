"""Which subflow carries the next piece of data: lowest smoothed RTT first, backups only as a last resort.

RFC 8684 §3.3.8: a subflow marked backup (by us, or by the peer with MP_PRIO or the MP_JOIN B flag) is
used only when no regular subflow is available.  A subflow that is full now is still available: data
waits for it rather than spilling onto a backup.
"""

from __future__ import annotations

from collections.abc import Iterable

from .subflow import Subflow

__all__ = ["pick_subflow"]


def pick_subflow(subflows: Iterable[Subflow], want: int) -> Subflow | None:
    """The usable subflow with room for ``want`` bytes and the lowest RTT, or None if none has room."""
    usable = [sf for sf in subflows if sf.usable]
    regular = [sf for sf in usable if not (sf.backup or sf.peer_backup)]
    pool = regular or usable
    ready = [sf for sf in pool if sf.space() >= want]
    if not ready:
        return None
    return min(ready, key=lambda sf: (sf.rto if sf.srtt is None else sf.srtt, sf.id))
