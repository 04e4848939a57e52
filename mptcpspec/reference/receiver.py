"""The receiving half of the data level: subflow bytes to data sequence numbers, then one ordered stream.

``MappingTracker`` (one per subflow) holds the DSS mappings a subflow announced and turns the subflow's
in-order bytes into (DSN, bytes) pieces, checking the DSS checksum of a whole mapping when checksums were
negotiated (RFC 8684 §3.3.1).  ``DataReceiver`` (one per connection) reassembles those pieces from all
subflows into the data stream and notices the DATA_FIN (RFC 8684 §3.3.3).  DSNs are unwrapped integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.crypto import dss_checksum_ok

__all__ = ["DataReceiver", "Mapping", "MappingTracker"]

MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Mapping:
    """Subflow bytes [ssn, ssn + length) carry data [dsn, dsn + length); ``length`` 0 maps everything
    from ``ssn`` on (the infinite mapping of a fallen-back connection, RFC 8684 §3.7).  ``ssn`` is
    relative to the subflow's initial sequence number.  ``data_fin``: the DSS also carried a DATA_FIN,
    which the data-level length (and so the checksum) counts on top of ``length`` (RFC 8684 §3.3.3)."""

    ssn: int
    dsn: int
    length: int
    checksum: int | None = None
    data_fin: bool = False

    @property
    def end(self) -> int | None:
        """Relative ssn after the mapping, or None for the infinite mapping."""
        return None if self.length == 0 else self.ssn + self.length


@dataclass(slots=True)
class MappingTracker:
    """Mappings of one subflow and the in-order subflow bytes not yet handed to the data level."""

    checksum: bool
    mappings: list[Mapping] = field(default_factory=list)
    pending: bytearray = field(default_factory=bytearray)
    position: int = 1  # relative ssn of pending[0]; data starts at 1, after the SYN

    def add(self, mapping: Mapping) -> None:
        """Remember a mapping (duplicates and ones already consumed are ignored)."""
        end = mapping.end
        if (end is not None and end <= self.position) or mapping in self.mappings:
            return
        self.mappings.append(mapping)

    def feed(self, start: int, data: bytes) -> tuple[list[tuple[int, bytes]], list[Mapping]]:
        """Add in-order bytes beginning at relative ssn ``start``.

        Returns the (dsn, bytes) pieces now mapped and the mappings whose checksum failed.
        """
        overlap = self.position + len(self.pending) - start
        if overlap > 0:
            data = data[overlap:]
        self.pending += data
        pieces: list[tuple[int, bytes]] = []
        failed: list[Mapping] = []
        while self.pending:
            mapping = self._covering(self.position)
            if mapping is None:
                break
            end = mapping.end
            available = len(self.pending) if end is None else min(len(self.pending), end - self.position)
            if self.checksum and end is not None:
                if mapping.ssn != self.position or available < mapping.length:
                    break
                payload = bytes(self.pending[:available])
                level_length = mapping.length + (1 if mapping.data_fin else 0)
                if mapping.checksum is None or not dss_checksum_ok(
                    mapping.dsn & MASK64, mapping.ssn & 0xFFFFFFFF, level_length, payload, mapping.checksum
                ):
                    failed.append(mapping)
                    self._consume(available)
                    continue
            pieces.append((mapping.dsn + self.position - mapping.ssn, bytes(self.pending[:available])))
            self._consume(available)
        return pieces, failed

    def _covering(self, position: int) -> Mapping | None:
        self.mappings = [m for m in self.mappings if m.end is None or m.end > position]
        for mapping in self.mappings:
            if mapping.ssn <= position:
                return mapping
        return None

    def _consume(self, count: int) -> None:
        del self.pending[:count]
        self.position += count


@dataclass(slots=True)
class DataReceiver:
    """Reassembly of the connection's data stream from pieces that may arrive in any order or twice."""

    rcv_nxt: int
    out_of_order: dict[int, bytes] = field(default_factory=dict)
    fin_dsn: int | None = None
    fin_received: bool = False

    def insert(self, dsn: int, data: bytes) -> bytes:
        """Store a piece; returns the bytes that became in order (possibly empty)."""
        if dsn + len(data) > self.rcv_nxt and data:
            self.out_of_order[dsn] = max(data, self.out_of_order.get(dsn, b""), key=len)
        ready = bytearray()
        progress = True
        while progress:
            progress = False
            for start in sorted(k for k in self.out_of_order if k <= self.rcv_nxt):
                piece = self.out_of_order.pop(start)
                fresh = piece[self.rcv_nxt - start :]
                if fresh:
                    ready += fresh
                    self.rcv_nxt += len(fresh)
                    progress = True
        self._check_fin()
        return bytes(ready)

    def set_fin(self, dsn: int) -> None:
        """The peer's DATA_FIN occupies ``dsn`` (RFC 8684 §3.3.3)."""
        if self.fin_dsn is None:
            self.fin_dsn = dsn
        self._check_fin()

    def _check_fin(self) -> None:
        if not self.fin_received and self.fin_dsn is not None and self.rcv_nxt == self.fin_dsn:
            self.rcv_nxt += 1
            self.fin_received = True
