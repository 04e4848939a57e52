"""A Hypothesis state machine over the reference endpoint's API: the application and the path manager
act on both ends at random moments of a lossy two-path network.

Sends, closes, ADD_ADDR, joins, REMOVE_ADDR, MP_PRIO and fast close interleave with the passing of
virtual time.  Invariant: what each side has received is a prefix of what the other sent.  At the end
both sides close and run to completion: every byte arrives, and both ends finish cleanly (or, after a
fast close, both report the reset).  The spec monitor in each endpoint runs in strict mode throughout.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pairs import CLIENT, CLIENT_2, SERVER, SERVER_2, Pair

from mptcpspec.reference import events as ev
from mptcpspec.reference.sim import Path
from mptcpspec.reference.state import Config
from mptcpspec.reference.subflow import SubflowState


class EndpointsAtWork(RuleBasedStateMachine):
    """Two endpoints, their traffic so far, and what has been done to their paths."""

    pair: Pair

    @initialize(seed=st.integers(0, 2**32), loss=st.floats(0.0, 0.04), checksum=st.booleans())
    def start(self, seed: int, loss: float, checksum: bool) -> None:
        paths = [
            Path(CLIENT, SERVER, 0.01, loss, reorder=0.05),
            Path(CLIENT, SERVER_2, 0.02, loss),
            Path(CLIENT_2, SERVER, 0.03, loss),
        ]
        self.pair = Pair(paths, seed=seed, client_config=Config(checksum=checksum))
        self.sent = {"client": bytearray(), "server": bytearray()}
        self.closing = {"client": False, "server": False}
        self.aborted = False
        self.expected_ends: dict[str, set[str]] = {}
        self.pair.connect()
        assert self.pair.established()

    def _endpoint(self, side: str):  # type: ignore[no-untyped-def]
        return self.pair.client if side == "client" else self.pair.server

    @property
    def _mptcp(self) -> bool:
        state = self.pair.client.state
        return state.mptcp and not state.fallback and not self.aborted

    @rule(side=st.sampled_from(["client", "server"]), size=st.integers(1, 40_000))
    def send(self, side: str, size: int) -> None:
        if self.closing[side] or self.aborted:
            return
        data = self.pair.rng.randbytes(size)
        self._endpoint(side).send(data)
        self.sent[side] += data

    @rule(seconds=st.floats(0.001, 0.5))
    def time_passes(self, seconds: float) -> None:
        self.pair.run(self.pair.sim.now + seconds, lambda sim: False)

    @rule(side=st.sampled_from(["client", "server"]))
    def close(self, side: str) -> None:
        if not self.aborted:
            self.closing[side] = True
            self._endpoint(side).close()

    @precondition(lambda self: self._mptcp and SERVER_2 not in self.pair.server.state.pm.local_ids)
    @rule()
    def announce(self) -> None:
        self.pair.server.add_address(SERVER_2)

    @precondition(lambda self: self._mptcp and CLIENT_2 not in self.pair.client.state.pm.local_ids)
    @rule(backup=st.booleans())
    def join(self, backup: bool) -> None:
        self.pair.client.open_subflow(CLIENT_2, backup=backup)

    @precondition(lambda self: self._mptcp and CLIENT_2 in self.pair.client.state.pm.local_ids)
    @rule()
    def remove(self) -> None:
        self.pair.client.remove_address(CLIENT_2)

    @precondition(lambda self: self._mptcp)
    @rule(backup=st.booleans(), data=st.data())
    def prio(self, backup: bool, data: st.DataObject) -> None:
        live = [sf.id for sf in self.pair.client.state.live() if sf.state is SubflowState.ESTABLISHED]
        if live:
            self.pair.client.set_backup(data.draw(st.sampled_from(live)), backup)

    @precondition(lambda self: not self.aborted)
    @rule(side=st.sampled_from(["client", "server"]), roll=st.integers(0, 3))
    def fast_close(self, side: str, roll: int) -> None:
        other = "server" if side == "client" else "client"
        if roll == 0 and not self._endpoint(side).closed:  # one roll in four: most runs end cleanly
            self.aborted = True
            peer = self._endpoint(other)
            # A peer already closed keeps its clean ending; one past both DATA_FINs may end either way
            # (if our RSTs are lost it stops waiting for our FIN); any other learns of the fast close.
            if peer.closed:
                ends = {"closed"}
            elif peer.state.data_level_done:
                ends = {"closed", "peer fast close"}
            else:
                ends = {"peer fast close"}
            self.expected_ends = {side: {"fast close"}, other: ends}
            self._endpoint(side).abort()

    @invariant()
    def received_is_a_prefix_of_sent(self) -> None:
        for side, other in (("client", "server"), ("server", "client")):
            got = self.pair.received(side)
            assert got == bytes(self.sent[other][: len(got)])

    def _after_fast_close(self) -> None:
        """The RSTs carrying MP_FASTCLOSE may all be lost: a peer that still sends learns from the RST its
        segment draws, one that idles never learns (as with TCP without keepalives).  So a survivor that
        may still send sends a byte; one whose DATA_FIN was acknowledged has nothing left to send."""
        for side in ("client", "server"):
            endpoint = self._endpoint(side)
            if not endpoint.closed and not endpoint.state.sender.fin_requested:
                endpoint.send(b"?")
        self.pair.run(self.pair.sim.now + 120.0)
        for side, reasons in self.expected_ends.items():
            closed = self.pair.events(side, ev.ConnectionClosed)
            if not closed and "fast close" not in reasons:
                assert self._endpoint(side).state.sender.fin_acked  # idle: it cannot learn
                continue
            assert [c.reason in reasons for c in closed] == [True]

    def teardown(self) -> None:
        if not hasattr(self, "pair"):
            return
        if self.aborted:
            self._after_fast_close()
            return
        for side in ("client", "server"):
            self.close(side)
        assert self.pair.run(self.pair.sim.now + 120.0)
        assert self.pair.received("server") == bytes(self.sent["client"])
        assert self.pair.received("client") == bytes(self.sent["server"])
        for side in ("client", "server"):
            assert self.pair.events(side, ev.ConnectionClosed) == [ev.ConnectionClosed(False, "closed")]


EndpointsAtWork.TestCase.settings = settings(
    max_examples=300, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_endpoints_at_work = EndpointsAtWork.TestCase
