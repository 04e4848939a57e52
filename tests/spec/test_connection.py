"""The connection machine: phase table, RFC 8684 appendix D close table, guards, key bookkeeping."""

from __future__ import annotations

import itertools

from mptcpspec.spec import crypto
from mptcpspec.spec.connection import (
    CLOSE_TRANSITIONS,
    QUIET_PHASES,
    TRANSITIONS,
    CloseEvent,
    CloseState,
    Connection,
    ConnEvent,
    ConnPhase,
    check_checksum_flag,
    check_fastclose_key,
    check_handshake_version,
    check_key_echo,
)
from mptcpspec.spec.monitor import CHECKS


def test_close_table_is_total() -> None:
    assert set(CLOSE_TRANSITIONS) == set(itertools.product(CloseState, CloseEvent))


def _run(events: list[tuple[int, CloseEvent]]) -> list[CloseState]:
    states = [CloseState.ESTABLISHED, CloseState.ESTABLISHED]
    for host, event in events:
        states[host] = CLOSE_TRANSITIONS[(states[host], event)]
    return states


def test_appendix_d_orderly_close() -> None:
    """A closes first: A FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, B CLOSE_WAIT -> LAST_ACK -> CLOSED."""
    s, r, k = CloseEvent.SEND_DATA_FIN, CloseEvent.RECV_DATA_FIN, CloseEvent.DATA_FIN_ACKED
    assert _run([(0, s), (1, r)]) == [CloseState.FIN_WAIT_1, CloseState.CLOSE_WAIT]
    assert _run([(0, s), (1, r), (0, k), (1, s), (0, r)]) == [CloseState.TIME_WAIT, CloseState.LAST_ACK]
    assert _run([(0, s), (1, r), (0, k), (1, s), (0, r), (1, k)]) == [CloseState.TIME_WAIT, CloseState.CLOSED]


def test_appendix_d_simultaneous_close() -> None:
    s, r, k = CloseEvent.SEND_DATA_FIN, CloseEvent.RECV_DATA_FIN, CloseEvent.DATA_FIN_ACKED
    assert _run([(0, s), (1, s), (0, r), (1, r)]) == [CloseState.CLOSING, CloseState.CLOSING]
    assert _run([(0, s), (1, s), (0, r), (1, r), (0, k), (1, k)]) == [CloseState.TIME_WAIT] * 2


def test_phase_table_names_known_checks_and_is_quiet_only_when_established() -> None:
    for (phase, event), transition in TRANSITIONS.items():
        assert isinstance(phase, ConnPhase) and isinstance(event, ConnEvent)
        assert all(rule in CHECKS for rule in transition.rules), (phase, event)
    assert {ConnPhase.ESTABLISHED} == QUIET_PHASES


def test_every_phase_can_be_left_or_is_final() -> None:
    reachable = {ConnPhase.NEW}
    frontier = [ConnPhase.NEW]
    while frontier:
        phase = frontier.pop()
        for (before, _), transition in TRANSITIONS.items():
            if before is phase and transition.next not in reachable:
                reachable.add(transition.next)
                frontier.append(transition.next)
    assert reachable == set(ConnPhase)


def test_guards() -> None:
    assert (
        check_handshake_version(1, 0) and check_handshake_version(1, 1) and not check_handshake_version(0, 1)
    )
    assert check_key_echo(5, 5) and not check_key_echo(None, 5) and not check_key_echo(4, 5)
    assert check_checksum_flag(False, True, True) and check_checksum_flag(False, False, False)
    assert not check_checksum_flag(True, False, False) and not check_checksum_flag(False, False, True)
    assert check_fastclose_key(9, 9) and not check_fastclose_key(8, 9)


def test_keys_give_tokens_and_idsns_once_the_version_is_known() -> None:
    conn = Connection()
    assert conn.learn_key(0, 0x1234)
    assert not conn.learn_key(0, 0x9999)
    assert conn.keys[0] == 0x1234 and conn.token[0] is None
    conn.version = 0
    conn.derive()
    assert conn.token[0] == crypto.key_token(0x1234, 0) and conn.idsn[0] == crypto.key_idsn(0x1234, 0)
