"""The reference endpoint's connection-level state, shared by its input side (``endpoint``) and its output
side (``output``): keys, negotiated features, the data level and the subflows.

Plain mutable bookkeeping (RFC 8684 appendix C lists the same control-block fields); the behaviour lives
in the modules that use it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..spec.crypto import key_idsn, key_token
from ..spec.segment import Segment
from .cc import Window
from .pathmgr import PathManager
from .receiver import DataReceiver, MappingTracker
from .sender import DataSender
from .subflow import Subflow, SubflowState

__all__ = ["Config", "ConnectionState", "Role"]


class Role(enum.Enum):
    """Which side opened the connection: the client sends the first SYN."""

    CLIENT = "client"
    SERVER = "server"


@dataclass(frozen=True, slots=True)
class Config:
    """Knobs of the reference endpoint.

    ``checksum``: ask for DSS checksums (RFC 8684 §3.1 A flag).  ``mss``: our maximum segment size.
    ``auto_join``: open a subflow to every address the peer announces.  ``strict``: a monitor finding of
    verdict violation raises.  ``random``: source of keys, nonces, ISNs and ports (``os.urandom``; tests
    pass a seeded one).  ``mptcp``: offer MPTCP at all (False gives a plain TCP endpoint).
    Timers: a subflow whose RTO fired ``stale_after_timeouts`` times gets no new data (and its data is
    reinjected); ``max_timeouts`` resets it; once both DATA_FINs are through, a subflow whose FIN times out
    ``stale_after_timeouts`` times (``close_timeouts`` for the last one) is reset, and one whose FIN was
    acknowledged waits ``fin_wait`` seconds for the peer's FIN.
    """

    checksum: bool = False
    mss: int = 1460
    receive_window: int = 1 << 20
    auto_join: bool = True
    max_subflows: int = 8
    syn_retries: int = 6
    stale_after_timeouts: int = 2
    close_timeouts: int = 4
    fin_wait: float = 5.0
    max_timeouts: int = 12
    add_addr_interval: float = 1.0
    strict: bool = False
    mptcp: bool = True
    random: Callable[[int], bytes] = os.urandom


@dataclass(slots=True)
class ConnectionState:
    """Everything one MPTCP connection knows, at the data level and per subflow."""

    role: Role
    config: Config
    local_key: int
    sender: DataSender
    remote_key: int | None = None
    mptcp: bool = False
    fallback: bool = False
    checksum: bool = False
    established: bool = False
    dss_seen: bool = False
    send_third_ack: bool = False
    receiver: DataReceiver | None = None
    peer_right_edge: int = 0
    data_fin_deadline: float | None = None
    data_fin_due: bool = False
    data_fin_sends: int = 0
    stream_ended: bool = False
    closed: bool = False
    fast_closed: bool = False
    subflows: dict[int, Subflow] = field(default_factory=dict)
    by_tuple: dict[tuple[str, int, str, int], Subflow] = field(default_factory=dict)
    pm: PathManager = field(default_factory=PathManager)
    outbox: list[Segment] = field(default_factory=list)
    prio_pending: set[int] = field(default_factory=set)
    join_requests: list[tuple[str, tuple[str, int]]] = field(default_factory=list)

    def random_int(self, size: int) -> int:
        """A random integer of ``size`` bytes from the configured source."""
        return int.from_bytes(self.config.random(size), "big")

    def ephemeral_port(self) -> int:
        """A source port for a new subflow, from Linux's default ephemeral range."""
        return 32768 + self.random_int(2) % 28232

    @property
    def wscale(self) -> int:
        """Our window scale shift: enough for ``receive_window`` in the 16-bit field (RFC 7323 §2)."""
        return max(0, min(14, self.config.receive_window.bit_length() - 16))

    @property
    def local_idsn(self) -> int:
        """Our initial data sequence number, from our key (RFC 8684 §3.1)."""
        return key_idsn(self.local_key)

    @property
    def initial(self) -> Subflow | None:
        """The first subflow (id 0), once there is one."""
        return self.subflows.get(0)

    def live(self) -> list[Subflow]:
        """Subflows not closed, in id order."""
        return [sf for sf in self.subflows.values() if sf.state is not SubflowState.CLOSED]

    def data_ack(self) -> int | None:
        """What our DSS DATA_ACK says: the next DSN we expect (RFC 8684 §3.3.2)."""
        return None if self.receiver is None else self.receiver.rcv_nxt

    @property
    def data_level_done(self) -> bool:
        """Both DATA_FINs are through: ours acknowledged, the peer's received (RFC 8684 §3.3.3)."""
        return self.sender.fin_acked and self.receiver is not None and self.receiver.fin_received

    def new_subflow(self, local: tuple[str, int], remote: tuple[str, int], status: SubflowState) -> Subflow:
        """A fresh subflow with a random ISN, registered under its 4-tuple."""
        state = self
        mss = state.config.mss
        sf = Subflow(
            len(state.subflows),
            local,
            remote,
            state.random_int(4),
            status,
            mss,
            Window(mss - 40),
            MappingTracker(state.checksum),
        )
        sf.offer_wscale = state.wscale if status is SubflowState.SYN_SENT else None
        state.subflows[sf.id] = sf
        state.by_tuple[(*local, *remote)] = sf
        return sf

    def join_acceptable(self, token: int, address: str) -> bool:
        """Whether an MP_JOIN SYN naming ``token`` to our ``address`` may join: our token, MPTCP up,
        room, not closing, and not an address we withdrew (RFC 8684 §3.4.2)."""
        return (
            address not in self.pm.withdrawn
            and self.established
            and self.mptcp
            and not self.fallback
            and self.remote_key is not None
            and not self.closed
            and token == key_token(self.local_key)
            and len(self.live()) < self.config.max_subflows
            and not self.sender.fin_acked
        )
