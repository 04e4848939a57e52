"""mptcpspec.spec.crypto against independent computations, tshark, and MP_JOINs of other stacks' captures.

The kernel's own values are checked in test_crypto_kernel.py.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from public_traces import PUBLIC

from mptcpspec.capture import open_capture
from mptcpspec.spec.crypto import (
    add_addr_hmac,
    dss_checksum,
    dss_checksum_ok,
    join_ack_hmac,
    join_hmac,
    join_synack_hmac,
    key_idsn,
    key_token,
    ones_complement_sum,
)
from mptcpspec.spec.options import MpCapable, MpJoinAck, MpJoinSyn, MpJoinSynAck
from mptcpspec.spec.segment import Segment

KEYS = [0, 1, 0x0123456789ABCDEF, 2**64 - 1]
HASHES = {0: hashlib.sha1, 1: hashlib.sha256}
U64 = st.integers(0, 2**64 - 1)
U32 = st.integers(0, 2**32 - 1)
U16 = st.integers(0, 2**16 - 1)


def be(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def public_frames(name: str, frames: tuple[int, ...]) -> list[Segment]:
    """The given frames of a public capture, read with the project's own reader (skip when absent)."""
    path = PUBLIC / name
    if not path.exists():
        pytest.skip(f"public capture {path} is not on this machine")
    by_frame = {s.frame: s for s in open_capture(path).segments() if s.frame in frames}
    return [by_frame[frame] for frame in frames]


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("key", KEYS)
def test_token_and_idsn_are_the_ends_of_the_key_hash(key: int, version: int) -> None:
    digest = HASHES[version](be(key, 8)).digest()
    assert key_token(key, version) == int.from_bytes(digest[:4], "big")
    assert key_idsn(key, version) == int.from_bytes(digest[-8:], "big")


# Read once with `tshark -o mptcp.analyze_mptcp:TRUE -T fields -e tcp.options.mptcp.sendkey
# -e mptcp.expected_token -e mptcp.expected_idsn` from the tcpdump project's mptcp-v0.pcap and mptcp-v1.pcap.
TSHARK_TOKENS = [
    # (file, frame, version, key, tshark's token, tshark's IDSN)
    (
        "the-tcpdump-group__tcpdump__mptcp-v0.pcap",
        1,
        0,
        11285646634205721522,
        2945910507,
        10975753215851282121,
    ),
    (
        "the-tcpdump-group__tcpdump__mptcp-v0.pcap",
        2,
        0,
        10843866842831127890,
        3833528642,
        16464867208451421327,
    ),
    (
        "the-tcpdump-group__tcpdump__mptcp-v1.pcap",
        2,
        1,
        3001306557161771836,
        2740809090,
        11713449205243392241,
    ),
    ("the-tcpdump-group__tcpdump__mptcp-v1.pcap", 3, 1, 2295531734017261039, 597671344, 14413541604287230029),
]


@pytest.mark.parametrize(("name", "frame", "version", "key", "token", "idsn"), TSHARK_TOKENS)
def test_token_and_idsn_agree_with_tshark(
    name: str, frame: int, version: int, key: int, token: int, idsn: int
) -> None:
    assert (key_token(key, version), key_idsn(key, version)) == (token, idsn)


@pytest.mark.parametrize(("name", "frame", "version", "key", "token", "idsn"), TSHARK_TOKENS)
def test_pinned_keys_are_the_ones_in_the_captures(
    name: str, frame: int, version: int, key: int, token: int, idsn: int
) -> None:
    """Ties the pinned tshark values to the public captures, read with the project's own reader."""
    (segment,) = public_frames(name, (frame,))
    keys = [o.sender_key for o in segment.mptcp if isinstance(o, MpCapable)]
    assert keys == [key]
    assert next(o.version for o in segment.mptcp if isinstance(o, MpCapable)) == version


