"""The MPTCP option values: one frozen dataclass per subtype and form (RFC 8684 §3, RFC 6824 §3).

CONTRACT NOTE: these dataclasses are the project's shared interface; the codecs fill them.  Reserved
bits are kept so that a round trip gives back the same bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "MPTCP_KIND",
    "AddAddr",
    "AddAddrV0",
    "Dss",
    "MpCapable",
    "MpExperimental",
    "MpFail",
    "MpFastclose",
    "MpJoinAck",
    "MpJoinSyn",
    "MpJoinSynAck",
    "MpPrio",
    "MpTcpRst",
    "MptcpOption",
    "RemoveAddr",
    "Subtype",
    "TcpRstReason",
    "UnknownSubtype",
    "subtype_of",
]

MPTCP_KIND = 30


class Subtype(enum.IntEnum):
    """MPTCP option subtypes, RFC 8684 §8.1."""

    MP_CAPABLE = 0x0
    MP_JOIN = 0x1
    DSS = 0x2
    ADD_ADDR = 0x3
    REMOVE_ADDR = 0x4
    MP_PRIO = 0x5
    MP_FAIL = 0x6
    MP_FASTCLOSE = 0x7
    MP_TCPRST = 0x8
    MP_EXPERIMENTAL = 0xF


class TcpRstReason(enum.IntEnum):
    """MP_TCPRST reason codes, RFC 8684 §3.6 and §8.3."""

    UNSPECIFIED = 0x00
    MPTCP_SPECIFIC = 0x01
    LACK_OF_RESOURCES = 0x02
    ADMINISTRATIVELY_PROHIBITED = 0x03
    TOO_MUCH_OUTSTANDING_DATA = 0x04
    UNACCEPTABLE_PERFORMANCE = 0x05
    MIDDLEBOX_INTERFERENCE = 0x06


@dataclass(frozen=True, slots=True)
class MpCapable:
    """MP_CAPABLE, RFC 8684 §3.1 (v1) and RFC 6824 §3.1 (v0).

    v1 lengths: 4 (SYN, no key), 12 (SYN/ACK: ``sender_key``), 20 (third ACK: ``sender_key`` and
    ``receiver_key``), 22 (third ACK with data: plus ``data_length``), 24 (plus ``checksum``).
    v0 lengths: 12 (SYN and SYN/ACK: ``sender_key``), 20 (third ACK: both keys).
    ``flags`` is the raw flag byte: A (0x80) checksum required, B (0x40) extensibility, C (0x20) do not
    open subflows to this source address (v1), D-G (0x1e) reserved, H (0x01) HMAC-SHA256 (v1) / SHA-1 (v0).
    """

    version: int
    flags: int
    sender_key: int | None = None
    receiver_key: int | None = None
    data_length: int | None = None
    checksum: int | None = None

    @property
    def checksum_required(self) -> bool:
        return bool(self.flags & 0x80)

    @property
    def extensibility(self) -> bool:
        return bool(self.flags & 0x40)

    @property
    def no_more_subflows(self) -> bool:
        return bool(self.flags & 0x20)

    @property
    def hmac_sha(self) -> bool:
        return bool(self.flags & 0x01)


@dataclass(frozen=True, slots=True)
class MpJoinSyn:
    """MP_JOIN on a SYN (length 12), RFC 8684 §3.2: the receiver's ``token`` and our ``nonce``.

    ``flags`` is the 4-bit field after the subtype: three reserved bits and B (0x1, backup).
    """

    flags: int
    address_id: int
    token: int
    nonce: int

    @property
    def backup(self) -> bool:
        return bool(self.flags & 0x1)


@dataclass(frozen=True, slots=True)
class MpJoinSynAck:
    """MP_JOIN on a SYN/ACK (length 16), RFC 8684 §3.2: 64-bit truncated HMAC and the responder's nonce."""

    flags: int
    address_id: int
    truncated_hmac: int
    nonce: int

    @property
    def backup(self) -> bool:
        return bool(self.flags & 0x1)


@dataclass(frozen=True, slots=True)
class MpJoinAck:
    """MP_JOIN on the third ACK (length 24), RFC 8684 §3.2: the full 160-bit HMAC (20 bytes).

    ``reserved`` holds the 12 bits after the subtype.
    """

    hmac: bytes
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class Dss:
    """Data Sequence Signal, RFC 8684 §3.3.

    Flags: A (data ACK present), a (data ACK is 8 octets), M (mapping present), m (DSN is 8 octets),
    F (DATA_FIN).  ``data_ack_wide`` and ``dsn_wide`` keep the a and m bits even when the field they
    size is absent.  ``data_ack`` is present iff A, the mapping (``dsn``, ``ssn``, ``data_level_length``)
    iff M; ``checksum`` is present when the option length says so (only with M).  ``ssn`` is relative to
    the subflow's initial sequence number.  ``reserved`` is the 7 reserved bits (4 after the subtype,
    then the 3 high bits of the flag byte), kept for exact round trips.
    """

    data_ack: int | None = None
    data_ack_wide: bool = False
    dsn: int | None = None
    dsn_wide: bool = False
    ssn: int | None = None
    data_level_length: int | None = None
    checksum: int | None = None
    data_fin: bool = False
    reserved: int = 0

    @property
    def has_mapping(self) -> bool:
        return self.dsn is not None

    @property
    def is_infinite_mapping(self) -> bool:
        """A mapping with data-level length 0 maps the rest of the subflow (RFC 8684 §3.3.1)."""
        return self.data_level_length == 0


