"""The subflow machine (RFC 8684 §3.1, §3.2): its table, the event classifier and the join guards."""

from __future__ import annotations

import itertools

import pytest

from mptcpspec.spec import crypto
from mptcpspec.spec.monitor import ConnectionMonitor
from mptcpspec.spec.rules import Verdict
from mptcpspec.spec.segment import ACK, FIN, RST, SYN, Segment
from mptcpspec.spec.subflow import (
    QUIET_STATES,
    TRANSITIONS,
    Subflow,
    SubflowEvent,
    SubflowState,
    check_join_ack_hmac,
    check_join_synack_hmac,
    check_join_token,
    classify,
)

KEY_A, KEY_B = 0x1122334455667788, 0x99AABBCCDDEEFF00
NONCE_A, NONCE_B = 0x01020304, 0x0A0B0C0D


def test_every_transition_names_known_states_and_checks() -> None:
    from mptcpspec.spec.monitor import CHECKS

    for (state, event), transition in TRANSITIONS.items():
        assert isinstance(state, SubflowState) and isinstance(event, SubflowEvent)
        assert isinstance(transition.next, SubflowState)
        assert all(rule in CHECKS for rule in transition.rules), (state, event)


def test_quiet_states_are_those_where_acks_change_nothing() -> None:
    assert {SubflowState.ESTABLISHED, SubflowState.CLOSING, SubflowState.CLOSED} == QUIET_STATES


@pytest.mark.parametrize(
    ("flags", "from_opener", "event"),
    [
        (SYN, True, SubflowEvent.SYN),
        (SYN | ACK, False, SubflowEvent.SYN_ACK),
        (ACK, True, SubflowEvent.ACK_OPENER),
        (ACK, False, SubflowEvent.ACK_RESPONDER),
        (FIN | ACK, True, SubflowEvent.FIN),
        (RST | ACK, False, SubflowEvent.RST),
        (RST | SYN, True, SubflowEvent.RST),
    ],
)
def test_classify(flags: int, from_opener: bool, event: SubflowEvent) -> None:
    assert classify(flags, from_opener) is event


_FLAGS = {
    SubflowEvent.SYN: (SYN, True),
    SubflowEvent.SYN_ACK: (SYN | ACK, False),
    SubflowEvent.ACK_OPENER: (ACK, True),
    SubflowEvent.ACK_RESPONDER: (ACK, False),
    SubflowEvent.FIN: (FIN | ACK, True),
    SubflowEvent.RST: (RST | ACK, True),
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(SubflowState, SubflowEvent)))
def test_every_pair_moves_the_machine_or_is_a_finding(state: SubflowState, event: SubflowEvent) -> None:
    """h2-style exhaustive walk: a pair in the table moves to its next state; any other pair keeps the
    state and is reported as ``subflow.state`` (undetermined), never an exception."""
    monitor = ConnectionMonitor("c")
    flags, from_opener = _FLAGS[event]
    ends = ("10.0.0.1", "10.0.0.2", 1000, 80) if from_opener else ("10.0.0.2", "10.0.0.1", 80, 1000)
    seg = Segment(1, 0.0, 4, *ends, 5, 7, flags, 100, 0)
    monitor.step(Segment(0, 0.0, 4, "10.0.0.1", "10.0.0.2", 1000, 80, 4, 0, SYN, 100, 0), True)
    sub = next(iter(monitor.subflows.values()))
    sub.state = state
    findings = monitor.step(seg, from_opener)
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        assert sub.state is state
        assert [(f.rule.id, f.verdict) for f in findings] == [("subflow.state", Verdict.UNDETERMINED)]
    else:
        assert sub.state is expected.next


def test_track_notices_a_sequence_gap_and_an_ack_of_unseen_data() -> None:
    sub = Subflow("s", ("a", 1, "b", 2), 0, 1)
    base = Segment(1, 0.0, 4, "a", "b", 1, 2, 1000, 0, ACK, 100, 100)
    sub.track(base, 0)
    assert sub.lossy == [False, False]
    sub.track(Segment(2, 0.0, 4, "a", "b", 1, 2, 1100, 0, ACK, 100, 100), 0)
    assert sub.lossy == [False, False]
    sub.track(Segment(3, 0.0, 4, "a", "b", 1, 2, 1300, 0, ACK, 100, 100), 0)
    assert sub.lossy == [True, False]
    sub.track(Segment(4, 0.0, 4, "b", "a", 2, 1, 50, 2000, ACK, 100, 0), 1)
    assert sub.lossy == [True, False]
    sub.track(Segment(5, 0.0, 4, "b", "a", 2, 1, 50, 2500, ACK, 100, 0), 1)
    assert sub.lossy == [True, False]  # acks beyond 1400 only mark direction 0 again
    assert sub.bytes == [300, 0] and sub.packets == 5


def test_join_guards() -> None:
    for version in (0, 1):
        assert check_join_token(crypto.key_token(KEY_B, version), KEY_B, version)
        assert not check_join_token(crypto.key_token(KEY_A, version), KEY_B, version)
        mac = crypto.join_synack_hmac(KEY_B, KEY_A, NONCE_B, NONCE_A, version)
        assert check_join_synack_hmac(KEY_B, KEY_A, NONCE_B, NONCE_A, mac, version)
        assert not check_join_synack_hmac(KEY_B, KEY_A, NONCE_B, NONCE_A, mac ^ 1, version)
        full = crypto.join_ack_hmac(KEY_A, KEY_B, NONCE_A, NONCE_B, version)
        assert check_join_ack_hmac(KEY_A, KEY_B, NONCE_A, NONCE_B, full, version)
        assert not check_join_ack_hmac(KEY_B, KEY_A, NONCE_A, NONCE_B, full, version)
