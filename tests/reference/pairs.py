"""Two reference endpoints on the in-process network, with a recording observer (test helper).

``Pair`` runs a client at 10.0.1.1 (and 10.0.1.11 as a second address) against a server at 10.0.1.2 and
10.0.2.2; by default path 1 joins 10.0.1.1 to 10.0.1.2 and path 2 joins 10.0.1.1 to 10.0.2.2.
``Recorder`` keeps every segment each endpoint sent, so tests can look at the options on the wire.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from mptcpspec.reference import events as ev
from mptcpspec.reference.endpoint import Endpoint
from mptcpspec.reference.sim import Network, Path, Simulation
from mptcpspec.reference.state import Config, Role
from mptcpspec.spec.rules import Finding
from mptcpspec.spec.segment import Segment

CLIENT = "10.0.1.1"
CLIENT_2 = "10.0.1.11"
SERVER = "10.0.1.2"
SERVER_2 = "10.0.2.2"
PORT = 8080
E = TypeVar("E")


@dataclass
class Recorder:
    """Keeps the segments an endpoint sends (``from_initiator`` tells us which way they go)."""

    client_side: bool
    sent: list[Segment] = field(default_factory=list)
    received: list[Segment] = field(default_factory=list)

    def step(self, segment: Segment, from_initiator: bool) -> Sequence[Finding]:
        (self.sent if from_initiator == self.client_side else self.received).append(segment)
        return ()


class Pair:
    """A client and a server endpoint, the simulation between them, and what each one sent."""

    def __init__(
        self,
        paths: Sequence[Path] | None = None,
        *,
        seed: int = 1,
        client_config: Config | None = None,
        server_config: Config | None = None,
        strict: bool = True,
    ) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.client_log = Recorder(client_side=True)
        self.server_log = Recorder(client_side=False)
        client_config = client_config or Config()
        server_config = server_config or Config()
        self.client = Endpoint(Role.CLIENT, _seeded(client_config, rng, strict), 0.0, self.client_log)
        self.server = Endpoint(Role.SERVER, _seeded(server_config, rng, strict), 0.0, self.server_log)
        self.paths = list(paths or [Path(CLIENT, SERVER), Path(CLIENT, SERVER_2), Path(CLIENT_2, SERVER)])
        self.sim = Simulation(
            self.client, self.server, Network(self.paths, rng), frozenset({SERVER, SERVER_2})
        )

    def connect(self) -> None:
        self.client.connect((CLIENT, None), (SERVER, PORT), 0.0)

    def run(
        self,
        until: float = 30.0,
        done: Callable[[Simulation], bool] | None = None,
        on_step: Callable[[Simulation], None] = lambda sim: None,
    ) -> bool:
        return self.sim.run(until, done or (lambda sim: self.client.closed and self.server.closed), on_step)

    def established(self) -> bool:
        return self.run(
            60.0,  # SYN and SYN/ACK losses back off 1 s, 2 s, 4 s, ...
            lambda sim: (
                any(isinstance(e, ev.ConnectionEstablished) for e in sim.events["server"])
                and any(isinstance(e, ev.ConnectionEstablished) for e in sim.events["client"])
            ),
        )

    def events(self, side: str, kind: type[E]) -> list[E]:
        return [e for e in self.sim.events[side] if isinstance(e, kind)]

    def received(self, side: str) -> bytes:
        return b"".join(e.data for e in self.sim.events[side] if isinstance(e, ev.DataReceived))


def _seeded(config: Config, rng: random.Random, strict: bool) -> Config:
    return replace(config, random=rng.randbytes, strict=strict)


def exchange(pair: Pair, up: bytes, down: bytes) -> None:
    """Client sends ``up`` and closes; the server answers ``down`` once it has read everything."""

    def step(sim: Simulation) -> None:
        if pair.events("server", ev.StreamEnded) and not pair.server.state.sender.fin_requested:
            pair.server.send(down)
            pair.server.close()

    pair.client.send(up)
    pair.client.close()
    pair.run(60.0, on_step=step)
