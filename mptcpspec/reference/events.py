"""Events the reference endpoint hands to its application, in the manner of h11 and aioquic.

``Endpoint.next_event()`` returns them one at a time, oldest first.  Each is a frozen value; subflows are
named by a small integer id that stays the same for the life of the connection.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AddressAnnounced",
    "AddressRemoved",
    "ConnectionClosed",
    "ConnectionEstablished",
    "DataReceived",
    "Event",
    "StreamEnded",
    "SubflowClosed",
    "SubflowEstablished",
]


@dataclass(frozen=True, slots=True)
class ConnectionEstablished:
    """The first subflow finished its handshake; ``fallback`` is true when MPTCP was not negotiated."""

    fallback: bool
    checksum: bool


@dataclass(frozen=True, slots=True)
class SubflowEstablished:
    """A subflow (the first one or an MP_JOIN one) can carry data, RFC 8684 §3.2."""

    subflow: int
    local: tuple[str, int]
    remote: tuple[str, int]
    backup: bool


@dataclass(frozen=True, slots=True)
class SubflowClosed:
    """A subflow ended: ``reset`` when by RST; ``reason`` is the MP_TCPRST reason when one came with it."""

    subflow: int
    reset: bool
    reason: int | None = None


@dataclass(frozen=True, slots=True)
class DataReceived:
    """In-order bytes of the connection's data stream."""

    data: bytes


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The peer's DATA_FIN arrived in order: it will send no more data, RFC 8684 §3.3.3."""


@dataclass(frozen=True, slots=True)
class AddressAnnounced:
    """The peer advertised an address with a valid ADD_ADDR, RFC 8684 §3.4.1."""

    address_id: int
    address: str
    port: int | None


@dataclass(frozen=True, slots=True)
class AddressRemoved:
    """The peer withdrew an address with REMOVE_ADDR, RFC 8684 §3.4.2."""

    address_id: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection is over: ``reset`` after MP_FASTCLOSE or when every subflow was reset."""

    reset: bool
    reason: str = ""


Event = (
    ConnectionEstablished
    | SubflowEstablished
    | SubflowClosed
    | DataReceived
    | StreamEnded
    | AddressAnnounced
    | AddressRemoved
    | ConnectionClosed
)
