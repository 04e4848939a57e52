"""The TCP options field of the reference endpoint.

``tcp_options`` lays out what the endpoint sends (MSS and window scale on SYNs, then the MPTCP options,
NOP-padded to a multiple of four, RFC 9293 §3.1); ``peer_mss`` and ``peer_wscale`` read the peer's.
Packets (IP headers, checksums) are the capture package's business: ``mptcpspec.capture.tun``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..spec.options import MptcpOption, serialize

__all__ = ["peer_mss", "peer_wscale", "tcp_options"]

MSS_KIND = 2
WSCALE_KIND = 3
MAX_OPTIONS = 40


def tcp_options(mss: int | None, mptcp: Sequence[MptcpOption], wscale: int | None = None) -> bytes:
    """The TCP options field: MSS and window scale (when given, RFC 7323 §2), the MPTCP options, and
    NOPs to a 4-byte boundary."""
    raw = struct.pack("!BBH", MSS_KIND, 4, mss) if mss is not None else b""
    raw += struct.pack("!BBB", WSCALE_KIND, 3, wscale) if wscale is not None else b""
    raw += b"".join(serialize(option) for option in mptcp)
    raw = b"\x01" * (-len(raw) % 4) + raw
    if len(raw) > MAX_OPTIONS:
        raise ValueError(f"TCP options need {len(raw)} bytes, at most {MAX_OPTIONS} fit")
    return raw


def _option_body(raw: bytes, kind: int) -> bytes | None:
    """The body of the first TCP option of ``kind`` in an options field, if there is one."""
    offset = 0
    while offset < len(raw) and raw[offset] != 0:
        if raw[offset] == 1:
            offset += 1
            continue
        if offset + 1 >= len(raw) or raw[offset + 1] < 2:
            return None
        if raw[offset] == kind:
            return raw[offset + 2 : offset + raw[offset + 1]]
        offset += raw[offset + 1]
    return None


def peer_mss(raw: bytes) -> int | None:
    """The MSS option's value in a TCP options field, if there is one."""
    body = _option_body(raw, MSS_KIND)
    return int.from_bytes(body, "big") if body is not None and len(body) == 2 else None


def peer_wscale(raw: bytes) -> int | None:
    """The window scale option's shift count (at most 14, RFC 7323 §2.3), if there is one."""
    body = _option_body(raw, WSCALE_KIND)
    return min(body[0], 14) if body is not None and len(body) == 1 else None
