"""Byte input for the capture reader: large buffered reads, gzip detection, the record tuple.

The readers in ``pcap`` and ``pcapng`` walk ``Input.buf`` with ``struct.unpack_from`` and ask for more
bytes only when a record crosses the end of the buffer, so memory stays at about one chunk whatever
the size of the file.
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO, NamedTuple, Protocol

from .notes import CaptureError

__all__ = ["CHUNK", "MAX_RECORD", "Input", "RawRecord", "Readable", "Record", "open_input"]

CHUNK = 1 << 20
"""Bytes read from the file at a time."""

MAX_RECORD = 1 << 24
"""Largest record or block accepted (16 MiB, as Wireshark); anything larger is garbage."""

_GZIP_MAGIC = b"\x1f\x8b"

RawRecord = tuple[int, int, int, int, bytes, int]
"""(frame, ts_ns, interface, linktype, data, orig_len): the readers' fast internal record form."""


class Record(NamedTuple):
    """One packet record as stored in the capture, before any decoding.

    ``frame`` is the 1-based packet number, ``ts_ns`` the timestamp in nanoseconds since the epoch,
    ``interface`` the pcapng interface index (0 for pcap), ``linktype`` the LINKTYPE_ value of that
    interface, ``data`` the captured bytes and ``orig_len`` the packet's length on the wire.
    """

    frame: int
    ts_ns: int
    interface: int
    linktype: int
    data: bytes
    orig_len: int

    @property
    def time(self) -> float:
        """Seconds since the epoch."""
        return self.ts_ns / 1e9


class Readable(Protocol):
    """Anything with a binary ``read``: an open file, ``io.BytesIO``, a pipe."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Prefixed:
    """A stream with bytes already read from it put back in front (for non-seekable inputs)."""

    def __init__(self, prefix: bytes, stream: Readable) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._stream.read(size)
        head = self._prefix
        if 0 <= size <= len(head):
            self._prefix = head[size:]
            return head[:size]
        self._prefix = b""
        return head + self._stream.read(size - len(head) if size >= 0 else -1)


class Input:
    """A read buffer over a stream: ``buf[pos:]`` are the bytes not consumed yet."""

    def __init__(self, stream: Readable) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.eof = False

    @property
    def available(self) -> int:
        return len(self.buf) - self.pos

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos`` on; False when the stream ends first."""
        while len(self.buf) - self.pos < need and not self.eof:
            try:
                chunk = self.stream.read(max(CHUNK, need))
            except (OSError, EOFError, zlib.error):
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return len(self.buf) - self.pos >= need


def open_input(stream: Readable | BinaryIO) -> Input:
    """Wrap ``stream`` in an ``Input``, decompressing it when it starts with the gzip magic."""
    try:
        head = stream.read(2)
    except OSError as exc:
        raise CaptureError(f"cannot read the capture: {exc}") from exc
    rest = _Prefixed(head, stream)
    if head != _GZIP_MAGIC:
        return Input(rest)
    # GzipFile's stub asks for seek(), which it only uses to rewind; the reader never rewinds it.
    return Input(gzip.GzipFile(fileobj=rest, mode="rb"))  # type: ignore[call-overload]