@dataclass(frozen=True, slots=True)
class CapturedJoin:
    """An MP_JOIN handshake of another stack, its values read with tshark (tcp.options.mptcp.sendkey,
    .recvkey, .recvtok, .sendrand, .sendtrunchmac, .sendhmac) from ``frames``: the MP_CAPABLE third
    ACK (both keys), the join SYN, SYN/ACK and third ACK."""

    name: str
    frames: tuple[int, int, int, int]
    version: int
    key_a: int
    key_b: int
    token_b: int
    nonce_a: int
    nonce_b: int
    synack_hmac: int
    ack_hmac: str

    def __str__(self) -> str:
        return f"v{self.version}-{self.name}"


CAPTURED_JOINS = [
    CapturedJoin(
        "DomenicoVerde__MPTCProxy__mptcp.pcap", (15, 20, 21, 22), 1, 5724018413140162355,
        1151712343762428053, 1704807344, 4137449512, 3960383013, 5953596786353803493,
        "62ae1b34fcfc3d4a784917421b8bc48af2d91ca7",
    ),
    CapturedJoin(
        "teto__pymptcpanalyzer__client_2.pcap", (6, 18, 24, 26), 0, 14568871653868829995,
        12070231261294881532, 804647408, 2527314580, 252493897, 9512585297590371660,
        "66e36626703eacb8f72ec5be13f8c4ef4f6d4dd8",
    ),
]  # fmt: skip


@pytest.mark.parametrize("join", CAPTURED_JOINS, ids=str)
def test_join_hmacs_of_captured_handshakes(join: CapturedJoin) -> None:
    assert key_token(join.key_b, join.version) == join.token_b
    assert (
        join_synack_hmac(join.key_b, join.key_a, join.nonce_b, join.nonce_a, join.version) == join.synack_hmac
    )
    assert (
        join_ack_hmac(join.key_a, join.key_b, join.nonce_a, join.nonce_b, join.version).hex() == join.ack_hmac
    )


@pytest.mark.parametrize("join", CAPTURED_JOINS, ids=str)
def test_pinned_join_values_are_the_ones_in_the_captures(join: CapturedJoin) -> None:
    mpc, syn, synack, ack = (segment.mptcp[0] for segment in public_frames(join.name, join.frames))
    assert isinstance(mpc, MpCapable) and (mpc.sender_key, mpc.receiver_key) == (join.key_a, join.key_b)
    assert isinstance(syn, MpJoinSyn) and (syn.token, syn.nonce) == (join.token_b, join.nonce_a)
    assert isinstance(synack, MpJoinSynAck)
    assert (synack.truncated_hmac, synack.nonce) == (join.synack_hmac, join.nonce_b)
    assert isinstance(ack, MpJoinAck) and ack.hmac.hex() == join.ack_hmac


@pytest.mark.parametrize("version", [0, 1])
@given(key_a=U64, key_b=U64, nonce_a=U32, nonce_b=U32)
def test_join_hmacs_match_hmac_module(
    version: int, key_a: int, key_b: int, nonce_a: int, nonce_b: int
) -> None:
    name = HASHES[version]().name
    full_b = hmac.new(be(key_b, 8) + be(key_a, 8), be(nonce_b, 4) + be(nonce_a, 4), name).digest()
    full_a = hmac.new(be(key_a, 8) + be(key_b, 8), be(nonce_a, 4) + be(nonce_b, 4), name).digest()
    assert join_hmac(key_b, key_a, nonce_b, nonce_a, version) == full_b
    assert join_synack_hmac(key_b, key_a, nonce_b, nonce_a, version) == int.from_bytes(full_b[:8], "big")
    assert join_ack_hmac(key_a, key_b, nonce_a, nonce_b, version) == full_a[:20]


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 2"):
        key_token(1, version=2)


