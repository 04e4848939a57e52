"""Codecs of the path management and control options: ADD_ADDR (RFC 8684 §3.4.1, RFC 6824 §3.4.1),
REMOVE_ADDR (§3.4.2), MP_PRIO (§3.3.8), MP_FAIL (§3.7), MP_FASTCLOSE (§3.5), MP_TCPRST (§3.6),
MP_EXPERIMENTAL and unassigned subtypes (§8.1)."""

from __future__ import annotations

import ipaddress

from ._base import U16, U64, bad_length, head, uint
from ._types import (
    MPTCP_KIND,
    AddAddr,
    AddAddrV0,
    MpExperimental,
    MpFail,
    MpFastclose,
    MpPrio,
    MpTcpRst,
    RemoveAddr,
    Subtype,
    UnknownSubtype,
)

__all__ = [
    "parse_add_addr",
    "parse_mp_experimental",
    "parse_mp_fail",
    "parse_mp_fastclose",
    "parse_mp_prio",
    "parse_mp_tcprst",
    "parse_remove_addr",
    "serialize_add_addr",
    "serialize_add_addr_v0",
    "serialize_mp_fail",
    "serialize_mp_fastclose",
    "serialize_mp_prio",
    "serialize_mp_tcprst",
    "serialize_opaque",
    "serialize_remove_addr",
    "serialize_unknown",
]


# ADD_ADDR, RFC 8684 §3.4.1 (v1, with E flag and HMAC) and RFC 6824 §3.4.1 (v0, IPVer nibble).
# Length of an option without HMAC -> (address bytes, port present).
_ADDR_SHAPES = {8: (4, False), 10: (4, True), 20: (16, False), 22: (16, True)}


def _unpack_address(data: bytes, size: int, has_port: bool) -> tuple[str, int | None]:
    raw = bytes(data[4 : 4 + size])
    address = str(ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw))
    return address, U16.unpack_from(data, 4 + size)[0] if has_port else None


def _pack_address(owner: str, address: str, port: int | None) -> bytes:
    try:
        packed = ipaddress.ip_address(address).packed
    except ValueError:
        raise ValueError(f"{owner}.address={address!r} is not an IPv4 or IPv6 address") from None
    return packed if port is None else packed + U16.pack(uint(f"{owner}.port", port, 16))


def parse_add_addr(data: bytes, length: int, low: int, version: int | None) -> AddAddr | AddAddrV0:
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
        raise bad_length(Subtype.ADD_ADDR, length, "3.4.1", f"is not {expected} (E={echo})")
    address, port = _unpack_address(data, *shape)
    hmac = None if echo else U64.unpack_from(data, length - 8)[0]
    return AddAddr(bool(echo), data[3], address, port, hmac, low >> 1)


def _parse_add_addr_v0(data: bytes, length: int, ip_version: int) -> AddAddrV0:
    shape = _ADDR_SHAPES.get(length)
    if shape is None or ip_version != (4 if shape[0] == 4 else 6):
        raise bad_length(
            Subtype.ADD_ADDR,
            length,
            "3.4.1",
            f"does not fit a v0 IPv{ip_version} address (IPv4: 8 or 10, IPv6: 20 or 22)",
        )
    return AddAddrV0(ip_version, data[3], *_unpack_address(data, *shape))


def serialize_add_addr(o: AddAddr) -> bytes:
    if o.echo != (o.truncated_hmac is None):
        raise ValueError(f"AddAddr.truncated_hmac must be present iff echo is false (echo={o.echo})")
    body = _pack_address("AddAddr", o.address, o.port)
    if o.truncated_hmac is not None:
        body += U64.pack(uint("AddAddr.truncated_hmac", o.truncated_hmac, 64))
    low = uint("AddAddr.reserved", o.reserved, 3) << 1 | o.echo
    return (
        head(Subtype.ADD_ADDR, low, 4 + len(body))
        + bytes((uint("AddAddr.address_id", o.address_id, 8),))
        + body
    )


def serialize_add_addr_v0(o: AddAddrV0) -> bytes:
    body = _pack_address("AddAddrV0", o.address, o.port)
    if o.ip_version != (6 if ":" in o.address else 4):
        raise ValueError(f"AddAddrV0.ip_version={o.ip_version!r} does not match address {o.address!r}")
    aid = uint("AddAddrV0.address_id", o.address_id, 8)
    return head(Subtype.ADD_ADDR, o.ip_version, 4 + len(body)) + bytes((aid,)) + body


# REMOVE_ADDR, RFC 8684 §3.4.2: one address ID per byte after the subtype byte.
def parse_remove_addr(data: bytes, length: int, low: int, _hint: int | None) -> RemoveAddr:
    if length < 4:
        raise bad_length(Subtype.REMOVE_ADDR, length, "3.4.2", "leaves no room for an address ID")
    return RemoveAddr(tuple(data[3:length]), low)


