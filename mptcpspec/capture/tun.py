"""A TUN device: raw IP packets in and out of a network namespace, and their ``Segment`` forms.

``TunDevice.open(name, netns=...)`` creates a TUN interface (``IFF_TUN | IFF_NO_PI``: every read and
write is one bare IPv4 or IPv6 packet) inside the named namespace, the way packetdrill reaches the
kernel under test.  The namespace is entered on a short-lived thread (``setns(2)`` changes only the
calling thread's namespace), so the caller's own namespace never holds the device.  The file
descriptor stays valid in the caller's thread afterwards.

``packet_to_segment`` decodes a packet with the capture reader's decoder and ``segment_to_packet``
builds one with the capture writer, so a TUN conversation and a pcap file are the same Segments.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import struct
import threading
from types import TracebackType

from ..spec.segment import Segment
from .decode import PacketDecoder
from .notes import NoteLog
from .writer import ip_packet

__all__ = ["TunDevice", "packet_to_segment", "segment_to_packet"]

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_CLONE_NEWNET = 0x40000000
_MTU = 65535


def packet_to_segment(packet: bytes, frame: int, time: float) -> Segment | None:
    """The TCP segment in the IP ``packet`` (``None`` when it carries no TCP or is malformed)."""
    return PacketDecoder(NoteLog()).decode(frame, time, packet, 0)


def segment_to_packet(segment: Segment) -> bytes:
    """The IPv4 or IPv6 packet for ``segment``, with correct checksums (the capture writer's)."""
    return ip_packet(segment)


def _open_in_netns(name: str, netns: str | None) -> int:
    """Create the TUN device ``name`` in namespace ``netns`` (``None``: the current one); its fd."""
    result: list[int | BaseException] = []

    def create() -> None:
        try:
            if netns is not None:
                _enter_netns(netns)
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
            fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
            result.append(fd)
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    thread = threading.Thread(target=create, name=f"tun-{name}")
    thread.start()
    thread.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _enter_netns(netns: str) -> None:
    """Move the calling thread into the named namespace (``/run/netns/<netns>``, as ``ip netns`` makes)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ns_fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(ns_fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into network namespace {netns!r}: {os.strerror(errno)}")
    finally:
        os.close(ns_fd)


class TunDevice:
    """An open TUN interface; ``write`` injects one IP packet, ``read`` returns the next one or ``None``."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd

    @classmethod
    def open(cls, name: str, *, netns: str | None = None) -> TunDevice:
        """Create TUN interface ``name`` (at most 15 characters) in ``netns``; it is down until set up."""
        if not 0 < len(name) <= 15:
            raise ValueError(f"interface name {name!r} must have 1 to 15 characters")
        return cls(name, _open_in_netns(name, netns))

    def write(self, packet: bytes) -> None:
        """Inject one IP packet, as if it arrived on this interface."""
        os.write(self.fd, packet)

    def read(self, timeout: float) -> bytes | None:
        """The next IP packet the namespace routed out of this interface, or ``None`` after ``timeout`` s."""
        if not self.wait(timeout):
            return None
        return os.read(self.fd, _MTU)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a packet; True when one can be read."""
        return bool(select.select([self.fd], [], [], max(timeout, 0.0))[0])

    def read_waiting(self) -> list[bytes]:
        """Every packet that can be read now, without waiting."""
        packets = []
        while (packet := self.read(0.0)) is not None:
            packets.append(packet)
        return packets

    def close(self) -> None:
        """Close the descriptor; the kernel deletes the interface with it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> TunDevice:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
