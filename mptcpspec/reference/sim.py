"""An in-process multi-path network for the reference endpoint, driven by virtual time.

Each ``Path`` joins one client address to one server address and can delay, lose, reorder, duplicate and
strip MPTCP options from segments, and fail (drop everything) from a given time on.  ``Simulation`` runs
two endpoints over a ``Network`` until a condition holds or time runs out; nothing sleeps, so a minute of
virtual time passes in milliseconds.  Randomness comes from one seeded ``random.Random``.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..spec.errors import MptcpError
from ..spec.segment import Segment
from .endpoint import Endpoint
from .events import Event

__all__ = ["Network", "Path", "Simulation", "SimulationStalled"]

STALL_STEPS = 10_000


class SimulationStalled(MptcpError):
    """Virtual time stopped moving: something re-arms a timer at the current instant forever."""


@dataclass(frozen=True, slots=True)
class Path:
    """A two-way path between ``client`` and ``server`` addresses.

    ``delay`` is the one-way delay in seconds; ``loss``, ``duplicate`` and ``reorder`` are per-segment
    probabilities (a reordered segment takes up to three times the delay); ``strip`` removes every MPTCP
    option (a middlebox that does not know them); ``corrupt`` is the probability that a payload byte is
    rewritten (a middlebox that edits content and fixes the TCP checksum); ``fail_at`` is when the path
    starts dropping everything, ``heal_at`` when it stops doing so.
    """

    client: str
    server: str
    delay: float = 0.005
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    strip: bool = False
    corrupt: float = 0.0
    fail_at: float | None = None
    heal_at: float | None = None

    def carries(self, segment: Segment) -> bool:
        """Whether this path joins the segment's two addresses (either way)."""
        return {segment.src, segment.dst} == {self.client, self.server}

    def down(self, now: float) -> bool:
        """Whether the path drops everything at ``now``."""
        return (
            self.fail_at is not None and now >= self.fail_at and (self.heal_at is None or now < self.heal_at)
        )


def _strip(segment: Segment) -> Segment:
    """The segment as a middlebox that removes MPTCP options would forward it."""
    raw = _strip_raw(segment.tcp_options)
    return dataclasses.replace(segment, mptcp=(), option_errors=(), tcp_options=raw)


def _strip_raw(raw: bytes) -> bytes:
    out = bytearray()
    offset = 0
    while offset < len(raw):
        kind = raw[offset]
        if kind in (0, 1):
            out.append(kind)
            offset += 1
            continue
        length = raw[offset + 1]
        out += b"\x01" * length if kind == 30 else raw[offset : offset + length]
        offset += length
    return bytes(out)


@dataclass(slots=True)
class Network:
    """Paths and the segments in flight on them, delivered in time order."""

    paths: Sequence[Path]
    rng: random.Random
    in_flight: list[tuple[float, int, Segment]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    sent: int = 0
    dropped: int = 0

    def send(self, segment: Segment, now: float) -> None:
        """Put a segment on its path: lost, stripped, edited, duplicated or delayed as the path says."""
        self.sent += 1
        path = next((p for p in self.paths if p.carries(segment)), None)
        if path is None or path.down(now) or self.rng.random() < path.loss:
            self.dropped += 1
            return
        if path.strip:
            segment = _strip(segment)
        if segment.payload and self.rng.random() < path.corrupt:
            edited = bytes([segment.payload[0] ^ 0xFF]) + segment.payload[1:]
            segment = dataclasses.replace(segment, payload=edited)
        copies = 2 if self.rng.random() < path.duplicate else 1
        for _ in range(copies):
            late = self.rng.random() < path.reorder
            delay = path.delay * (1 + 2 * self.rng.random()) if late else path.delay
            heapq.heappush(self.in_flight, (now + delay, next(self.counter), segment))

    def next_arrival(self) -> float | None:
        """When the next segment in flight arrives, if any."""
        return self.in_flight[0][0] if self.in_flight else None

    def pop(self) -> Segment:
        """The next segment to arrive."""
        return heapq.heappop(self.in_flight)[2]


@dataclass(slots=True)
class Simulation:
    """Two endpoints on a network; ``server_addresses`` says which segments go to the server."""

    client: Endpoint
    server: Endpoint
    network: Network
    server_addresses: frozenset[str]
    now: float = 0.0
    events: dict[str, list[Event]] = field(default_factory=lambda: {"client": [], "server": []})

    def _flush(self) -> None:
        for endpoint in (self.client, self.server):
            for segment in endpoint.segments_to_send(self.now):
                self.network.send(segment, self.now)
        for name, endpoint in (("client", self.client), ("server", self.server)):
            while (event := endpoint.next_event()) is not None:
                self.events[name].append(event)

    def run(
        self,
        until: float,
        done: Callable[[Simulation], bool] = lambda sim: False,
        on_step: Callable[[Simulation], None] = lambda sim: None,
    ) -> bool:
        """Advance virtual time to ``until`` or until ``done``; returns whether ``done`` held.

        Raises ``SimulationStalled`` when many steps in a row leave the clock where it was (an endpoint
        whose timer never moves on, or segments bouncing at zero delay forever).
        """
        self._flush()
        stuck = 0
        while not done(self):
            on_step(self)
            self._flush()
            candidates = (self.network.next_arrival(), self.client.get_timer(), self.server.get_timer())
            times = [t for t in candidates if t is not None]
            if not times or min(times) > until:
                return done(self)
            stuck = stuck + 1 if min(times) <= self.now else 0
            if stuck > STALL_STEPS:
                raise SimulationStalled(f"no progress at t={self.now:.6f}s after {STALL_STEPS} steps")
            self.now = max(self.now, min(times))
            while (arrival := self.network.next_arrival()) is not None and arrival <= self.now:
                segment = self.network.pop()
                target = self.server if segment.dst in self.server_addresses else self.client
                target.receive(segment, self.now)
            for endpoint in (self.client, self.server):
                timer = endpoint.get_timer()
                if timer is not None and timer <= self.now:
                    endpoint.handle_timer(self.now)
        self._flush()
        return True
