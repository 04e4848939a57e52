"""What the capture reader tells about a file besides its segments: the error and the notes.

``CaptureError`` is raised at open time only, for a file that is not a capture at all.  Everything the
reader finds wrong later (a cut record, an unknown link type, an IP fragment) becomes a ``CaptureNote``
and reading goes on, or stops cleanly at the last good record.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..spec.errors import MptcpError

__all__ = ["CaptureError", "CaptureNote", "NoteKind", "NoteLog"]

NOTES_PER_KIND = 1000
"""After this many notes of one kind, further ones are only counted (a summary note says how many)."""


class CaptureError(MptcpError):
    """The input is not a pcap or pcapng capture (unknown magic or unreadable file header)."""


class NoteKind(enum.StrEnum):
    """The kinds of capture notes; ``CaptureNote.kind`` holds one of these values."""

    TRUNCATED_RECORD = "truncated-record"
    """The file ends inside a record (or block): the record is dropped."""
    GARBAGE_RECORD = "garbage-record"
    """A record or block header that cannot be right (absurd length, unknown interface)."""
    HEADER_CUT = "header-cut"
    """The capture kept too few bytes for the IP or TCP header: the packet is skipped."""
    UNKNOWN_LINKTYPE = "unknown-linktype"
    """A link type the reader cannot decode: that interface's packets are skipped."""
    IP_FRAGMENT = "ip-fragment"
    """An IP fragment: a first fragment is decoded from its TCP header, later ones are skipped."""
    BAD_IP_HEADER = "bad-ip-header"
    """An IP header length or total length that cannot be right: the packet is skipped."""
    BAD_TCP_HEADER = "bad-tcp-header"
    """A TCP data offset below 20 or beyond the IP payload: the packet is skipped."""
    IP_LENGTH_ZERO = "ip-length-zero"
    """IP length field 0 (TSO/GSO capture, jumbogram): the captured length is used instead."""
    NO_TIMESTAMP = "no-timestamp"
    """pcapng Simple Packet Blocks have no timestamp: they get the time of the packet before."""
    SUPPRESSED = "suppressed"
    """Summary of notes left out after ``NOTES_PER_KIND`` of one kind."""


@dataclass(frozen=True, slots=True)
class CaptureNote:
    """One remark about the capture: the 1-based ``frame`` it concerns, a ``kind`` and a message."""

    frame: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"frame {self.frame}: {self.kind}: {self.message}"


class NoteLog:
    """Collects notes, keeping at most ``NOTES_PER_KIND`` of each kind so memory stays bounded."""

    def __init__(self) -> None:
        self.notes: list[CaptureNote] = []
        self._counts: dict[str, int] = {}

    def add(self, frame: int, kind: NoteKind, message: str) -> None:
        """Record a note, or only count it when its kind is already full."""
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count <= NOTES_PER_KIND:
            self.notes.append(CaptureNote(frame, kind.value, message))

    def close(self, frame: int) -> None:
        """Append one summary note per kind that overflowed; ``frame`` is the last frame read."""
        for kind, count in self._counts.items():
            if count > NOTES_PER_KIND:
                extra = count - NOTES_PER_KIND
                self.notes.append(CaptureNote(frame, NoteKind.SUPPRESSED.value, f"{extra} more {kind} notes"))
