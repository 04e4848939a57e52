"""Fuzz invariant of the option parser (h11's rule): any bytes either parse or raise OptionError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mptcpspec.conformance.strategies import option_bytes
from mptcpspec.spec.errors import OptionError
from mptcpspec.spec.options import MPTCP_KIND, parse, scan_tcp_options, serialize

FUZZ = settings(max_examples=1500, deadline=None)


def _parse_or_option_error(data: bytes, version: int | None) -> None:
    """Parse ``data``; an OptionError is a fine outcome, and what parses must serialize back to ``data``."""
    try:
        option = parse(data, version=version)
    except OptionError as error:
        assert error.message
        return
    assert serialize(option) == data


@st.composite
def mutated_option(draw: st.DrawFn) -> bytes:
    """A well-formed option with some bytes flipped, cut off or appended (lengths and flags included)."""
    data = bytearray(draw(option_bytes()))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=4))


@FUZZ
@given(st.binary(max_size=48), st.sampled_from((None, 0, 1)))
def test_arbitrary_bytes_parse_or_raise_option_error(data: bytes, version: int | None) -> None:
    _parse_or_option_error(data, version)


@FUZZ
@given(st.binary(max_size=46), st.sampled_from((None, 0, 1)))
def test_arbitrary_mptcp_headers_parse_or_raise_option_error(body: bytes, version: int | None) -> None:
    _parse_or_option_error(bytes((MPTCP_KIND, len(body) + 2)) + body, version)


@FUZZ
@given(mutated_option(), st.sampled_from((None, 0, 1)))
def test_mutated_options_parse_or_raise_option_error(data: bytes, version: int | None) -> None:
    _parse_or_option_error(data, version)


@FUZZ
@given(st.lists(mutated_option() | st.binary(max_size=6) | st.just(b"\x01"), max_size=6))
def test_scan_never_raises_and_every_error_is_an_option_error(pieces: list[bytes]) -> None:
    options, errors = scan_tcp_options(b"".join(pieces))
    assert all(isinstance(error, OptionError) for error in errors)
    assert all(serialize(option) in b"".join(pieces) for option in options)
