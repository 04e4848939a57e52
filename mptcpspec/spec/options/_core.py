"""Codecs of the handshake and data options: MP_CAPABLE (RFC 8684 §3.1), MP_JOIN (§3.2), DSS (§3.3)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BadLength, UnknownVersion
from ._base import bad_length, head, uint
from ._types import Dss, MpCapable, MpJoinAck, MpJoinSyn, MpJoinSynAck, MptcpOption, Subtype

__all__ = [
    "parse_dss",
    "parse_mp_capable",
    "parse_mp_join",
    "serialize_dss",
    "serialize_mp_capable",
    "serialize_mp_join_ack",
    "serialize_mp_join_syn",
    "serialize_mp_join_synack",
]


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


def parse_mp_capable(data: bytes, length: int, version: int, _hint: int | None) -> MpCapable:
    allowed = _MPC_LENGTHS.get(version)
    if allowed is None:
        raise UnknownVersion(
            f"MP_CAPABLE version {version} is neither 0 nor 1",
            subtype=int(Subtype.MP_CAPABLE),
            length=length,
            section="3.1",
        )
    if length not in allowed:
        raise bad_length(
            Subtype.MP_CAPABLE,
            length,
            "3.1",
            f"is not one of {', '.join(map(str, allowed))} (version {version})",
        )
    return MpCapable(version, data[3], *_MPC_STRUCTS[length].unpack_from(data, 4))


def serialize_mp_capable(o: MpCapable) -> bytes:
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
    present = [uint(f"MpCapable.{name}", value, bits) for name, value, bits in named]
    flags = uint("MpCapable.flags", o.flags, 8)
    return head(Subtype.MP_CAPABLE, o.version, length) + bytes((flags,)) + _MPC_STRUCTS[length].pack(*present)


# MP_JOIN, RFC 8684 §3.2: the length tells SYN (12), SYN/ACK (16) and third ACK (24) apart.
_JOIN_SYN = struct.Struct(">BII")
_JOIN_SYNACK = struct.Struct(">BQI")


def parse_mp_join(data: bytes, length: int, flags: int, _hint: int | None) -> MptcpOption:
    if length == 12:
        return MpJoinSyn(flags, *_JOIN_SYN.unpack_from(data, 3))
    if length == 16:
        return MpJoinSynAck(flags, *_JOIN_SYNACK.unpack_from(data, 3))
    if length == 24:
        return MpJoinAck(bytes(data[4:24]), flags << 8 | data[3])
    raise bad_length(Subtype.MP_JOIN, length, "3.2", "is not 12 (SYN), 16 (SYN/ACK) or 24 (ACK)")


def serialize_mp_join_syn(o: MpJoinSyn) -> bytes:
    return head(Subtype.MP_JOIN, uint("MpJoinSyn.flags", o.flags, 4), 12) + _JOIN_SYN.pack(
        uint("MpJoinSyn.address_id", o.address_id, 8),
        uint("MpJoinSyn.token", o.token, 32),
        uint("MpJoinSyn.nonce", o.nonce, 32),
    )


def serialize_mp_join_synack(o: MpJoinSynAck) -> bytes:
    return head(Subtype.MP_JOIN, uint("MpJoinSynAck.flags", o.flags, 4), 16) + _JOIN_SYNACK.pack(
        uint("MpJoinSynAck.address_id", o.address_id, 8),
        uint("MpJoinSynAck.truncated_hmac", o.truncated_hmac, 64),
        uint("MpJoinSynAck.nonce", o.nonce, 32),
    )


def serialize_mp_join_ack(o: MpJoinAck) -> bytes:
    if len(o.hmac) != 20:
        raise ValueError(f"MpJoinAck.hmac has {len(o.hmac)} bytes, not 20")
    reserved = uint("MpJoinAck.reserved", o.reserved, 12)
    return head(Subtype.MP_JOIN, reserved >> 8, 24) + bytes((reserved & 0xFF,)) + o.hmac


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


def parse_dss(data: bytes, length: int, low: int) -> Dss:
    if length < 4:
        raise bad_length(Subtype.DSS, length, "3.3", "leaves no room for the flag byte")
    flags = data[3]
    layout = _DSS_LAYOUTS[flags & 0x0F]
    if length == layout.plain_length:
        values = layout.plain.unpack_from(data, 4)
    elif length == layout.checksummed_length:
        values = layout.checksummed.unpack_from(data, 4)
    else:
        raise _dss_length_error(flags, length, layout)
    ack_wide, dsn_wide, fin = bool(flags & 0x02), bool(flags & 0x08), bool(flags & 0x10)
    reserved = low << 3 | flags >> 5
    data_ack = values[0] if flags & 0x01 else None
    if not flags & 0x04:
        return Dss(data_ack, ack_wide, None, dsn_wide, None, None, None, fin, reserved)
    i = flags & 0x01
    checksum = values[i + 3] if length == layout.checksummed_length else None
    return Dss(data_ack, ack_wide, values[i], dsn_wide, values[i + 1], values[i + 2], checksum, fin, reserved)


def _dss_length_error(flags: int, length: int, layout: _DssLayout) -> BadLength:
    expected = (
        f"{layout.plain_length} or {layout.checksummed_length}" if flags & 0x04 else layout.plain_length
    )
    bits = f"A={flags & 1} a={flags >> 1 & 1} M={flags >> 2 & 1} m={flags >> 3 & 1}"
    return bad_length(Subtype.DSS, length, "3.3", f"does not fit flags {bits} (expected {expected})")


def serialize_dss(o: Dss) -> bytes:
    reserved = uint("Dss.reserved", o.reserved, 7)
    values: list[int] = []
    if o.data_ack is not None:
        values.append(uint("Dss.data_ack", o.data_ack, 64 if o.data_ack_wide else 32))
    if o.dsn is not None:
        values += (
            uint("Dss.dsn", o.dsn, 64 if o.dsn_wide else 32),
            uint("Dss.ssn", o.ssn, 32),
            uint("Dss.data_level_length", o.data_level_length, 16),
        )
        if o.checksum is not None:
            values.append(uint("Dss.checksum", o.checksum, 16))
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
    return head(Subtype.DSS, reserved >> 3, 4 + fmt.size) + bytes((flags,)) + fmt.pack(*values)
