"""Capture input and output: pcap/pcapng (plain or gzip) -> ``Segment``s, and Segments -> pcap.

``open_capture(path)`` returns a ``CaptureReader``; ``reader.segments()`` yields every TCP segment
with its parsed MPTCP options; ``reader.notes`` lists what was wrong with the file.  ``writer`` builds
captures from crafted Segments and copies captures to annotated pcapng.
"""

from __future__ import annotations

from .linktypes import LINKTYPE_NAMES
from .notes import CaptureError, CaptureNote, NoteKind
from .reader import CaptureReader, open_capture
from .source import Record

__all__ = [
    "LINKTYPE_NAMES",
    "CaptureError",
    "CaptureNote",
    "CaptureReader",
    "NoteKind",
    "Record",
    "open_capture",
]
