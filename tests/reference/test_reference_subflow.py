"""One subflow's TCP machinery: the state table, reassembly, RTT/RTO, fast retransmit."""

from __future__ import annotations

import itertools

import pytest

from mptcpspec.reference.cc import Window
from mptcpspec.reference.receiver import MappingTracker
from mptcpspec.reference.subflow import TRANSITIONS, Subflow, SubflowEvent, SubflowState, unwrap
from mptcpspec.spec.errors import LocalProtocolError
from mptcpspec.spec.segment import SYN

MSS = 1000


def _subflow(state: SubflowState = SubflowState.ESTABLISHED) -> Subflow:
    sf = Subflow(0, ("10.0.0.1", 1), ("10.0.0.2", 2), 5000, state, MSS, Window(MSS), MappingTracker(False))
    sf.rcv_nxt = 9001
    return sf


@pytest.mark.parametrize(("state", "event"), list(itertools.product(SubflowState, SubflowEvent)))
def test_every_state_and_event_moves_or_raises_unchanged(state: SubflowState, event: SubflowEvent) -> None:
    sf = _subflow(state)
    following = TRANSITIONS.get((state, event))
    if following is None:
        with pytest.raises(LocalProtocolError, match=state.value):
            sf.advance(event)
        assert sf.state is state
    else:
        sf.advance(event)
        assert sf.state is following


def test_every_open_state_can_be_reset_and_closed_is_final() -> None:
    assert all(
        TRANSITIONS[(s, SubflowEvent.RESET)] is SubflowState.CLOSED
        for s in SubflowState
        if s is not SubflowState.CLOSED
    )
    assert not [pair for pair in TRANSITIONS if pair[0] is SubflowState.CLOSED]


def test_unwrap_crosses_the_32_bit_boundary() -> None:
    assert unwrap(5, 2**32 - 10) == 2**32 + 5
    assert unwrap(2**32 - 3, 2**32 + 4) == 2**32 - 3
    assert unwrap(7, 100) == 7


def test_out_of_order_segments_and_a_fin_come_out_in_order() -> None:
    sf = _subflow()
    assert sf.accept(9006, b"fgh", True) == (9001, b"", False)
    assert sf.accept(9004, b"de", False) == (9001, b"", False)
    start, data, fin = sf.accept(9001, b"abcd", False)  # overlaps the piece at 9004
    assert (start, data, fin) == (9001, b"abcdefgh", True)
    assert sf.rcv_nxt == 9010 and sf.fin_received and sf.ack_pending


def test_ack_takes_an_rtt_sample_and_dupacks_trigger_fast_retransmit() -> None:
    sf = _subflow()
    sf.snd_una = sf.snd_nxt = sf.iss + 1
    for _ in range(4):
        sf.queue(bytes(MSS), dsn=0)
    for chunk in sf.due():
        sf.mark_sent(chunk, now=1.0)
    acked, fast = sf.on_ack(sf.iss + 1 + MSS, 65535, True, now=1.1)
    assert acked == MSS and not fast and abs((sf.srtt or 0) - 0.1) < 1e-9
    results = [sf.on_ack(sf.iss + 1 + MSS, 65535, True, now=1.2)[1] for _ in range(3)]
    assert results == [False, False, True] and sf.chunks[0].lost and sf.window.cwnd == 5 * MSS
    assert sf.due(force_first=True)[0] is sf.chunks[0]


def test_timeout_backs_off_and_marks_everything_for_resending() -> None:
    sf = _subflow(SubflowState.SYN_SENT)
    sf.queue(b"", SYN)
    (syn,) = sf.due()
    sf.mark_sent(syn, now=0.0)
    assert sf.rto_deadline == 1.0
    sf.on_timeout(now=1.0)
    assert sf.rto == 2.0 and sf.rto_deadline == 3.0 and syn.lost and sf.timeouts == 1
    assert sf.window.cwnd == MSS


def test_a_reset_must_name_our_window_or_answer_our_syn() -> None:
    sf = _subflow()
    assert sf.reset_acceptable(9001, 0, False) and sf.reset_acceptable(9001 + 5000, 0, False)
    assert not sf.reset_acceptable(8000, 0, False)  # behind what we already received
    opening = _subflow(SubflowState.SYN_SENT)
    assert opening.reset_acceptable(0, 5001, True)
    assert not opening.reset_acceptable(0, 4000, True) and not opening.reset_acceptable(9001, 0, False)
