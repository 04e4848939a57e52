"""The reference endpoint on a real wire: a TUN device (``/dev/net/tun``, ``IFF_TUN | IFF_NO_PI``).

The driver reads IP packets from the device, hands the TCP segments to the sans-IO ``Endpoint``, and
writes what it sends back to the device, sleeping in ``select`` until the next packet or the endpoint's
timer.  The namespaces belong to the caller; ``open_in_netns`` puts a device into one and routes the
endpoint's addresses through it, owned by no other interface so that the kernel there does not answer
for them.

``peer_connect`` and ``peer_listen`` are the library entry points behind ``mptcpspec peer``: one
connection that sends a byte string, reads the peer's, closes, and reports what happened::

    with open_in_netns("mpref-r", ["10.234.11.1", "10.234.12.1"]) as device:
        result = peer_connect(device, "10.234.11.1", ("10.234.1.2", 8080), data,
                              joins=(("10.234.12.1", "10.234.2.2"),))
    print(result.closed, result.sha256, result.subflow_bytes)
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..capture.tun import TunDevice, packet_to_segment, segment_to_packet
from ..spec.rules import Finding
from . import events as ev
from .endpoint import Endpoint, Observer
from .state import Config, Role

__all__ = [
    "PeerResult",
    "Script",
    "TunDevice",
    "drive",
    "open_in_netns",
    "peer_connect",
    "peer_listen",
]

Script = Callable[[Endpoint, ev.Event, "PeerResult"], None]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def open_in_netns(netns: str, addresses: Sequence[str], name: str = "mpref0") -> TunDevice:
    """A TUN device in namespace ``netns``, up, with a host route for each of ``addresses`` through it.

    The addresses become the endpoint's: they are owned by no interface, so the kernel in ``netns``
    forwards their packets to the device instead of answering them (it must forward: ip_forward=1).
    """
    device = TunDevice.open(name, netns=netns)
    try:
        _ip("-n", netns, "link", "set", name, "up")
        for address in addresses:
            _ip("-n", netns, "route", "add", f"{address}/32", "dev", name)
    except BaseException:
        device.close()
        raise
    return device


def drive(
    endpoint: Endpoint,
    device: TunDevice,
    until: Callable[[float], bool],
    timeout: float,
    on_event: Callable[[ev.Event, float], None],
) -> float:
    """Run ``endpoint`` on ``device`` until ``until(now)`` or ``timeout`` seconds; returns the time used.

    Packets are read in batches, so one batch of arrivals gets one round of replies (a natural delayed
    ACK).  Events go to ``on_event`` as they appear.
    """
    start = time.monotonic()
    while True:
        now = time.monotonic()
        for segment in endpoint.segments_to_send(now):
            device.write(segment_to_packet(segment))
        while (event := endpoint.next_event()) is not None:
            on_event(event, now)
        if until(now) or now - start > timeout:
            for segment in endpoint.segments_to_send(now):  # what the last events queued (a fast close)
                device.write(segment_to_packet(segment))
            return now - start
        timer = endpoint.get_timer()
        wait = 0.05 if timer is None else min(0.05, timer - now)
        if device.wait(wait):
            now = time.monotonic()
            for packet in device.read_waiting():
                incoming = packet_to_segment(packet, 0, now)
                if incoming is not None:
                    endpoint.receive(incoming, now)
        now = time.monotonic()
        timer = endpoint.get_timer()
        if timer is not None and timer <= now:
            endpoint.handle_timer(now)


@dataclass(slots=True)
class PeerResult:
    """What one ``peer_connect``/``peer_listen`` run saw: the peer's bytes, the events, the monitor's
    findings, how it ended, ``seconds`` in all, ``stream_end`` (seconds until the peer's DATA_FIN), and
    per subflow id the sequence space used each way (payload bytes, plus one for a FIN)."""

    received: bytes = b""
    events: list[ev.Event] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    closed: bool = False
    reset: bool = False
    seconds: float = 0.0
    subflows: int = 0
    stream_end: float | None = None
    subflow_bytes: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes received, hex."""
        return hashlib.sha256(self.received).hexdigest()


@dataclass(slots=True)
class _Application:
    """Send ``data``, read until the peer's DATA_FIN, close (a server sends only after reading all)."""

    endpoint: Endpoint
    data: bytes
    reply_after_read: bool
    result: PeerResult
    abort_after: int | None = None
    sent: bool = False
    started: float = field(default_factory=time.monotonic)

    def on_event(self, event: ev.Event, now: float) -> None:
        self.result.events.append(event)
        if isinstance(event, ev.DataReceived):
            self.result.received += event.data
        elif isinstance(event, ev.StreamEnded if self.reply_after_read else ev.ConnectionEstablished):
            self._send()
        if isinstance(event, ev.StreamEnded):
            self.result.stream_end = now - self.started
        elif isinstance(event, ev.SubflowEstablished):
            self.result.subflows += 1
        elif isinstance(event, ev.ConnectionClosed):
            self.result.closed, self.result.reset = True, event.reset
        if self.abort_after is not None and len(self.result.received) >= self.abort_after:
            self.abort_after = None
            self.endpoint.abort()

    def _send(self) -> None:
        if not self.sent:
            self.sent = True
            self.endpoint.send(self.data)
            self.endpoint.close()


def _run(
    endpoint: Endpoint,
    device: TunDevice,
    data: bytes,
    server: bool,
    timeout: float,
    abort_after: int | None,
    hook: Callable[[ev.Event], None],
    script: Script | None,
    sent: bool = False,
) -> PeerResult:
    result = PeerResult()
    app = _Application(endpoint, data, server, result, abort_after, sent)

    def on_event(event: ev.Event, now: float) -> None:
        hook(event)
        app.on_event(event, now)
        if script is not None:
            script(endpoint, event, result)

    result.seconds = drive(endpoint, device, lambda now: endpoint.closed, timeout, on_event)
    result.findings = list(endpoint.findings)
    result.subflow_bytes = {
        sf.id: (sf.snd_una - sf.iss - 1, sf.rcv_nxt - sf.irs - 1) for sf in endpoint.state.subflows.values()
    }
    return result


def peer_connect(
    device: TunDevice,
    local: str,
    remote: tuple[str, int],
    data: bytes,
    *,
    config: Config | None = None,
    observer: Observer | None = None,
    timeout: float = 30.0,
    joins: tuple[tuple[str, str], ...] = (),
    abort_after: int | None = None,
    early_data: bool = True,
    script: Script | None = None,
) -> PeerResult:
    """Connect from ``local`` to ``remote`` through ``device``, send ``data``, read the peer's answer.

    Once the connection is up, one subflow is joined (MP_JOIN) per ``(local address, peer address)`` in
    ``joins``, to the same port.  ``abort_after``: fast-close once that many bytes have arrived.
    ``early_data``: queue the data before connecting, so that the third ACK carries its first bytes
    (RFC 8684 §3.1); otherwise it is sent once the connection is up, after a bare third ACK.
    ``script`` is called after each event with the endpoint, the event and the result so far, to drive
    the path manager (``remove_address``, ``set_backup``, ...) during the run.
    """
    endpoint = Endpoint(Role.CLIENT, config, time.monotonic(), observer)
    if early_data:
        endpoint.send(data)
        endpoint.close()
    endpoint.connect((local, None), remote, time.monotonic())

    def open_joins(event: ev.Event) -> None:
        if isinstance(event, ev.ConnectionEstablished) and not event.fallback:
            for join_local, join_remote in joins:
                endpoint.open_subflow(join_local, (join_remote, remote[1]))

    return _run(endpoint, device, data, False, timeout, abort_after, open_joins, script, sent=early_data)


def peer_listen(
    device: TunDevice,
    data: bytes,
    *,
    config: Config | None = None,
    observer: Observer | None = None,
    timeout: float = 30.0,
    announce: tuple[str, ...] = (),
    abort_after: int | None = None,
    script: Script | None = None,
) -> PeerResult:
    """Accept one connection on whatever address/port the device's routes bring, read the peer's data to
    its end, answer with ``data`` and close.  ``announce`` addresses are sent in ADD_ADDR once up;
    ``abort_after`` and ``script`` as for ``peer_connect``."""
    endpoint = Endpoint(Role.SERVER, config, time.monotonic(), observer)

    def announcements(event: ev.Event) -> None:
        if isinstance(event, ev.ConnectionEstablished) and not event.fallback:
            for address in announce:
                endpoint.add_address(address)

    return _run(endpoint, device, data, True, timeout, abort_after, announcements, script)
