"""The data sequence model of one direction (RFC 8684 §3.3): DSN inference, payload memory, guards."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mptcpspec.spec import crypto
from mptcpspec.spec.mapping import (
    MAX_STORED_BYTES,
    DataDirection,
    check_checksum,
    check_data_consistent,
    check_mapping_consistent,
    relative,
)
from mptcpspec.spec.seqnum import infer_dsn64


@given(st.integers(0, 2**64 - 1), st.integers(-(2**30), 2**30))
def test_expand_agrees_with_seqnum(top: int, delta: int) -> None:
    flow = DataDirection("A>B")
    flow.top = top
    value = (top + delta) % 2**64
    assert flow.expand(value & 0xFFFFFFFF, wide=False) == infer_dsn64(value & 0xFFFFFFFF, top) == value


def test_expand_without_anchor_and_with_idsn() -> None:
    flow = DataDirection("A>B")
    assert flow.expand(0x1234, wide=False) == 0x1234
    flow.set_idsn(0xFFFF_FFFF_FFFF_FFF0)
    assert flow.base == 0xFFFF_FFFF_FFFF_FFF1
    assert flow.expand(0x5, wide=False) == 0x5  # wrapped past 2^64
    assert flow.expand(0xABCDEF, wide=True) == 0xABCDEF


def test_expand_near_the_data_fin_when_no_data_was_seen() -> None:
    flow = DataDirection("B>A")
    flow.fin = 0x857C_81B1_6824_8CFF
    assert flow.expand(0x6824_8B0B, wide=False) == 0x857C_81B1_6824_8B0B


def test_relative_is_signed_64_bit() -> None:
    assert relative(5, 2**64 - 5) == 10 and relative(2**64 - 5, 5) == -10


def test_advance_tells_data_sent_again_and_counts_data_bytes() -> None:
    flow = DataDirection("B>A")
    flow.set_idsn(1000)
    assert not flow.advance(1001, 1101)
    assert flow.advance(1001, 1051)  # a reinjection of old data
    assert not flow.advance(1101, 1201)
    assert flow.data_bytes() == 200


def test_interleaved_subflows_are_not_data_sent_again() -> None:
    flow = DataDirection("A>B")
    flow.set_idsn(0)
    assert not flow.advance(3001, 4001)  # subflow 2 runs ahead
    assert not flow.advance(1, 1001)  # subflow 1 sends the start: below the top, but new
    assert not flow.advance(1001, 3001)  # and fills the gap
    assert flow.advance(2000, 2100)  # now anything in [1, 4001) is sent again
    assert not flow.advance(4001, 4002)
    assert (flow.sent_starts, flow.sent_ends) == ([0], [4001])


def test_sent_ranges_stay_bounded() -> None:
    flow = DataDirection("A>B")
    flow.set_idsn(0)
    for i in range(200):  # every other kilobyte: 200 disjoint ranges
        assert not flow.advance(1 + 2000 * i, 1001 + 2000 * i)
    assert len(flow.sent_starts) <= 65
    assert flow.advance(2000 * 199 + 1, 2000 * 199 + 11)  # the newest range is still known exactly


def test_stored_payload_finds_the_first_difference() -> None:
    flow = DataDirection("A>B")
    flow.store(100, b"abcdef")
    flow.store(106, b"ghij")
    assert flow.stored_overlap(103, b"defghi") is None
    assert flow.stored_overlap(104, b"eXgh") == (105, b"f", b"X")
    flow.forget_below(106)
    assert flow.chunk_starts == [106]
    assert flow.stored_overlap(100, b"zzzzzz") is None  # forgotten bytes cannot be compared


def test_stored_payload_is_bounded() -> None:
    flow = DataDirection("A>B")
    chunk = bytes(64 * 1024)
    for i in range(MAX_STORED_BYTES // len(chunk) + 10):
        flow.store(i * len(chunk), chunk)
    assert flow.stored <= MAX_STORED_BYTES


def test_guards() -> None:
    assert check_mapping_consistent(100 - 1, 100 - 1) and not check_mapping_consistent(99, 104)
    assert check_data_consistent(b"ab", b"ab") and not check_data_consistent(b"ab", b"aB")
    csum = crypto.dss_checksum(2**40, 1, 4, b"data")
    assert check_checksum(2**40, 1, 4, b"data", csum) and not check_checksum(2**40, 1, 4, b"dat4", csum)
