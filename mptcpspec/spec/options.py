"""MPTCP option wire formats (TCP option kind 30), RFC 8684 §3 and the RFC 6824 (v0) forms.

Every subtype is a frozen dataclass.  ``parse(data)`` takes the whole option (kind byte, length byte
and body) and returns one of them, or raises an ``OptionError`` subclass naming what is wrong;
``serialize(option)`` is its exact inverse.  Reserved bits are kept so that a round trip gives back
the same bytes.

CONTRACT NOTE: the dataclasses below are the project's shared interface; parse/serialize fill them.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields

from .errors import BadLength, OptionError, TruncatedOption, UnknownVersion

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
    "OptionError",
    "RemoveAddr",
    "Subtype",
    "TcpRstReason",
    "UnknownSubtype",
    "describe",
    "option_to_dict",
    "parse",
    "scan_tcp_options",
    "serialize",
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


# --- Wire formats --------------------------------------------------------------------------------------
# Each subtype's layout sits next to its parser and serializer.  A parser receives the whole option,
# already checked to be kind 30 with a length byte equal to len(data) >= 3, plus that length, the low
# nibble of byte 2 and the caller's version hint (used by ADD_ADDR only).

_Parser = Callable[[bytes, int, int, "int | None"], MptcpOption]

_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")


def _head(subtype: Subtype, low: int, length: int) -> bytes:
    """Kind, length and the subtype byte of an option of ``length`` bytes."""
    if length > 255:
        raise ValueError(f"{subtype.name} option of {length} bytes does not fit a one-byte length")
    return bytes((MPTCP_KIND, length, subtype << 4 | low))


def _uint(field: str, value: int | None, bits: int) -> int:
    """``value`` if it is an unsigned integer of at most ``bits`` bits, else a ValueError naming ``field``."""
    if value is None or not 0 <= value < 1 << bits:
        raise ValueError(f"{field}={value!r} is not an unsigned {bits}-bit integer")
    return value


def _bad_length(subtype: Subtype, length: int, section: str, detail: str) -> BadLength:
    return BadLength(
        f"{subtype.name} length {length} {detail}", subtype=int(subtype), length=length, section=section
    )


# MP_CAPABLE, RFC 8684 §3.1: key fields in a fixed order, their number given by the length.
_MPC_FIELDS = ("sender_key", "receiver_key", "data_length", "checksum")
_MPC_BITS = (64, 64, 16, 16)
_MPC_STRUCTS = {
    4: struct.Struct(">"),
    12: struct.Struct(">Q"),
    20: struct.Struct(">QQ"),
    22: struct.Struct(">QQH"),
    24: struct.Struct(">QQHH"),
}
_MPC_LENGTHS = {0: (12, 20), 1: (4, 12, 20, 22, 24)}


def _parse_mp_capable(data: bytes, length: int, version: int, _hint: int | None) -> MpCapable:
    allowed = _MPC_LENGTHS.get(version)
    if allowed is None:
        raise UnknownVersion(
            f"MP_CAPABLE version {version} is neither 0 nor 1",
            subtype=int(Subtype.MP_CAPABLE),
            length=length,
            section="3.1",
        )
    if length not in allowed:
        raise _bad_length(
            Subtype.MP_CAPABLE,
            length,
            "3.1",
            f"is not one of {', '.join(map(str, allowed))} (version {version})",
        )
    return MpCapable(version, data[3], *_MPC_STRUCTS[length].unpack_from(data, 4))


def _serialize_mp_capable(o: MpCapable) -> bytes:
    values = (o.sender_key, o.receiver_key, o.data_length, o.checksum)
    count = sum(v is not None for v in values)
    if None in values[:count]:
        raise ValueError(f"MpCapable fields {', '.join(_MPC_FIELDS)} must be a prefix; got {values}")
    allowed = _MPC_LENGTHS.get(o.version)
    if allowed is None:
        raise ValueError(f"MpCapable.version={o.version!r} has no layout (0 or 1)")
    length = (4, 12, 20, 22, 24)[count]
    if length not in allowed:
        raise ValueError(f"MpCapable.version=0 carries one or two keys, not {count} fields")
    named = zip(_MPC_FIELDS[:count], values[:count], _MPC_BITS[:count], strict=True)
    present = [_uint(f"MpCapable.{name}", value, bits) for name, value, bits in named]
    flags = _uint("MpCapable.flags", o.flags, 8)
    return (
        _head(Subtype.MP_CAPABLE, o.version, length) + bytes((flags,)) + _MPC_STRUCTS[length].pack(*present)
    )


# MP_JOIN, RFC 8684 §3.2: the length tells SYN (12), SYN/ACK (16) and third ACK (24) apart.
_JOIN_SYN = struct.Struct(">BII")
_JOIN_SYNACK = struct.Struct(">BQI")


def _parse_mp_join(data: bytes, length: int, flags: int, _hint: int | None) -> MptcpOption:
    if length == 12:
        return MpJoinSyn(flags, *_JOIN_SYN.unpack_from(data, 3))
    if length == 16:
        return MpJoinSynAck(flags, *_JOIN_SYNACK.unpack_from(data, 3))
    if length == 24:
        return MpJoinAck(bytes(data[4:24]), flags << 8 | data[3])
    raise _bad_length(Subtype.MP_JOIN, length, "3.2", "is not 12 (SYN), 16 (SYN/ACK) or 24 (ACK)")


def _serialize_mp_join_syn(o: MpJoinSyn) -> bytes:
    return _head(Subtype.MP_JOIN, _uint("MpJoinSyn.flags", o.flags, 4), 12) + _JOIN_SYN.pack(
        _uint("MpJoinSyn.address_id", o.address_id, 8),
        _uint("MpJoinSyn.token", o.token, 32),
        _uint("MpJoinSyn.nonce", o.nonce, 32),
    )


def _serialize_mp_join_synack(o: MpJoinSynAck) -> bytes:
    return _head(Subtype.MP_JOIN, _uint("MpJoinSynAck.flags", o.flags, 4), 16) + _JOIN_SYNACK.pack(
        _uint("MpJoinSynAck.address_id", o.address_id, 8),
        _uint("MpJoinSynAck.truncated_hmac", o.truncated_hmac, 64),
        _uint("MpJoinSynAck.nonce", o.nonce, 32),
    )


def _serialize_mp_join_ack(o: MpJoinAck) -> bytes:
    if len(o.hmac) != 20:
        raise ValueError(f"MpJoinAck.hmac has {len(o.hmac)} bytes, not 20")
    reserved = _uint("MpJoinAck.reserved", o.reserved, 12)
    return _head(Subtype.MP_JOIN, reserved >> 8, 24) + bytes((reserved & 0xFF,)) + o.hmac


# DSS, RFC 8684 §3.3: flag byte (3 reserved bits) F m M a A; data ACK (4 or 8 bytes) if A; if M the DSN
# (4 or 8), the relative SSN (4), the data-level length (2) and, when the length says so, a checksum (2).
@dataclass(frozen=True, slots=True)
class _DssLayout:
    plain: struct.Struct
    plain_length: int
    checksummed: struct.Struct
    checksummed_length: int  # 0 when there is no mapping, so no checksum either


def _dss_layout(flags: int) -> _DssLayout:
    fmt = ">" + (("Q" if flags & 0x02 else "I") if flags & 0x01 else "")
    if not flags & 0x04:
        return _DssLayout(struct.Struct(fmt), 4 + struct.calcsize(fmt), struct.Struct(fmt), 0)
    fmt += ("Q" if flags & 0x08 else "I") + "IH"
    return _DssLayout(
        struct.Struct(fmt), 4 + struct.calcsize(fmt), struct.Struct(fmt + "H"), 6 + struct.calcsize(fmt)
    )


_DSS_LAYOUTS = tuple(_dss_layout(flags) for flags in range(16))


def _parse_dss(data: bytes, length: int, low: int) -> Dss:
    if length < 4:
        raise _bad_length(Subtype.DSS, length, "3.3", "leaves no room for the flag byte")
    flags = data[3]
    layout = _DSS_LAYOUTS[flags & 0x0F]
    if length == layout.plain_length:
        values = layout.plain.unpack_from(data, 4)
    elif length == layout.checksummed_length:
        values = layout.checksummed.unpack_from(data, 4)
    else:
        expected = (
            f"{layout.plain_length} or {layout.checksummed_length}" if flags & 0x04 else layout.plain_length
        )
        raise _bad_length(
            Subtype.DSS,
            length,
            "3.3",
            f"does not fit flags A={flags & 1} a={flags >> 1 & 1} "
            f"M={flags >> 2 & 1} m={flags >> 3 & 1} (expected {expected})",
        )
    data_ack = values[0] if flags & 0x01 else None
    if not flags & 0x04:
        return Dss(
            data_ack,
            bool(flags & 0x02),
            None,
            bool(flags & 0x08),
            None,
            None,
            None,
            bool(flags & 0x10),
            low << 3 | flags >> 5,
        )
    i = flags & 0x01
    return Dss(
        data_ack,
        bool(flags & 0x02),
        values[i],
        bool(flags & 0x08),
        values[i + 1],
        values[i + 2],
        values[i + 3] if length == layout.checksummed_length else None,
        bool(flags & 0x10),
        low << 3 | flags >> 5,
    )


def _serialize_dss(o: Dss) -> bytes:
    reserved = _uint("Dss.reserved", o.reserved, 7)
    values: list[int] = []
    if o.data_ack is not None:
        values.append(_uint("Dss.data_ack", o.data_ack, 64 if o.data_ack_wide else 32))
    if o.dsn is not None:
        values += (
            _uint("Dss.dsn", o.dsn, 64 if o.dsn_wide else 32),
            _uint("Dss.ssn", o.ssn, 32),
            _uint("Dss.data_level_length", o.data_level_length, 16),
        )
        if o.checksum is not None:
            values.append(_uint("Dss.checksum", o.checksum, 16))
    elif (o.ssn, o.data_level_length, o.checksum) != (None, None, None):
        raise ValueError("Dss.ssn, data_level_length and checksum need a mapping (Dss.dsn is None)")
    flags = (
        (reserved & 0x07) << 5
        | o.data_fin << 4
        | o.dsn_wide << 3
        | (o.dsn is not None) << 2
        | o.data_ack_wide << 1
        | (o.data_ack is not None)
    )
    layout = _DSS_LAYOUTS[flags & 0x0F]
    fmt = layout.plain if o.checksum is None else layout.checksummed
    return _head(Subtype.DSS, reserved >> 3, 4 + fmt.size) + bytes((flags,)) + fmt.pack(*values)


# ADD_ADDR, RFC 8684 §3.4.1 (v1, with E flag and HMAC) and RFC 6824 §3.4.1 (v0, IPVer nibble).
# Length of an option without HMAC -> (address bytes, port present).
_ADDR_SHAPES = {8: (4, False), 10: (4, True), 20: (16, False), 22: (16, True)}


def _unpack_address(data: bytes, size: int, has_port: bool) -> tuple[str, int | None]:
    raw = bytes(data[4 : 4 + size])
    address = str(ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw))
    return address, _U16.unpack_from(data, 4 + size)[0] if has_port else None


def _pack_address(owner: str, address: str, port: int | None) -> bytes:
    try:
        packed = ipaddress.ip_address(address).packed
    except ValueError:
        raise ValueError(f"{owner}.address={address!r} is not an IPv4 or IPv6 address") from None
    return packed if port is None else packed + _U16.pack(_uint(f"{owner}.port", port, 16))


def _parse_add_addr(data: bytes, length: int, low: int, version: int | None) -> AddAddr | AddAddrV0:
    if version is None:
        version = 0 if low in (4, 6) and length in _ADDR_SHAPES else 1
    if version == 0:
        return _parse_add_addr_v0(data, length, low)
    if version != 1:
        raise ValueError(f"version={version!r} is not 0, 1 or None")
    echo = low & 0x1
    shape = _ADDR_SHAPES.get(length if echo else length - 8)
    if shape is None:
        expected = "8, 10, 20 or 22" if echo else "16, 18, 28 or 30"
        raise _bad_length(Subtype.ADD_ADDR, length, "3.4.1", f"is not {expected} (E={echo})")
    address, port = _unpack_address(data, *shape)
    hmac = None if echo else _U64.unpack_from(data, length - 8)[0]
    return AddAddr(bool(echo), data[3], address, port, hmac, low >> 1)


def _parse_add_addr_v0(data: bytes, length: int, ip_version: int) -> AddAddrV0:
    shape = _ADDR_SHAPES.get(length)
    if shape is None or ip_version != (4 if shape[0] == 4 else 6):
        raise _bad_length(
            Subtype.ADD_ADDR,
            length,
            "3.4.1",
            f"does not fit a v0 IPv{ip_version} address (IPv4: 8 or 10, IPv6: 20 or 22)",
        )
    return AddAddrV0(ip_version, data[3], *_unpack_address(data, *shape))


def _serialize_add_addr(o: AddAddr) -> bytes:
    if o.echo != (o.truncated_hmac is None):
        raise ValueError(f"AddAddr.truncated_hmac must be present iff echo is false (echo={o.echo})")
    body = _pack_address("AddAddr", o.address, o.port)
    if o.truncated_hmac is not None:
        body += _U64.pack(_uint("AddAddr.truncated_hmac", o.truncated_hmac, 64))
    low = _uint("AddAddr.reserved", o.reserved, 3) << 1 | o.echo
    return (
        _head(Subtype.ADD_ADDR, low, 4 + len(body))
        + bytes((_uint("AddAddr.address_id", o.address_id, 8),))
        + body
    )


def _serialize_add_addr_v0(o: AddAddrV0) -> bytes:
    body = _pack_address("AddAddrV0", o.address, o.port)
    if o.ip_version != (4 if len(body) in (4, 6) else 6):
        raise ValueError(f"AddAddrV0.ip_version={o.ip_version!r} does not match address {o.address!r}")
    aid = _uint("AddAddrV0.address_id", o.address_id, 8)
    return _head(Subtype.ADD_ADDR, o.ip_version, 4 + len(body)) + bytes((aid,)) + body


# REMOVE_ADDR, RFC 8684 §3.4.2: one address ID per byte after the subtype byte.
def _parse_remove_addr(data: bytes, length: int, low: int, _hint: int | None) -> RemoveAddr:
    if length < 4:
        raise _bad_length(Subtype.REMOVE_ADDR, length, "3.4.2", "leaves no room for an address ID")
    return RemoveAddr(tuple(data[3:length]), low)


def _serialize_remove_addr(o: RemoveAddr) -> bytes:
    if not o.address_ids:
        raise ValueError("RemoveAddr.address_ids is empty")
    ids = bytes(_uint("RemoveAddr.address_ids[]", i, 8) for i in o.address_ids)
    return _head(Subtype.REMOVE_ADDR, _uint("RemoveAddr.reserved", o.reserved, 4), 3 + len(ids)) + ids


# MP_PRIO, RFC 8684 §3.3.8 (length 3) and RFC 6824 §3.3.8 (length 4, with an address ID).
def _parse_mp_prio(data: bytes, length: int, flags: int, _hint: int | None) -> MpPrio:
    if length == 3:
        return MpPrio(flags)
    if length == 4:
        return MpPrio(flags, data[3])
    raise _bad_length(Subtype.MP_PRIO, length, "3.3.8", "is not 3 (v1) or 4 (v0, with address ID)")


def _serialize_mp_prio(o: MpPrio) -> bytes:
    flags = _uint("MpPrio.flags", o.flags, 4)
    if o.address_id is None:
        return _head(Subtype.MP_PRIO, flags, 3)
    return _head(Subtype.MP_PRIO, flags, 4) + bytes((_uint("MpPrio.address_id", o.address_id, 8),))


# MP_FAIL (RFC 8684 §3.7) and MP_FASTCLOSE (§3.5): 12 reserved bits, then one 64-bit field.
def _unpack_u64_option(subtype: Subtype, section: str, data: bytes, length: int, low: int) -> tuple[int, int]:
    if length != 12:
        raise _bad_length(subtype, length, section, "is not 12")
    return _U64.unpack_from(data, 4)[0], low << 8 | data[3]


def _pack_u64_option(subtype: Subtype, owner: str, value: int, reserved: int) -> bytes:
    _uint(f"{owner}.reserved", reserved, 12)
    return _head(subtype, reserved >> 8, 12) + bytes((reserved & 0xFF,)) + _U64.pack(value)


def _parse_mp_fail(data: bytes, length: int, low: int, _hint: int | None) -> MpFail:
    return MpFail(*_unpack_u64_option(Subtype.MP_FAIL, "3.7", data, length, low))


def _serialize_mp_fail(o: MpFail) -> bytes:
    return _pack_u64_option(Subtype.MP_FAIL, "MpFail", _uint("MpFail.dsn", o.dsn, 64), o.reserved)


def _parse_mp_fastclose(data: bytes, length: int, low: int, _hint: int | None) -> MpFastclose:
    return MpFastclose(*_unpack_u64_option(Subtype.MP_FASTCLOSE, "3.5", data, length, low))


def _serialize_mp_fastclose(o: MpFastclose) -> bytes:
    key = _uint("MpFastclose.receiver_key", o.receiver_key, 64)
    return _pack_u64_option(Subtype.MP_FASTCLOSE, "MpFastclose", key, o.reserved)


# MP_TCPRST, RFC 8684 §3.6: flags U V W T in the low nibble, then a reason byte.
def _parse_mp_tcprst(data: bytes, length: int, flags: int, _hint: int | None) -> MpTcpRst:
    if length != 4:
        raise _bad_length(Subtype.MP_TCPRST, length, "3.6", "is not 4")
    return MpTcpRst(flags, data[3])


def _serialize_mp_tcprst(o: MpTcpRst) -> bytes:
    reason = _uint("MpTcpRst.reason", o.reason, 8)
    return _head(Subtype.MP_TCPRST, _uint("MpTcpRst.flags", o.flags, 4), 4) + bytes((reason,))


# MP_EXPERIMENTAL (0xF, RFC 8684 §8.1) and unassigned subtypes: opaque bytes after the subtype byte.
def _parse_mp_experimental(data: bytes, length: int, low: int, _hint: int | None) -> MpExperimental:
    return MpExperimental(low, bytes(data[3:length]))


def _serialize_opaque(subtype: Subtype | int, owner: str, low: int, data: bytes) -> bytes:
    name = Subtype(subtype).name if subtype in Subtype.__members__.values() else f"subtype {subtype}"
    if len(data) > 252:
        raise ValueError(f"{owner}.data has {len(data)} bytes; a {name} option holds at most 252")
    return bytes((MPTCP_KIND, 3 + len(data), subtype << 4 | _uint(f"{owner}.low_bits", low, 4))) + data


def _serialize_unknown(o: UnknownSubtype) -> bytes:
    if not 9 <= o.subtype <= 14:
        raise ValueError(f"UnknownSubtype.subtype={o.subtype!r} is not an unassigned subtype (9 to 14)")
    return _serialize_opaque(o.subtype, "UnknownSubtype", o.low_bits, o.data)


_PARSERS: dict[int, _Parser] = {
    Subtype.MP_CAPABLE: _parse_mp_capable,
    Subtype.MP_JOIN: _parse_mp_join,
    Subtype.ADD_ADDR: _parse_add_addr,
    Subtype.REMOVE_ADDR: _parse_remove_addr,
    Subtype.MP_PRIO: _parse_mp_prio,
    Subtype.MP_FAIL: _parse_mp_fail,
    Subtype.MP_FASTCLOSE: _parse_mp_fastclose,
    Subtype.MP_TCPRST: _parse_mp_tcprst,
    Subtype.MP_EXPERIMENTAL: _parse_mp_experimental,
}


def parse(data: bytes, *, version: int | None = None) -> MptcpOption:
    """Parse one whole MPTCP option: kind byte 30, length byte and body (RFC 8684 §3).

    ``data`` must hold exactly the bytes the length byte announces.  ``version`` only settles the ADD_ADDR
    v0/v1 ambiguity: ``None`` reads an IPVer nibble of 4 or 6 at a v0 length as v0, ``0``/``1`` force.
    Raises ``TruncatedOption`` (fewer bytes than announced, or a length below 3), ``BadLength`` (a length
    that fits no layout of the subtype and its flags) or ``UnknownVersion`` (MP_CAPABLE other than v0/v1).
    Unassigned subtypes 9 to 14 are returned as ``UnknownSubtype``, since receivers ignore them.
    """
    size = len(data)
    if size < 3 or data[1] < 3 or size < data[1]:
        raise _truncated(data)
    length = data[1]
    subtype = data[2] >> 4
    if subtype == Subtype.DSS and data[0] == MPTCP_KIND and size == length:
        return _parse_dss(data, length, data[2] & 0x0F)
    if data[0] != MPTCP_KIND:
        raise OptionError(f"option kind {data[0]} is not MPTCP ({MPTCP_KIND})", length=length)
    if size != length:
        raise BadLength(
            f"length byte says {length} but {size} bytes were given", subtype=subtype, length=length
        )
    parser = _PARSERS.get(subtype)
    if parser is None:
        return UnknownSubtype(subtype, data[2] & 0x0F, bytes(data[3:]))
    return parser(data, length, data[2] & 0x0F, version)


def _truncated(data: bytes) -> TruncatedOption:
    length = data[1] if len(data) > 1 else None
    subtype = data[2] >> 4 if len(data) > 2 else None
    if length is not None and length < 3:
        message = f"MPTCP option length {length} is below the 3-byte header"
    else:
        message = f"MPTCP option announces {length} bytes but only {len(data)} are there"
    return TruncatedOption(message, subtype=subtype, length=length)


def serialize(option: MptcpOption) -> bytes:
    """The wire bytes of ``option`` (kind, length, body), the exact inverse of ``parse``.

    Raises ValueError naming the field when a value cannot be encoded: out of range for its field, or
    fields whose presence the layout ties together given inconsistently (RFC 8684 §3).
    """
    match option:
        case Dss():
            return _serialize_dss(option)
        case MpCapable():
            return _serialize_mp_capable(option)
        case MpJoinSyn():
            return _serialize_mp_join_syn(option)
        case MpJoinSynAck():
            return _serialize_mp_join_synack(option)
        case MpJoinAck():
            return _serialize_mp_join_ack(option)
        case AddAddr():
            return _serialize_add_addr(option)
        case AddAddrV0():
            return _serialize_add_addr_v0(option)
        case RemoveAddr():
            return _serialize_remove_addr(option)
        case MpPrio():
            return _serialize_mp_prio(option)
        case MpFail():
            return _serialize_mp_fail(option)
        case MpFastclose():
            return _serialize_mp_fastclose(option)
        case MpTcpRst():
            return _serialize_mp_tcprst(option)
        case MpExperimental():
            return _serialize_opaque(Subtype.MP_EXPERIMENTAL, "MpExperimental", option.low_bits, option.data)
        case UnknownSubtype():
            return _serialize_unknown(option)
    raise TypeError(f"not an MPTCP option: {option!r}")


def scan_tcp_options(
    raw: bytes, *, version: int | None = None
) -> tuple[tuple[MptcpOption, ...], tuple[OptionError, ...]]:
    """Walk a TCP options field (RFC 9293 §3.1) and parse every MPTCP option in it.

    EOL ends the walk, NOP is skipped, other kinds are skipped by their length.  A length below 2 or one
    running past the end is an error that stops the walk; a malformed MPTCP option with a sane length is
    an error and the walk goes on after it.  Returns the options parsed and the errors, in order.
    """
    options: list[MptcpOption] = []
    errors: list[OptionError] = []
    offset, end = 0, len(raw)
    while offset < end:
        kind = raw[offset]
        if kind == 0:
            break
        if kind == 1:
            offset += 1
            continue
        if offset + 1 >= end:
            errors.append(TruncatedOption(f"TCP option kind {kind} at offset {offset} has no length byte"))
            break
        length = raw[offset + 1]
        if length < 2 or offset + length > end:
            errors.append(_bad_tcp_option(raw, offset))
            break
        if kind == MPTCP_KIND:
            try:
                options.append(parse(raw[offset : offset + length], version=version))
            except OptionError as error:
                errors.append(error)
        offset += length
    return tuple(options), tuple(errors)


def _bad_tcp_option(raw: bytes, offset: int) -> OptionError:
    kind, length = raw[offset], raw[offset + 1]
    if kind == MPTCP_KIND:
        return _truncated(raw[offset : offset + max(length, 2)])
    if length < 2:
        return BadLength(
            f"TCP option kind {kind} at offset {offset} has length {length}, below 2", length=length
        )
    return TruncatedOption(
        f"TCP option kind {kind} at offset {offset} announces {length} bytes but only "
        f"{len(raw) - offset} are left",
        length=length,
    )


# --- Text and JSON forms -------------------------------------------------------------------------------
_MPC_FLAG_NAMES = "ABCDEFGH"
_TCPRST_FLAG_NAMES = "UVWT"


def _flag_letters(value: int, names: str) -> str:
    """Letters of the set bits of ``value``, most significant first (``names[0]`` is the top bit)."""
    top = len(names) - 1
    return ",".join(name for i, name in enumerate(names) if value >> (top - i) & 1)


def _hex(value: int) -> str:
    return f"0x{value:x}"


def _endpoint(address: str, port: int | None) -> str:
    if port is None:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _describe_dss(o: Dss) -> str:
    parts = ["DSS"]
    if o.data_ack is not None:
        parts.append(f"ack{'64' if o.data_ack_wide else ''}={o.data_ack}")
    if o.dsn is not None:
        parts += [f"dsn{'64' if o.dsn_wide else ''}={o.dsn}", f"ssn={o.ssn}", f"len={o.data_level_length}"]
        if o.is_infinite_mapping:
            parts.append("(infinite)")
    if o.checksum is not None:
        parts.append(f"csum=0x{o.checksum:04x}")
    if o.data_fin:
        parts.append("F")
    return " ".join(parts)


def _describe_mp_capable(o: MpCapable) -> str:
    parts = [f"MP_CAPABLE v{o.version}"]
    if o.flags:
        parts.append(f"[{_flag_letters(o.flags, _MPC_FLAG_NAMES)}]")
    if o.sender_key is not None:
        parts.append(f"skey={_hex(o.sender_key)}")
    if o.receiver_key is not None:
        parts.append(f"rkey={_hex(o.receiver_key)}")
    if o.data_length is not None:
        parts.append(f"len={o.data_length}")
    if o.checksum is not None:
        parts.append(f"csum=0x{o.checksum:04x}")
    return " ".join(parts)


def _describe_add_addr(o: AddAddr | AddAddrV0) -> str:
    if isinstance(o, AddAddrV0):
        return f"ADD_ADDR v0 id={o.address_id} {_endpoint(o.address, o.port)}"
    text = f"ADD_ADDR{' echo' if o.echo else ''} id={o.address_id} {_endpoint(o.address, o.port)}"
    return text if o.truncated_hmac is None else f"{text} hmac={_hex(o.truncated_hmac)}"


def _describe_mp_tcprst(o: MpTcpRst) -> str:
    reason = (
        TcpRstReason(o.reason).name.lower().replace("_", "-")
        if o.reason in TcpRstReason.__members__.values()
        else _hex(o.reason)
    )
    flags = _flag_letters(o.flags, _TCPRST_FLAG_NAMES).replace(",", " ")
    return f"MP_TCPRST reason={reason}" + (f" {flags}" if flags else "")


def _backup(flags: int) -> str:
    return " B" if flags & 0x1 else ""


def _reserved_suffix(option: MptcpOption) -> str:
    """`` rsv=0x..`` when reserved bits are set (a sender must leave them zero), else nothing."""
    if isinstance(option, MpJoinSyn | MpJoinSynAck | MpPrio):
        reserved = option.flags >> 1
    else:
        reserved = int(getattr(option, "reserved", 0))
    return f" rsv={_hex(reserved)}" if reserved else ""


def _describe_body(o: MptcpOption) -> str:
    match o:
        case Dss():
            return _describe_dss(o)
        case MpCapable():
            return _describe_mp_capable(o)
        case MpJoinSyn():
            return (
                f"MP_JOIN SYN id={o.address_id}{_backup(o.flags)} token={_hex(o.token)} nonce={_hex(o.nonce)}"
            )
        case MpJoinSynAck():
            return (
                f"MP_JOIN SYN/ACK id={o.address_id}{_backup(o.flags)} hmac={_hex(o.truncated_hmac)} "
                f"nonce={_hex(o.nonce)}"
            )
        case MpJoinAck():
            return f"MP_JOIN ACK hmac={o.hmac.hex()}"
        case AddAddr() | AddAddrV0():
            return _describe_add_addr(o)
        case RemoveAddr():
            return f"REMOVE_ADDR ids={','.join(map(str, o.address_ids))}"
        case MpPrio():
            return "MP_PRIO" + ("" if o.address_id is None else f" id={o.address_id}") + _backup(o.flags)
        case MpFail():
            return f"MP_FAIL dsn={o.dsn}"
        case MpFastclose():
            return f"MP_FASTCLOSE rkey={_hex(o.receiver_key)}"
        case MpTcpRst():
            return _describe_mp_tcprst(o)
        case MpExperimental():
            return f"MP_EXPERIMENTAL low={_hex(o.low_bits)} data={o.data.hex()}"
        case UnknownSubtype():
            return f"UNKNOWN subtype={o.subtype} low={_hex(o.low_bits)} data={o.data.hex()}"
    raise TypeError(f"not an MPTCP option: {o!r}")


def describe(option: MptcpOption) -> str:
    """A compact one-line text of ``option``, as ``mptcpspec decode`` prints it.

    Examples: ``MP_CAPABLE v1 [A,H] skey=0x... rkey=0x...``, ``DSS ack64=123 dsn64=456 ssn=1 len=1400
    csum=0xabcd F`` (``64`` marks 8-byte fields), ``MP_JOIN SYN id=1 B token=0x... nonce=0x...``,
    ``ADD_ADDR echo id=2 10.0.0.2:8080``, ``MP_TCPRST reason=middlebox-interference T``.  Reserved bits
    that are set show as ``rsv=0x..``.
    """
    return _describe_body(option) + _reserved_suffix(option)


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


def option_to_dict(option: MptcpOption) -> dict[str, object]:
    """A JSON-ready dict of ``option``: ``subtype`` (name, ``UNKNOWN`` for 9-14), ``subtype_number``,
    ``type`` (the class name) and every field; ints stay ints, bytes become hex text, tuples lists."""
    number = subtype_of(option)
    name = Subtype(number).name if number in _SUBTYPE_OF_CLASS.values() else "UNKNOWN"
    result: dict[str, object] = {"subtype": name, "subtype_number": number, "type": type(option).__name__}
    for field in fields(option):
        if field.name == "subtype":
            continue
        value = getattr(option, field.name)
        result[field.name] = (
            value.hex() if isinstance(value, bytes) else list(value) if isinstance(value, tuple) else value
        )
    return result
