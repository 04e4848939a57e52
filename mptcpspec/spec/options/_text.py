"""Text and JSON forms of option values: ``describe`` for ``mptcpspec decode``, ``option_to_dict``."""

from __future__ import annotations

from dataclasses import fields

from ._types import (
    AddAddr,
    AddAddrV0,
    Dss,
    MpCapable,
    MpExperimental,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    MpTcpRst,
    RemoveAddr,
    Subtype,
    TcpRstReason,
    UnknownSubtype,
    subtype_of,
)

__all__ = ["describe", "option_to_dict"]

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


def option_to_dict(option: MptcpOption) -> dict[str, object]:
    """A JSON-ready dict of ``option``: ``subtype`` (name, ``UNKNOWN`` for 9-14), ``subtype_number``,
    ``type`` (the class name) and every field; ints stay ints, bytes become hex text, tuples lists."""
    number = subtype_of(option)
    name = "UNKNOWN" if isinstance(option, UnknownSubtype) else Subtype(number).name
    result: dict[str, object] = {"subtype": name, "subtype_number": number, "type": type(option).__name__}
    for field in fields(option):
        if field.name == "subtype":
            continue
        result[field.name] = _json_value(getattr(option, field.name))
    return result


def _json_value(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return list(value)
    return value
