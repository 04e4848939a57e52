"""The sending half of the data level: the connection's byte stream by data sequence number.

Bytes the application wrote stay here until the peer's DATA_ACK covers them (RFC 8684 §3.3.2), whichever
subflow carried them, so that they can be sent again on another subflow (reinjection, §3.3.6).  DSNs are
unwrapped integers; the first data byte is the initial data sequence number plus one (§3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DataSender"]


@dataclass(slots=True)
class DataSender:
    """Unacknowledged and unsent data, the reinjection queue and the DATA_FIN."""

    snd_una: int
    buffer: bytearray = field(default_factory=bytearray)
    next_new: int = 0
    reinject: list[tuple[int, int]] = field(default_factory=list)
    fin_requested: bool = False
    fin_acked: bool = False

    def __post_init__(self) -> None:
        self.next_new = self.snd_una

    @property
    def end(self) -> int:
        """DSN after the last byte the application wrote."""
        return self.snd_una + len(self.buffer)

    @property
    def fin_dsn(self) -> int | None:
        """The DSN our DATA_FIN occupies, once the application closed."""
        return self.end if self.fin_requested else None

    @property
    def all_sent(self) -> bool:
        """Every byte written so far has been given to a subflow and nothing awaits reinjection."""
        return self.next_new >= self.end and not self.reinject

    def rebase(self, snd_una: int) -> None:
        """Set the first DSN once the keys are known (nothing has been sent before that)."""
        self.snd_una = self.next_new = snd_una

    def write(self, data: bytes) -> None:
        """Append application bytes to the stream."""
        self.buffer += data

    def on_data_ack(self, data_ack: int) -> bool:
        """Drop acknowledged bytes; returns True when the ACK moved ``snd_una`` forward."""
        limit = self.end + (1 if self.fin_requested else 0)
        if data_ack <= self.snd_una or data_ack > limit:
            return False
        if self.fin_requested and data_ack == limit:
            self.fin_acked = True
        taken = min(data_ack, self.end) - self.snd_una
        del self.buffer[:taken]
        self.snd_una += taken
        self.next_new = max(self.next_new, self.snd_una)
        self.reinject = [(max(s, self.snd_una), e) for s, e in self.reinject if e > self.snd_una]
        return True

    def take(self, limit: int, window_end: int) -> tuple[int, bytes] | None:
        """Next piece to put on a subflow, at most ``limit`` bytes, ending before ``window_end``.

        Reinjected ranges come first, then new data.
        """
        while self.reinject:
            start, stop = self.reinject[0]
            stop = min(stop, start + limit)
            if stop > start:
                self._advance_reinject(stop)
                return start, bytes(self.buffer[start - self.snd_una : stop - self.snd_una])
            self.reinject.pop(0)
        stop = min(self.end, self.next_new + limit, window_end)
        if stop <= self.next_new:
            return None
        start, self.next_new = self.next_new, stop
        return start, bytes(self.buffer[start - self.snd_una : stop - self.snd_una])

    def _advance_reinject(self, stop: int) -> None:
        end = self.reinject[0][1]
        if stop >= end:
            self.reinject.pop(0)
        else:
            self.reinject[0] = (stop, end)

    def reinject_range(self, start: int, stop: int) -> None:
        """Queue [start, stop) to be sent again on another subflow (RFC 8684 §3.3.6)."""
        start = max(start, self.snd_una)
        if stop > start and (start, stop) not in self.reinject:
            self.reinject.append((start, stop))
