"""Laws of the modular sequence arithmetic in mptcpspec.spec.seqnum."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mptcpspec.spec.seqnum import infer_dsn64, seq_add, seq_diff, seq_le, seq_lt

U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
BITS = st.sampled_from([32, 64])


@pytest.mark.parametrize(
    ("a", "b", "bits", "expected"),
    [
        (2**32 - 1, 1, 32, 0),
        (0, -1, 32, 2**32 - 1),
        (2**64 - 2, 5, 64, 3),
        (10, 20, 32, 30),
    ],
)
def test_seq_add_wraps(a: int, b: int, bits: int, expected: int) -> None:
    assert seq_add(a, b, bits) == expected


@pytest.mark.parametrize(
    ("a", "b", "bits", "expected"),
    [
        (5, 2**32 - 5, 32, 10),  # across the 2^32 wrap, forwards
        (2**32 - 5, 5, 32, -10),  # and backwards
        (3, 2**64 - 4, 64, 7),
        (2**31, 0, 32, -(2**31)),  # exactly half way: the negative end of the range
        (7, 7, 32, 0),
    ],
)
def test_seq_diff_is_the_shortest_signed_distance(a: int, b: int, bits: int, expected: int) -> None:
    assert seq_diff(a, b, bits) == expected


def test_ordering_across_the_wrap() -> None:
    assert seq_lt(2**32 - 1, 0)
    assert not seq_lt(0, 2**32 - 1)
    assert seq_le(5, 5) and not seq_lt(5, 5)
    assert seq_lt(2**64 - 1, 3, bits=64)


@given(U64, U64, BITS)
def test_add_and_diff_are_inverse(a: int, b: int, bits: int) -> None:
    a &= (1 << bits) - 1
    b &= (1 << bits) - 1
    d = seq_diff(a, b, bits)
    assert -(1 << (bits - 1)) <= d < (1 << (bits - 1))
    assert seq_add(b, d, bits) == a
    assert seq_diff(seq_add(b, d, bits), b, bits) == d


@given(U32, U32)
def test_lt_is_antisymmetric_except_at_half_distance(a: int, b: int) -> None:
    if a != b and seq_diff(a, b) != -(2**31):
        assert seq_lt(a, b) != seq_lt(b, a)


@given(U64, st.integers(-(2**31), 2**31 - 1))
@example(2**32 - 3, 10)  # the true DSN crosses 2^32
@example(2**32 + 3, -10)  # the true DSN is below 2^32, near above it
@example(2**64 - 3, 10)  # the true DSN wraps past 2^64 to a small value
@example(5, -10)  # near is small, the true DSN is just below 2^64
def test_infer_dsn64_recovers_any_dsn_within_2_31_of_near(near: int, offset: int) -> None:
    true_dsn = seq_add(near, offset, bits=64)
    assert infer_dsn64(true_dsn & 0xFFFFFFFF, near) == true_dsn


def test_infer_dsn64_picks_the_closer_candidate() -> None:
    near = 0x0000_0005_FFFF_FFF0
    assert infer_dsn64(0x10, near) == 0x0000_0006_0000_0010
    assert infer_dsn64(0xFFFF_FF00, near) == 0x0000_0005_FFFF_FF00
    assert infer_dsn64(0x10, 2**64 - 0x20) == 0x10