def serialize_remove_addr(o: RemoveAddr) -> bytes:
    if not o.address_ids:
        raise ValueError("RemoveAddr.address_ids is empty")
    ids = bytes(uint("RemoveAddr.address_ids[]", i, 8) for i in o.address_ids)
    return head(Subtype.REMOVE_ADDR, uint("RemoveAddr.reserved", o.reserved, 4), 3 + len(ids)) + ids


# MP_PRIO, RFC 8684 §3.3.8 (length 3) and RFC 6824 §3.3.8 (length 4, with an address ID).
def parse_mp_prio(data: bytes, length: int, flags: int, _hint: int | None) -> MpPrio:
    if length == 3:
        return MpPrio(flags)
    if length == 4:
        return MpPrio(flags, data[3])
    raise bad_length(Subtype.MP_PRIO, length, "3.3.8", "is not 3 (v1) or 4 (v0, with address ID)")


def serialize_mp_prio(o: MpPrio) -> bytes:
    flags = uint("MpPrio.flags", o.flags, 4)
    if o.address_id is None:
        return head(Subtype.MP_PRIO, flags, 3)
    return head(Subtype.MP_PRIO, flags, 4) + bytes((uint("MpPrio.address_id", o.address_id, 8),))


# MP_FAIL (RFC 8684 §3.7) and MP_FASTCLOSE (§3.5): 12 reserved bits, then one 64-bit field.
def _unpack_u64_option(subtype: Subtype, section: str, data: bytes, length: int, low: int) -> tuple[int, int]:
    if length != 12:
        raise bad_length(subtype, length, section, "is not 12")
    return U64.unpack_from(data, 4)[0], low << 8 | data[3]


def _pack_u64_option(subtype: Subtype, owner: str, value: int, reserved: int) -> bytes:
    uint(f"{owner}.reserved", reserved, 12)
    return head(subtype, reserved >> 8, 12) + bytes((reserved & 0xFF,)) + U64.pack(value)


def parse_mp_fail(data: bytes, length: int, low: int, _hint: int | None) -> MpFail:
    return MpFail(*_unpack_u64_option(Subtype.MP_FAIL, "3.7", data, length, low))


def serialize_mp_fail(o: MpFail) -> bytes:
    return _pack_u64_option(Subtype.MP_FAIL, "MpFail", uint("MpFail.dsn", o.dsn, 64), o.reserved)


def parse_mp_fastclose(data: bytes, length: int, low: int, _hint: int | None) -> MpFastclose:
    return MpFastclose(*_unpack_u64_option(Subtype.MP_FASTCLOSE, "3.5", data, length, low))


def serialize_mp_fastclose(o: MpFastclose) -> bytes:
    key = uint("MpFastclose.receiver_key", o.receiver_key, 64)
    return _pack_u64_option(Subtype.MP_FASTCLOSE, "MpFastclose", key, o.reserved)


# MP_TCPRST, RFC 8684 §3.6: flags U V W T in the low nibble, then a reason byte.
def parse_mp_tcprst(data: bytes, length: int, flags: int, _hint: int | None) -> MpTcpRst:
    if length != 4:
        raise bad_length(Subtype.MP_TCPRST, length, "3.6", "is not 4")
    return MpTcpRst(flags, data[3])


def serialize_mp_tcprst(o: MpTcpRst) -> bytes:
    reason = uint("MpTcpRst.reason", o.reason, 8)
    return head(Subtype.MP_TCPRST, uint("MpTcpRst.flags", o.flags, 4), 4) + bytes((reason,))


# MP_EXPERIMENTAL (0xF, RFC 8684 §8.1) and unassigned subtypes: opaque bytes after the subtype byte.
def parse_mp_experimental(data: bytes, length: int, low: int, _hint: int | None) -> MpExperimental:
    return MpExperimental(low, bytes(data[3:length]))


def serialize_opaque(subtype: int, owner: str, low: int, data: bytes) -> bytes:
    """An option whose body after the subtype byte is opaque: MP_EXPERIMENTAL or an unassigned subtype."""
    if len(data) > 252:
        raise ValueError(f"{owner}.data has {len(data)} bytes; an option body holds at most 252")
    return bytes((MPTCP_KIND, 3 + len(data), subtype << 4 | uint(f"{owner}.low_bits", low, 4))) + data


def serialize_unknown(o: UnknownSubtype) -> bytes:
    if not 9 <= o.subtype <= 14:
        raise ValueError(f"UnknownSubtype.subtype={o.subtype!r} is not an unassigned subtype (9 to 14)")
    return serialize_opaque(o.subtype, "UnknownSubtype", o.low_bits, o.data)
