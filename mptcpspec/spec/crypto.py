"""MPTCP's cryptographic values: tokens, IDSNs, MP_JOIN and ADD_ADDR HMACs, and the DSS checksum.

Keys are 64-bit and nonces 32-bit unsigned integers, put on the wire big-endian.  Version 1 (RFC 8684)
hashes with SHA-256, version 0 (RFC 6824) with SHA-1.  Every function is pure; the per-key hashes are
memoised because the checker asks for the same key's token and IDSN on every segment of a connection.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

__all__ = [
    "add_addr_hmac",
    "dss_checksum",
    "dss_checksum_ok",
    "join_ack_hmac",
    "join_hmac",
    "join_synack_hmac",
    "key_idsn",
    "key_token",
    "ones_complement_sum",
]

_ALGORITHMS = ("sha1", "sha256")
"""The hash of each MPTCP version: SHA-1 for v0 (RFC 6824 §3.2), SHA-256 for v1 (RFC 8684 §3.2)."""


def _algorithm(version: int) -> str:
    if version not in (0, 1):
        raise ValueError(f"MPTCP version {version} has no hash algorithm (expected 0 or 1)")
    return _ALGORITHMS[version]


def _key_bytes(key: int) -> bytes:
    return key.to_bytes(8, "big")


@lru_cache(maxsize=4096)
def _key_digest(key: int, version: int) -> bytes:
    return hashlib.new(_algorithm(version), _key_bytes(key)).digest()


def key_token(key: int, version: int = 1) -> int:
    """The 32-bit token of ``key``: the most significant 32 bits of its hash (RFC 8684 §3.1)."""
    return int.from_bytes(_key_digest(key, version)[:4], "big")


def key_idsn(key: int, version: int = 1) -> int:
    """The 64-bit initial data sequence number of ``key``: the low 64 bits of its hash (§3.1)."""
    return int.from_bytes(_key_digest(key, version)[-8:], "big")


def _hmac(key_local: int, key_remote: int, message: bytes, version: int) -> bytes:
    """HMAC keyed with ``key_local || key_remote`` (RFC 8684 §3.2 and §3.4.1)."""
    secret = _key_bytes(key_local) + _key_bytes(key_remote)
    return hmac.digest(secret, message, _algorithm(version))


def join_hmac(
    key_local: int, key_remote: int, nonce_local: int, nonce_remote: int, version: int = 1
) -> bytes:
    """The full MP_JOIN HMAC a host computes: key local||remote key, message local||remote nonce (§3.2).

    SHA-256 (32 bytes) for v1, SHA-1 (20 bytes) for v0.
    """
    message = nonce_local.to_bytes(4, "big") + nonce_remote.to_bytes(4, "big")
    return _hmac(key_local, key_remote, message, version)


def join_synack_hmac(key_b: int, key_a: int, nonce_b: int, nonce_a: int, version: int = 1) -> int:
    """The 64-bit truncated HMAC listener B puts in its SYN/ACK + MP_JOIN: the leftmost 64 bits (§3.2)."""
    return int.from_bytes(join_hmac(key_b, key_a, nonce_b, nonce_a, version)[:8], "big")


def join_ack_hmac(key_a: int, key_b: int, nonce_a: int, nonce_b: int, version: int = 1) -> bytes:
    """The 160-bit HMAC initiator A puts in its third ACK + MP_JOIN: the leftmost 20 bytes (§3.2)."""
    return join_hmac(key_a, key_b, nonce_a, nonce_b, version)[:20]


def add_addr_hmac(key_sender: int, key_receiver: int, address_id: int, address: str, port: int | None) -> int:
    """The 64-bit truncated HMAC of a v1 ADD_ADDR (RFC 8684 §3.4.1).

    HMAC-SHA256 keyed with sender's key || receiver's key over address ID (1 byte), the address (4 or 16
    bytes) and the port (2 bytes, zero when the option carries none).  The option carries the rightmost
    64 bits of it, as RFC 8684 §3.4.1 says and as Linux sends it (since its commit "mptcp: use the
    rightmost 64 bits of the HMAC for ADD_ADDR", v5.9).
    """
    message = bytes([address_id]) + ipaddress.ip_address(address).packed + (port or 0).to_bytes(2, "big")
    return int.from_bytes(_hmac(key_sender, key_receiver, message, 1)[-8:], "big")


def ones_complement_sum(data: bytes) -> int:
    """The 16-bit ones' complement sum of ``data`` as big-endian words, odd tail padded with zero (RFC 1071).

    Not complemented.  Computed as the whole buffer's integer value modulo 0xFFFF (2^16 = 1 modulo
    0xFFFF, so this adds the words with end-around carry); a non-zero buffer never sums to 0, only to
    0xFFFF, as the word-by-word sum does.
    """
    value = int.from_bytes(data + b"\0" if len(data) % 2 else data, "big")
    total = value % 0xFFFF
    return 0xFFFF if total == 0 and value else total


def _dss_pseudo_header(dsn: int, ssn: int, data_level_length: int, checksum: int) -> bytes:
    """RFC 8684 §3.3.1 Figure 10: 64-bit DSN, 32-bit relative SSN, data-level length, checksum field."""
    return (
        (dsn & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        + (ssn & 0xFFFFFFFF).to_bytes(4, "big")
        + data_level_length.to_bytes(2, "big")
        + checksum.to_bytes(2, "big")
    )


def dss_checksum(dsn: int, ssn: int, data_level_length: int, payload: bytes) -> int:
    """The value for the DSS checksum field of a mapping (RFC 8684 §3.3.1).

    The ones' complement of the ones' complement sum over the pseudo-header (64-bit ``dsn``, ``ssn``
    relative to the subflow's ISN, ``data_level_length``, a zero checksum field) and the ``payload``: all
    the bytes the mapping covers, possibly spread over several segments.
    """
    header = _dss_pseudo_header(dsn, ssn, data_level_length, 0)
    return ~ones_complement_sum(header + payload) & 0xFFFF


def dss_checksum_ok(dsn: int, ssn: int, data_level_length: int, payload: bytes, checksum: int) -> bool:
    """Whether ``checksum`` is right for the mapping: everything, checksum included, sums to 0xFFFF (§3.3.1).

    Both encodings of ones' complement zero (0x0000 and 0xFFFF) are accepted where they are equivalent.
    """
    header = _dss_pseudo_header(dsn, ssn, data_level_length, checksum)
    return ones_complement_sum(header + payload) == 0xFFFF