@pytest.mark.parametrize(
    ("address", "port", "message_tail"),
    [
        ("10.231.1.2", None, bytes([10, 231, 1, 2, 0, 0])),
        ("10.231.1.2", 8080, bytes([10, 231, 1, 2, 0x1F, 0x90])),
        ("2001:db8::1", 443, bytes.fromhex("20010db8000000000000000000000001") + b"\x01\xbb"),
    ],
)
def test_add_addr_hmac_is_rightmost_64_bits(address: str, port: int | None, message_tail: bytes) -> None:
    key_sender, key_receiver, address_id = 0x1122334455667788, 0x99AABBCCDDEEFF00, 7
    full = hmac.new(be(key_sender, 8) + be(key_receiver, 8), bytes([address_id]) + message_tail, "sha256")
    expected = int.from_bytes(full.digest()[-8:], "big")
    assert add_addr_hmac(key_sender, key_receiver, address_id, address, port) == expected
    assert add_addr_hmac(key_receiver, key_sender, address_id, address, port) != expected


def reference_sum(data: bytes) -> int:
    """RFC 1071 word by word, end-around carry: the slow reference for ones_complement_sum."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


@given(st.binary(max_size=300))
@example(b"")
@example(b"\xff\xff")
@example(b"\xff\xff\xff\xff")
@example(b"\x00\x00\x00")
@example(b"\x80")
def test_ones_complement_sum_matches_word_by_word(data: bytes) -> None:
    assert ones_complement_sum(data) == reference_sum(data)


def test_dss_checksum_known_answer() -> None:
    # RFC 8684 §3.3.1 Figure 10 pseudo-header followed by the payload, summed by hand:
    # words 0001 0000 0000 0002 | 0000 0003 | 0004 | 0000 | "ab" = 6162 -> sum 0x616c, checksum 0x9e93.
    assert dss_checksum(0x0001_0000_0000_0002, 3, 4, b"ab") == 0x9E93
    assert dss_checksum_ok(0x0001_0000_0000_0002, 3, 4, b"ab", 0x9E93)


def test_data_fin_without_data_covers_the_pseudo_header_only() -> None:
    """RFC 8684 §3.3: a lone DATA_FIN has SSN 0, length 1, and a checksum over the pseudo-header."""
    header = be(2**40, 8) + be(0, 4) + be(1, 2) + be(0, 2)
    assert dss_checksum(2**40, 0, 1, b"") == ~reference_sum(header) & 0xFFFF


@given(dsn=U64, ssn=U32, length=U16, payload=st.binary(max_size=200))
def test_dss_checksum_verifies(dsn: int, ssn: int, length: int, payload: bytes) -> None:
    assert dss_checksum_ok(dsn, ssn, length, payload, dss_checksum(dsn, ssn, length, payload))


@given(dsn=U64, ssn=U32, length=U16, payload=st.binary(min_size=1, max_size=200), data=st.data())
def test_one_flipped_payload_bit_breaks_the_checksum(
    dsn: int, ssn: int, length: int, payload: bytes, data: st.DataObject
) -> None:
    checksum = dss_checksum(dsn, ssn, length, payload)
    bit = data.draw(st.integers(0, len(payload) * 8 - 1), label="bit")
    corrupted = bytearray(payload)
    corrupted[bit // 8] ^= 0x80 >> (bit % 8)
    assert not dss_checksum_ok(dsn, ssn, length, bytes(corrupted), checksum)


@given(dsn=U64, ssn=U32, length=U16, payload=st.binary(max_size=50), bit=st.integers(0, 111))
def test_one_flipped_pseudo_header_bit_breaks_the_checksum(
    dsn: int, ssn: int, length: int, payload: bytes, bit: int
) -> None:
    checksum = dss_checksum(dsn, ssn, length, payload)
    fields = (dsn << 48) | (ssn << 16) | length  # the 112 bits of DSN, SSN and length
    flipped = fields ^ (1 << bit)
    assert not dss_checksum_ok(
        flipped >> 48, (flipped >> 16) & 0xFFFFFFFF, flipped & 0xFFFF, payload, checksum
    )
