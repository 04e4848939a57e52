"""Modular sequence-number arithmetic for subflow (32-bit) and data (64-bit) sequence spaces.

TCP sequence numbers wrap at 2^32 (RFC 9293 §3.4); MPTCP data sequence numbers wrap at 2^64 and may be
sent as their low 32 bits only (RFC 8684 §3.3, the DSS ``m`` and ``a`` flags), in which case the
receiver rebuilds the full value from the one it expects, as ``infer_dsn64`` does.
"""

from __future__ import annotations

__all__ = ["infer_dsn64", "seq_add", "seq_diff", "seq_le", "seq_lt"]


def seq_add(a: int, b: int, bits: int = 32) -> int:
    """``a + b`` in a sequence space of ``bits`` bits (``b`` may be negative)."""
    return (a + b) & ((1 << bits) - 1)


def seq_diff(a: int, b: int, bits: int = 32) -> int:
    """Signed shortest distance from ``b`` to ``a``: the ``d`` in [-2^(bits-1), 2^(bits-1)) with b + d = a.

    So ``seq_add(b, seq_diff(a, b)) == a`` for any ``a``, ``b`` in the space.
    """
    half = 1 << (bits - 1)
    return ((a - b + half) & ((1 << bits) - 1)) - half


def seq_lt(a: int, b: int, bits: int = 32) -> bool:
    """``a`` comes strictly before ``b`` (the distance from ``b`` to ``a`` is negative)."""
    return seq_diff(a, b, bits) < 0


def seq_le(a: int, b: int, bits: int = 32) -> bool:
    """``a`` comes before ``b`` or equals it."""
    return seq_diff(a, b, bits) <= 0


def infer_dsn64(dsn32: int, near: int) -> int:
    """The 64-bit DSN whose low 32 bits are ``dsn32`` and which lies closest to ``near`` (RFC 8684 §3.3).

    ``near`` is the 64-bit value the receiver expects (for example the next DSN it awaits); the result
    wraps at 2^64, so a ``near`` just below 2^64 and a small ``dsn32`` give a small DSN.
    """
    return seq_add(near, seq_diff(dsn32, near & 0xFFFFFFFF), bits=64)
