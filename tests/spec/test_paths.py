"""Path state (RFC 8684 §3.4): the ADD_ADDR guards and the per-host address bookkeeping."""

from __future__ import annotations

from mptcpspec.spec import crypto
from mptcpspec.spec.connection import Connection
from mptcpspec.spec.options import AddAddr, RemoveAddr
from mptcpspec.spec.paths import PathState, check_add_addr_hmac, check_echo_match
from mptcpspec.spec.rules import Verdict
from mptcpspec.spec.segment import ACK, Segment
from mptcpspec.spec.subflow import Subflow
from mptcpspec.spec.verdicts import Judge

KEY_A, KEY_B = 0x0102030405060708, 0x1112131415161718


def _seg(frame: int, ack: int = 1) -> Segment:
    return Segment(frame, 0.0, 4, "10.0.0.2", "10.0.0.1", 80, 1000, 1, ack, ACK, 100, 0)


def test_add_addr_hmac_guard() -> None:
    mac = crypto.add_addr_hmac(KEY_B, KEY_A, 3, "192.0.2.7", 8080)
    assert check_add_addr_hmac(KEY_B, KEY_A, AddAddr(False, 3, "192.0.2.7", 8080, mac))
    assert not check_add_addr_hmac(KEY_A, KEY_B, AddAddr(False, 3, "192.0.2.7", 8080, mac))
    assert not check_add_addr_hmac(KEY_B, KEY_A, AddAddr(False, 3, "192.0.2.7", None, mac))


def test_echo_guard_compares_the_address() -> None:
    assert check_echo_match(("192.0.2.7", 80, 4), AddAddr(True, 3, "192.0.2.7"))
    assert not check_echo_match(("192.0.2.7", 80, 4), AddAddr(True, 3, "192.0.2.8"))


def test_an_id_is_free_again_after_remove_addr() -> None:
    paths, judge, conn = PathState(), Judge("c"), Connection()
    conn.version, conn.keys = 1, [KEY_A, KEY_B]
    sub = Subflow("c/0", ("10.0.0.1", 1000, "10.0.0.2", 80), 0, 1)

    def announce(frame: int, address: str) -> None:
        mac = crypto.add_addr_hmac(KEY_B, KEY_A, 3, address, None)
        paths.on_add_addr(judge, conn, _seg(frame, ack=frame), sub, 1, AddAddr(False, 3, address, None, mac))

    announce(1, "192.0.2.7")
    announce(2, "192.0.2.7")  # a refresh: same ID, same address
    paths.on_remove_addr(_seg(3), 1, RemoveAddr((3,)))
    announce(4, "192.0.2.9")
    assert judge.take() == []
    announce(5, "192.0.2.10")
    (finding,) = judge.take()
    assert finding.rule.id == "add-addr.id-reuse" and finding.verdict is Verdict.VIOLATION
    assert finding.frames == (5, 4)