@dataclass(frozen=True, slots=True)
class AddAddr:
    """ADD_ADDR, RFC 8684 §3.4.1 (v1): IPv4 or IPv6 address, optional port, HMAC unless echo.

    ``address`` is the text form ("192.0.2.1" or "2001:db8::1").  ``echo`` is the E flag;
    ``truncated_hmac`` (64 bits) is present iff not echo.  ``reserved`` is the 3 bits before E.
    """

    echo: bool
    address_id: int
    address: str
    port: int | None = None
    truncated_hmac: int | None = None
    reserved: int = 0

    @property
    def ip_version(self) -> int:
        return 6 if ":" in self.address else 4


@dataclass(frozen=True, slots=True)
class AddAddrV0:
    """ADD_ADDR of RFC 6824 §3.4.1 (v0): ``ip_version`` (4 or 6) in the IPVer nibble, no HMAC, no echo."""

    ip_version: int
    address_id: int
    address: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class RemoveAddr:
    """REMOVE_ADDR, RFC 8684 §3.4.2: one or more address IDs.  ``reserved``: the 4 bits after the subtype."""

    address_ids: tuple[int, ...]
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class MpPrio:
    """MP_PRIO, RFC 8684 §3.3.8 (length 3) or RFC 6824 §3.3.8 (length 4, with ``address_id``).

    ``flags``: three reserved bits and B (0x1, backup).
    """

    flags: int
    address_id: int | None = None

    @property
    def backup(self) -> bool:
        return bool(self.flags & 0x1)


@dataclass(frozen=True, slots=True)
class MpFail:
    """MP_FAIL, RFC 8684 §3.7 (length 12): the 64-bit DSN where the checksum failed."""

    dsn: int
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class MpFastclose:
    """MP_FASTCLOSE, RFC 8684 §3.5 (length 12): the key of the host it is sent to."""

    receiver_key: int
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class MpTcpRst:
    """MP_TCPRST, RFC 8684 §3.6 (length 4): flags U V W T (T = 0x1, transient) and a reason code."""

    flags: int
    reason: int

    @property
    def transient(self) -> bool:
        return bool(self.flags & 0x1)


@dataclass(frozen=True, slots=True)
class MpExperimental:
    """MP_EXPERIMENTAL (subtype 0xF), RFC 8684 §8.1: opaque.  ``low_bits`` is the nibble after the subtype."""

    low_bits: int
    data: bytes


@dataclass(frozen=True, slots=True)
class UnknownSubtype:
    """A subtype this parser has no layout for (9 to 14): ignored by receivers, RFC 8684 §3."""

    subtype: int
    low_bits: int
    data: bytes


MptcpOption = (
    MpCapable
    | MpJoinSyn
    | MpJoinSynAck
    | MpJoinAck
    | Dss
    | AddAddr
    | AddAddrV0
    | RemoveAddr
    | MpPrio
    | MpFail
    | MpFastclose
    | MpTcpRst
    | MpExperimental
    | UnknownSubtype
)


def subtype_of(option: MptcpOption) -> int:
    """The MPTCP subtype number of ``option`` (RFC 8684 §8.1)."""
    if isinstance(option, UnknownSubtype):
        return option.subtype
    return int(_SUBTYPE_OF_CLASS[type(option)])


_SUBTYPE_OF_CLASS: dict[type, Subtype] = {
    MpCapable: Subtype.MP_CAPABLE,
    MpJoinSyn: Subtype.MP_JOIN,
    MpJoinSynAck: Subtype.MP_JOIN,
    MpJoinAck: Subtype.MP_JOIN,
    Dss: Subtype.DSS,
    AddAddr: Subtype.ADD_ADDR,
    AddAddrV0: Subtype.ADD_ADDR,
    RemoveAddr: Subtype.REMOVE_ADDR,
    MpPrio: Subtype.MP_PRIO,
    MpFail: Subtype.MP_FAIL,
    MpFastclose: Subtype.MP_FASTCLOSE,
    MpTcpRst: Subtype.MP_TCPRST,
    MpExperimental: Subtype.MP_EXPERIMENTAL,
}
