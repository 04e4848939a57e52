"""``open_capture``: read a pcap or pcapng file (optionally gzip-compressed) as a stream of Segments.

The file is read in large chunks and decoded one record at a time, so memory does not grow with the
file.  Only an input that is not a capture at all raises (``CaptureError``, at open time); anything
wrong inside the file becomes a ``CaptureNote`` in ``reader.notes``.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from ..spec.segment import Segment
from .decode import PacketDecoder
from .linktypes import LinkDecoder, link_decoder
from .notes import CaptureError, CaptureNote, NoteKind, NoteLog
from .pcap import PCAP_MAGICS, PcapHeader, pcap_records, read_pcap_header
from .pcapng import SHB_MAGIC, check_section_header, first_linktype, pcapng_records
from .source import Input, RawRecord, Readable, Record, open_input

if TYPE_CHECKING:  # the native fast path may not be built; only its type is needed here
    from ._speedups import Batch

__all__ = ["CaptureReader", "Source", "open_capture"]


@runtime_checkable
class _Seekable(Protocol):
    """A stream that can go back to where the capture starts."""

    def seekable(self) -> bool: ...

    def tell(self) -> int: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


Source = str | os.PathLike[str] | Readable | BinaryIO
"""What ``open_capture`` accepts: a path, or a binary stream positioned at the start of the capture."""


@dataclass(frozen=True, slots=True)
class _Opened:
    """A stream whose file header has been read: the input and what the header said."""

    input: Input
    format: str
    pcap: PcapHeader | None
    linktype: int | None


def _prepare(stream: Readable | BinaryIO) -> _Opened:
    """Detect the format by its magic and read the file header; ``CaptureError`` if not a capture."""
    inp = open_input(stream)
    if not inp.fill(4):
        raise CaptureError(f"not a capture: only {inp.available} bytes")
    magic = inp.buf[inp.pos : inp.pos + 4]
    if magic in PCAP_MAGICS:
        header = read_pcap_header(inp)
        return _Opened(inp, "pcap", header, header.linktype)
    if magic == SHB_MAGIC:
        check_section_header(inp)
        return _Opened(inp, "pcapng", None, first_linktype(inp))
    raise CaptureError(f"not a pcap or pcapng capture (starts with 0x{magic.hex()})")


def _records(
    opened: _Opened, notes: NoteLog, batch: Batch | None = None
) -> Generator[RawRecord | Segment, None, int]:
    if opened.pcap is not None:
        return pcap_records(opened.input, opened.pcap, notes, batch)
    return pcapng_records(opened.input, notes, batch)


class CaptureReader:
    """One capture file.  Each call of ``records()`` or ``segments()`` reads it from the start.

    ``format`` is ``"pcap"`` or ``"pcapng"``; ``linktype`` the LINKTYPE_ value of the file (pcap) or
    of its first interface (pcapng; None if it has none).  After (or during) a pass, ``packets`` is the
    number of packet records read, ``non_tcp`` how many of them carried no TCP, and ``notes`` what the
    reader found wrong.  A stream that cannot seek can be read only once.
    """

    def __init__(self, source: Source) -> None:
        self.notes: list[CaptureNote] = []
        self.packets = 0
        self.non_tcp = 0
        self._path: str | os.PathLike[str] | None = None
        self._stream: Readable | BinaryIO | None = None
        self._rewind: _Seekable | None = None
        self._start = 0
        self._pending: _Opened | None = None
        if isinstance(source, str | os.PathLike):
            self._path = source
            with self._open_path() as file:
                opened = _prepare(file)
        else:
            self._stream = source
            if isinstance(source, _Seekable) and source.seekable():
                self._rewind, self._start = source, source.tell()
            opened = _prepare(source)
            if self._rewind is None:
                self._pending = opened
            else:
                self._rewind.seek(self._start)
        self.format = opened.format
        self.linktype = opened.linktype

    def _open_path(self) -> BinaryIO:
        assert self._path is not None
        try:
            return open(self._path, "rb")
        except OSError as exc:
            raise CaptureError(f"cannot open {os.fspath(self._path)!s}: {exc.strerror}") from exc

    def _pass(self, notes: NoteLog, batch: Batch | None = None) -> Iterator[RawRecord | Segment]:
        """The records of one pass from the start of the file; sets ``packets`` when it ends.  Raw
        records only, unless ``batch`` is the native fast path (then Segments among them)."""
        if self._path is not None:
            with self._open_path() as file:
                self.packets = yield from _records(_prepare(file), notes, batch)
            return
        assert self._stream is not None
        opened, self._pending = self._pending, None
        if opened is None:
            if self._rewind is None:
                raise ValueError("this capture comes from a stream that cannot seek and was already read")
            self._rewind.seek(self._start)
            opened = _prepare(self._stream)
        self.packets = yield from _records(opened, notes, batch)

    def _begin(self) -> NoteLog:
        log = NoteLog()
        self.notes, self.packets, self.non_tcp = log.notes, 0, 0
        return log

    def records(self) -> Iterator[Record]:
        """Every packet record, undecoded (see ``Record``)."""
        log = self._begin()
        frame = 0
        try:
            for raw in self._pass(log):
                assert not isinstance(raw, Segment)  # no fast path was asked for
                frame = raw[0]
                yield Record(*raw)
        finally:
            self.packets = max(self.packets, frame)
            log.close(self.packets)

    def segments(self, mptcp_only: bool = False) -> Iterator[Segment]:
        """Every TCP segment in capture order; with ``mptcp_only``, only those of MPTCP flows.

        A flow becomes an MPTCP flow at its first segment with an MPTCP option (kind 30); from then on
        all its segments are yielded in both directions, with or without options (fallback checks need
        them).
        """
        log = self._begin()
        decoder = PacketDecoder(log, mptcp_only=mptcp_only)
        decode, admit = decoder.decode, decoder.admit
        admitted = decoder.mptcp_flows if mptcp_only else None
        link: LinkDecoder | None = None
        unknown: set[tuple[int, int]] = set()
        frame, last = 0, (-1, -1)
        try:
            for item in self._pass(log, decoder.batch_decoder()):
                if isinstance(item, Segment):  # decoded by the native fast path
                    frame = item.frame
                    if admitted is None or (item.src, item.sport, item.dst, item.dport) in admitted:
                        yield item  # the usual case: a flow already known to be MPTCP, or no filter
                        continue
                    segment = admit(item)
                else:
                    frame, ts_ns, interface, linktype, data, _orig_len = item
                    if (interface, linktype) != last:
                        last, link = (interface, linktype), _link(log, unknown, frame, interface, linktype)
                    if link is None:
                        continue
                    off = link(data)
                    if off < 0:
                        decoder.non_tcp += 1
                        continue
                    segment = decode(frame, ts_ns / 1e9, data, off)
                if segment is not None:
                    held = decoder.take_held()
                    if held is not None:
                        yield held
                    yield segment
        finally:
            self.packets, self.non_tcp = max(self.packets, frame), decoder.non_tcp
            log.close(self.packets)


def _link(
    log: NoteLog, unknown: set[tuple[int, int]], frame: int, interface: int, linktype: int
) -> LinkDecoder | None:
    """The link decoder for an interface, or None after noting (once) that its link type is unsupported."""
    link = link_decoder(linktype)
    if link is None and (interface, linktype) not in unknown:
        unknown.add((interface, linktype))
        log.add(
            frame, NoteKind.UNKNOWN_LINKTYPE, f"interface {interface}: link type {linktype} not supported"
        )
    return link


def open_capture(source: Source) -> CaptureReader:
    """Open a pcap or pcapng capture (plain or gzip) from a path or a binary file object.

    Raises ``CaptureError`` when the input cannot be opened or is not a capture (unknown magic, file
    header cut short); nothing else raises later while reading.
    """
    return CaptureReader(source)
