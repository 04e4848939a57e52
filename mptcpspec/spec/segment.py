"""The ``Segment``: one TCP segment as seen on the wire, the unit every part of mptcpspec works on.

Built by ``mptcpspec.capture`` from pcaps, by the reference endpoint from what it sends and receives,
and by the active suite from what it injects.  Immutable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OptionError
from .options import MptcpOption

__all__ = ["ACK", "CWR", "ECE", "FIN", "PSH", "RST", "SYN", "URG", "Segment", "flags_text"]

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

_FLAG_LETTERS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."), (URG, "U"), (ECE, "E"), (CWR, "W"))


def flags_text(flags: int) -> str:
    """tcpdump-style flag letters: ``S`` SYN, ``F`` FIN, ``R`` RST, ``P`` PSH, ``.`` ACK, ..."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "none"


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment.

    ``payload_len`` is the TCP payload length the IP header announces; ``payload`` holds the bytes the
    capture kept, which may be fewer (snaplen).  ``mptcp`` holds the parsed MPTCP options (kind 30) in
    the order they appear; ``option_errors`` the options that did not parse, each a typed
    ``OptionError``.  ``frame`` is the 1-based packet number in the capture (0 when not from a capture),
    ``time`` seconds since the epoch.
    """

    frame: int
    time: float
    ip_version: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload_len: int
    payload: bytes = b""
    tcp_options: bytes = b""
    mptcp: tuple[MptcpOption, ...] = ()
    option_errors: tuple[OptionError, ...] = ()

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)

    @property
    def payload_complete(self) -> bool:
        """True when the capture kept every payload byte (needed for DSS checksums, data checks)."""
        return len(self.payload) >= self.payload_len

    @property
    def flow(self) -> tuple[str, int, str, int]:
        """The 4-tuple as sent: (src, sport, dst, dport)."""
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def seq_space(self) -> int:
        """Sequence space the segment occupies: payload plus one for SYN and one for FIN."""
        return self.payload_len + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)
