"""Shared pieces of the option codecs: header bytes, field range checks, length errors.

A parser receives the whole option, already checked to be kind 30 with a length byte equal to
``len(data) >= 3``, plus that length, the low nibble of byte 2 and the caller's version hint (used by
ADD_ADDR only).  A serializer checks every field it encodes and raises ValueError naming the field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..errors import BadLength
from ._types import MPTCP_KIND, MptcpOption, Subtype

__all__ = ["U16", "U64", "Parser", "bad_length", "head", "uint"]

Parser = Callable[[bytes, int, int, "int | None"], MptcpOption]

U16 = struct.Struct(">H")
U64 = struct.Struct(">Q")


def head(subtype: Subtype, low: int, length: int) -> bytes:
    """Kind, length and the subtype byte of an option of ``length`` bytes."""
    if length > 255:
        raise ValueError(f"{subtype.name} option of {length} bytes does not fit a one-byte length")
    return bytes((MPTCP_KIND, length, subtype << 4 | low))


def uint(field: str, value: int | None, bits: int) -> int:
    """``value`` if it is an unsigned integer of at most ``bits`` bits, else a ValueError naming ``field``."""
    if value is None or not 0 <= value < 1 << bits:
        raise ValueError(f"{field}={value!r} is not an unsigned {bits}-bit integer")
    return value


def bad_length(subtype: Subtype, length: int, section: str, detail: str) -> BadLength:
    """A BadLength whose message starts with the subtype name and the length: ``DSS length 9 ...``."""
    return BadLength(
        f"{subtype.name} length {length} {detail}", subtype=int(subtype), length=length, section=section
    )
