"""The options the reference endpoint sends, and the checks it makes before trusting the peer's.

Pure functions over keys, nonces and options: MP_CAPABLE for the initial handshake (RFC 8684 §3.1),
MP_JOIN for new subflows (§3.2), ADD_ADDR (§3.4.1) and the DSS (§3.3).  The cryptography is the spec's
(``mptcpspec.spec.crypto``); nothing here judges the peer's conduct beyond what the endpoint must know to
act (an HMAC that does not verify means: do not join, do not use the address).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ..spec.crypto import add_addr_hmac, dss_checksum, join_ack_hmac, join_synack_hmac, key_token
from ..spec.options import AddAddr, Dss, MpCapable, MpJoinAck, MpJoinSyn, MpJoinSynAck, MptcpOption

__all__ = [
    "FLAG_CHECKSUM",
    "FLAG_HMAC_SHA256",
    "MASK64",
    "add_addr_valid",
    "announce",
    "capable",
    "capable_acceptable",
    "data_dss",
    "find",
    "join_ack",
    "join_ack_valid",
    "join_syn",
    "join_synack",
    "join_synack_valid",
]

FLAG_CHECKSUM = 0x80
FLAG_HMAC_SHA256 = 0x01
MASK64 = (1 << 64) - 1
MASK32 = 0xFFFFFFFF

T = TypeVar("T")


def find(options: Iterable[MptcpOption], kind: type[T]) -> T | None:
    """The first option of class ``kind``, or None."""
    for option in options:
        if isinstance(option, kind):
            return option
    return None


def capable(
    checksum: bool,
    sender_key: int | None = None,
    receiver_key: int | None = None,
    payload: bytes | None = None,
    dsn: int = 0,
) -> MpCapable:
    """MP_CAPABLE v1 (RFC 8684 §3.1): bare on the SYN, one key on the SYN/ACK, both on the third ACK,
    plus the data-level length (and checksum) on the first data segment of the initiator."""
    flags = FLAG_HMAC_SHA256 | (FLAG_CHECKSUM if checksum else 0)
    if payload is None:
        return MpCapable(1, flags, sender_key, receiver_key)
    value = dss_checksum(dsn & MASK64, 1, len(payload), payload) if checksum else None
    return MpCapable(1, flags, sender_key, receiver_key, len(payload), value)


def capable_acceptable(option: MpCapable | None, *, with_key: bool) -> bool:
    """Whether we can run MPTCP v1 on this MP_CAPABLE: version 1, HMAC-SHA256 offered, B (extensibility)
    clear, and a sender's key exactly when one belongs on the segment (RFC 8684 §3.1)."""
    return (
        option is not None
        and option.version == 1
        and option.hmac_sha
        and not option.extensibility
        and (option.sender_key is not None) == with_key
    )


def data_dss(
    data_ack: int | None,
    dsn: int | None = None,
    ssn: int = 0,
    payload: bytes = b"",
    checksum: bool = False,
    data_fin: bool = False,
) -> Dss:
    """A DSS with 64-bit DATA_ACK and (when ``dsn`` is given) a 64-bit mapping of ``payload``.

    A DATA_FIN takes one data sequence number after the payload; alone it has ssn 0 (RFC 8684 §3.3.3).
    """
    if dsn is None:
        return Dss(data_ack=None if data_ack is None else data_ack & MASK64, data_ack_wide=True)
    length = len(payload) + (1 if data_fin else 0)
    value = dss_checksum(dsn & MASK64, ssn & MASK32, length, payload) if checksum else None
    return Dss(
        data_ack=None if data_ack is None else data_ack & MASK64,
        data_ack_wide=True,
        dsn=dsn & MASK64,
        dsn_wide=True,
        ssn=ssn & MASK32,
        data_level_length=length,
        checksum=value,
        data_fin=data_fin,
    )


def join_syn(remote_key: int, local_nonce: int, address_id: int, backup: bool) -> MpJoinSyn:
    """MP_JOIN on the SYN: the peer's token and our nonce (RFC 8684 §3.2)."""
    return MpJoinSyn(1 if backup else 0, address_id, key_token(remote_key), local_nonce)


def join_synack(
    local_key: int, remote_key: int, local_nonce: int, remote_nonce: int, address_id: int, backup: bool
) -> MpJoinSynAck:
    """MP_JOIN on the listener's SYN/ACK: truncated HMAC over both nonces (RFC 8684 §3.2)."""
    mac = join_synack_hmac(local_key, remote_key, local_nonce, remote_nonce)
    return MpJoinSynAck(1 if backup else 0, address_id, mac, local_nonce)


def join_synack_valid(option: MpJoinSynAck, local_key: int, remote_key: int, local_nonce: int) -> bool:
    """Whether the listener's truncated HMAC in an MP_JOIN SYN/ACK is right (RFC 8684 §3.2)."""
    return option.truncated_hmac == join_synack_hmac(remote_key, local_key, option.nonce, local_nonce)


def join_ack(local_key: int, remote_key: int, local_nonce: int, remote_nonce: int) -> MpJoinAck:
    """MP_JOIN on the initiator's third ACK: the 160-bit HMAC (RFC 8684 §3.2)."""
    return MpJoinAck(join_ack_hmac(local_key, remote_key, local_nonce, remote_nonce))


def join_ack_valid(
    option: MpJoinAck, local_key: int, remote_key: int, local_nonce: int, remote_nonce: int
) -> bool:
    """Whether the initiator's HMAC in an MP_JOIN third ACK is right (RFC 8684 §3.2)."""
    return option.hmac == join_ack_hmac(remote_key, local_key, remote_nonce, local_nonce)


def announce(local_key: int, remote_key: int, address_id: int, address: str, port: int | None) -> AddAddr:
    """ADD_ADDR with its HMAC (RFC 8684 §3.4.1)."""
    mac = add_addr_hmac(local_key, remote_key, address_id, address, port)
    return AddAddr(False, address_id, address, port, mac)


def add_addr_valid(option: AddAddr, local_key: int, remote_key: int) -> bool:
    """Whether an ADD_ADDR's HMAC proves the peer sent it (RFC 8684 §3.4.1)."""
    mac = add_addr_hmac(remote_key, local_key, option.address_id, option.address, option.port)
    return option.truncated_hmac == mac
