"""The conversation builder against real Linux captures (``traces/``, made with the kernel's MPTCP):
the segments that play the same part have the same shape, and DSNs relate to the IDSN the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mptcpspec.capture import open_capture
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.spec import crypto
from mptcpspec.spec.options import (
    AddAddr,
    Dss,
    MpCapable,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MptcpOption,
    RemoveAddr,
    serialize,
)
from mptcpspec.spec.segment import ACK, PSH, SYN, Segment

TRACES = Path(__file__).resolve().parents[2] / "traces"
Signature = tuple[int, int, tuple[tuple[str, int], ...]]
Landmark = Callable[[bool, Segment], bool]


def _has(kind: type[MptcpOption], test: Callable[[Any], bool] = lambda o: True) -> Callable[[Segment], bool]:
    return lambda s: any(isinstance(o, kind) and test(o) for o in s.mptcp)


_mapping, _fin_map = _has(Dss, lambda o: o.has_mapping), _has(Dss, lambda o: o.data_fin)
LANDMARKS: dict[str, Landmark] = {
    "syn": lambda c, s: c and s.flags == SYN,
    "synack": lambda c, s: not c and s.flags == SYN | ACK and _has(MpCapable)(s),
    "third ack": lambda c, s: c and not s.payload_len and _has(MpCapable, lambda o: o.receiver_key)(s),
    "client mpc data": lambda c, s: c and s.payload_len > 0 and _has(MpCapable)(s),
    "client dss data": lambda c, s: c and s.payload_len > 0 and _mapping(s),
    "server dss data": lambda c, s: not c and s.payload_len > 0 and _mapping(s),
    "server data ack": lambda c, s: not c and s.flags == ACK and len(s.mptcp) == 1 and not _mapping(s),
    "client data fin": lambda c, s: c and not s.payload_len and _fin_map(s),
    "server data fin": lambda c, s: not c and not s.payload_len and _fin_map(s),
    "client fin": lambda c, s: c and s.fin,
    "server fin": lambda c, s: not c and s.fin,
    "join syn": lambda c, s: _has(MpJoinSyn)(s),
    "join synack": lambda c, s: _has(MpJoinSynAck)(s),
    "join ack": lambda c, s: _has(MpJoinAck)(s),
    "add addr": lambda c, s: _has(AddAddr, lambda o: not o.echo)(s),
    "add addr echo": lambda c, s: _has(AddAddr, lambda o: o.echo)(s),
    "mp prio": lambda c, s: _has(MpPrio)(s),
    "remove addr": lambda c, s: _has(RemoveAddr)(s),
    "server mp fail": lambda c, s: not c and _has(MpFail)(s),
    "client mp fail": lambda c, s: c and _has(MpFail)(s),
    "infinite mapping": lambda c, s: _has(Dss, lambda o: o.is_infinite_mapping)(s),
    "fastclose": lambda c, s: s.rst and _has(MpFastclose)(s),
}


def _landmarks(segments: list[tuple[bool, Segment]]) -> dict[str, Signature]:
    """The signature (flags but PSH, TCP option bytes, MPTCP option kinds and lengths) of the first
    segment matching each landmark; ``segments`` pairs each segment with "sent by the client"."""
    found: dict[str, Signature] = {}
    for client, seg in segments:
        for name, matches in LANDMARKS.items():
            if name not in found and matches(client, seg):
                kinds = tuple((type(o).__name__, len(serialize(o))) for o in seg.mptcp)
                found[name] = (seg.flags & ~PSH, len(seg.tcp_options), kinds)
    return found


def _linux_like_single_fin(conv: Conversation) -> None:
    conv.connect()
    conv.send("A", 3000)
    conv.send("A", 3000)
    conv.data_fin("A")
    conv.send("B", 3000)
    conv.data_fin("B", ack=False)
    conv.close_subflow(0)


def _linux_like_add_addr(conv: Conversation) -> None:
    conv.connect()
    conv.add_addr("B", 2, conv.address("B", 1))
    conv.join("A", remote_address=conv.address("B", 1), remote_address_id=2, address_id=1)


def _linux_like_prio_remove_fastclose(conv: Conversation) -> None:
    conv.connect()
    conv.send("A", 3000)
    conv.join("A", backup=True, address_id=2)
    conv.mp_prio("A", backup=False, subflow=1)
    conv.remove_addr("A", (2,))
    conv.fastclose("B")


def _linux_like_mp_fail(conv: Conversation) -> None:
    conv.connect()
    conv.send("A", 3000)
    conv.send("A", 1000, wrong_checksum=True)
    conv.mp_fail("B")
    conv.infinite_mapping("A", 1000)


def _linux_like_join(conv: Conversation) -> None:
    conv.connect()
    conv.send("A", 3000)
    conv.join("A", address_id=2)
    conv.send("A", 3000, subflow=1)
    conv.close()


SHAPES: dict[str, tuple[Callable[[Conversation], None], dict[str, bool], set[str]]] = {
    "single-fin": (_linux_like_single_fin, {}, {
        "syn", "synack", "third ack", "client mpc data", "client dss data", "server dss data",
        "server data ack", "client data fin", "server data fin", "client fin", "server fin"}),
    "checksum": (_linux_like_single_fin, {"checksum": True}, {
        "syn", "synack", "third ack", "client mpc data", "client data fin", "server data fin", "client fin"}),
    "join": (_linux_like_join, {}, {"join syn", "join synack", "join ack", "client dss data"}),
    "ipv6": (_linux_like_join, {"ipv6": True}, {
        "syn", "synack", "third ack", "client mpc data", "join syn", "join synack", "join ack"}),
    "add-addr": (_linux_like_add_addr, {}, {
        "add addr", "add addr echo", "join syn", "join synack", "join ack"}),
    "backup-prio": (_linux_like_prio_remove_fastclose, {}, {"join syn", "mp prio"}),
    "remove-addr": (_linux_like_prio_remove_fastclose, {}, {"remove addr"}),
    "fastclose": (_linux_like_prio_remove_fastclose, {}, {"fastclose", "join ack"}),
    "mp-fail": (_linux_like_mp_fail, {"checksum": True}, {
        "server mp fail", "client mp fail", "infinite mapping"}),
}  # fmt: skip


@pytest.mark.parametrize("trace", SHAPES)
def test_landmark_segments_have_the_shape_of_a_real_linux_capture(trace: str) -> None:
    path = TRACES / f"{trace}.pcap"
    if not path.exists():
        pytest.skip(f"{path} is not there (real kernel captures are made by `mptcpspec capture`)")
    real = list(open_capture(str(path)).segments(mptcp_only=True))
    client = real[0].flow[:2]
    real_marks = _landmarks([(s.flow[:2] == client, s) for s in real])
    build, options, names = SHAPES[trace]
    conv = Conversation(seed=31, **options)
    build(conv)
    built_marks = _landmarks([(conv.side_of(s.frame) == "A", s) for s in conv.segments])
    assert names <= real_marks.keys() and names <= built_marks.keys()
    assert {n: built_marks[n] for n in names} == {n: real_marks[n] for n in names}


def _client_dsn_offsets(segments: list[tuple[bool, Segment]]) -> tuple[set[bool], int | None, int]:
    """For a single-subflow conversation: whether each client mapping's DSN - IDSN equals its SSN,
    the DATA_FIN's offset from the IDSN and the client's payload bytes (retransmissions counted once)."""
    key = next(
        o.sender_key
        for c, s in segments
        for o in s.mptcp
        if c and isinstance(o, MpCapable) and o.receiver_key
    )
    assert key is not None
    idsn = crypto.key_idsn(key)
    agree, fin, seen = set(), None, set()
    for client, seg in segments:
        for o in seg.mptcp:
            if client and isinstance(o, Dss) and o.dsn is not None and o.ssn is not None:
                if o.data_fin and not seg.payload_len:
                    fin = o.dsn - idsn
                else:
                    agree.add(o.dsn - idsn == o.ssn)
        if client and seg.payload_len:
            seen.add((seg.seq, seg.payload_len))
    return agree, fin, sum(n for _, n in seen)


def test_data_segments_are_as_large_as_linux_makes_them_without_gso() -> None:
    path = TRACES / "gso-off.pcap"
    if not path.exists():
        pytest.skip(f"{path} is not there (real kernel captures are made by `mptcpspec capture`)")
    largest = max(s.payload_len for s in open_capture(str(path)).segments(mptcp_only=True))
    conv = Conversation(seed=33)
    conv.connect()
    frames = conv.send("A", 5000)
    assert largest == conv.segment_size == max(conv.segment(f).payload_len for f in frames)


def test_dsns_relate_to_the_idsn_as_in_a_real_linux_capture() -> None:
    path = TRACES / "single-fin.pcap"
    if not path.exists():
        pytest.skip(f"{path} is not there (real kernel captures are made by `mptcpspec capture`)")
    real = list(open_capture(str(path)).segments(mptcp_only=True))
    agree, fin, sent = _client_dsn_offsets([(s.flow[:2] == real[0].flow[:2], s) for s in real])
    assert agree == {True} and fin == sent + 1  # first DSN is IDSN + 1; the DATA_FIN follows the data
    conv = Conversation(seed=32)
    _linux_like_single_fin(conv)
    assert _client_dsn_offsets([(conv.side_of(s.frame) == "A", s) for s in conv.segments]) == (
        agree,
        6001,
        6000,
    )
