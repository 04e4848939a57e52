"""Address bookkeeping for the path manager, RFC 8684 §3.4: our address IDs and announcements, and the
addresses the peer announced.

The initial subflow's addresses have ID 0 on each side (§3.4.1).  An announcement (ADD_ADDR) is sent
again until the peer echoes it, up to ``ANNOUNCE_TRIES`` times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ANNOUNCE_TRIES", "Announcement", "PathManager"]

ANNOUNCE_TRIES = 4


@dataclass(slots=True)
class Announcement:
    """One ADD_ADDR of ours awaiting its echo."""

    address_id: int
    address: str
    port: int | None
    deadline: float = 0.0
    tries: int = 0


@dataclass(slots=True)
class PathManager:
    """Local address IDs, pending announcements and removals, and the peer's announced addresses."""

    local_ids: dict[str, int] = field(default_factory=dict)
    announcing: dict[int, Announcement] = field(default_factory=dict)
    removals: list[int] = field(default_factory=list)
    remote: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    echoes: list[tuple[int, str, int | None]] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)
    echoed_at: dict[tuple[int, str, int | None], float] = field(default_factory=dict)

    def set_initial(self, address: str) -> None:
        """The initial subflow's local address gets ID 0."""
        self.local_ids.setdefault(address, 0)

    def local_id(self, address: str) -> int:
        """The ID of a local address, allocating the next free one on first use."""
        if address not in self.local_ids:
            self.local_ids[address] = max(self.local_ids.values(), default=0) + 1
        return self.local_ids[address]

    def announce(self, address: str, port: int | None, now: float) -> int:
        """Queue an ADD_ADDR for ``address`` (sent at once); returns its address ID."""
        address_id = self.local_id(address)
        self.announcing[address_id] = Announcement(address_id, address, port, now)
        return address_id

    def due_announcements(self, now: float, interval: float) -> list[Announcement]:
        """Announcements to (re)send now; each send pushes its deadline by ``interval``."""
        due = [a for a in self.announcing.values() if a.deadline <= now and a.tries < ANNOUNCE_TRIES]
        for item in due:
            item.tries += 1
            item.deadline = now + interval
        return due

    def next_deadline(self) -> float | None:
        """When an unechoed announcement is next due again, if any."""
        pending = [a.deadline for a in self.announcing.values() if a.tries < ANNOUNCE_TRIES]
        return min(pending, default=None)

    def echo(self, announced: tuple[int, str, int | None], now: float, quiet: float) -> None:
        """Queue the echo of an ADD_ADDR, unless we echoed it less than ``quiet`` seconds ago: a copy the
        network duplicated needs no second echo (each is one more duplicate ACK), a resent one does."""
        if now - self.echoed_at.get(announced, float("-inf")) >= quiet:
            self.echoes.append(announced)
            self.echoed_at[announced] = now

    def echoed(self, address_id: int) -> None:
        """The peer echoed our announcement: stop repeating it."""
        self.announcing.pop(address_id, None)

    def remove(self, address: str) -> int | None:
        """Withdraw a local address; returns its ID (to send in REMOVE_ADDR) or None if unknown."""
        address_id = self.local_ids.pop(address, None)
        if address_id is not None:
            self.announcing.pop(address_id, None)
            self.removals.append(address_id)
            self.withdrawn.add(address)
        return address_id
