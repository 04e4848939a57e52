"""Tests of the conversation builder: wire bytes re-parse, crypto verifies, TCP and data sequence
numbers are consistent, fault knobs and injection change exactly one thing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from mptcpspec.capture import open_capture
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.conversation_wire import Side, pattern
from mptcpspec.conformance.replay import validate_segments
from mptcpspec.conformance.strategies import conversations, segments
from mptcpspec.spec import crypto
from mptcpspec.spec.errors import LocalProtocolError
from mptcpspec.spec.options import (
    AddAddr,
    AddAddrV0,
    Dss,
    MpCapable,
    MpFail,
    MpFastclose,
    MpJoinAck,
    MpJoinSyn,
    MpJoinSynAck,
    MpPrio,
    MpTcpRst,
    RemoveAddr,
    TcpRstReason,
    scan_tcp_options,
    serialize,
)
from mptcpspec.spec.segment import ACK, FIN, RST, SYN, Segment
from mptcpspec.spec.seqnum import infer_dsn64, seq_diff


def _everything() -> Conversation:
    conv = Conversation(seed=3, checksum=True)
    conv.connect(data=50)
    conv.send("B", 3000, span=True, repeat_dss=False)
    conv.join("B")
    conv.send("A", 3000, subflow=1, lose=[1], segment_size=1400)
    conv.reinject("A", conv.idsn("A") + 1 + 50 + 1400, 1400, subflow=0)
    conv.retransmit(12)
    conv.add_addr("A", 5, "10.0.9.1")
    conv.add_addr("B", 6, "10.1.1.1", port=8080)
    conv.remove_addr("A", (5,))
    conv.mp_prio("A", subflow=1)
    conv.tcp_rst("B", subflow=1, reason=TcpRstReason.MPTCP_SPECIFIC)
    conv.send("A", 100, wrong_checksum=True)
    conv.mp_fail("B")
    conv.infinite_mapping("A", 200)
    conv.send("B", 10)
    conv.close()
    return conv


def _v0() -> Conversation:
    conv = Conversation(seed=4, version=0, checksum=True, dsn64=False, ack64=False)
    conv.connect()
    conv.send("A", 100)
    conv.add_addr("A", 2, "10.0.9.9")
    conv.mp_prio("A", address_id=0)
    conv.join()
    conv.send("A", 10, subflow=1, data_fin=True)
    conv.fastclose("B", rst=False)
    return conv


def _ipv6_two_subflows() -> Conversation:
    conv = Conversation(seed=5, ipv6=True)
    conv.connect()
    conv.send("B", 5000)
    conv.join("A", backup=True)
    conv.add_addr("B", 1, "fd00:4::1")
    conv.send("A", 2000, subflow=1, dsn32=True)
    conv.close("B")
    return conv


def _fallback() -> Conversation:
    conv = Conversation(seed=6)
    conv.connect(fallback=True)
    conv.send("A", 10)
    conv.send("B", 3000)
    conv.close()
    return conv


BUILDERS: dict[str, Callable[[], Conversation]] = {
    "everything": _everything,
    "v0": _v0,
    "ipv6": _ipv6_two_subflows,
    "fallback": _fallback,
}


def check_wire(conv: Conversation) -> None:
    """Frames 1..n at increasing times; ``tcp_options`` re-parse to ``mptcp``; at most 40 bytes."""
    assert [s.frame for s in conv.segments] == list(range(1, len(conv.segments) + 1))
    times = [s.time for s in conv.segments]
    assert times == sorted(times) and len(set(times)) == len(times)
    for seg in conv.segments:
        parsed, errors = scan_tcp_options(seg.tcp_options, version=conv.version)
        assert errors == ()
        assert parsed == seg.mptcp, seg.frame
        assert len(seg.tcp_options) <= 40 and len(seg.tcp_options) % 4 == 0
        assert seg.payload_len == len(seg.payload)


def check_tcp(conv: Conversation) -> None:
    """Per subflow and direction: new data starts at the next sequence number, old data is a
    retransmission; ACKs never cover unsent data and never go back."""
    nxt: dict[tuple[int, str], int] = {}
    last_ack: dict[tuple[int, str], int] = {}
    for seg in conv.segments:
        key = (conv.subflow_of(seg.frame), conv.side_of(seg.frame))
        other = (key[0], "B" if key[1] == "A" else "A")
        if seg.syn:
            nxt[key] = seg.seq
        gap = seq_diff(seg.seq, nxt[key])
        assert gap <= 0 and (gap == 0 or gap + seg.seq_space <= 0 or seg.rst), f"frame {seg.frame}"
        nxt[key] = (nxt[key] + max(0, gap + seg.seq_space)) % 2**32
        if seg.has_ack:
            assert seq_diff(seg.ack, nxt[other]) <= 0, f"frame {seg.frame} acks unsent data"
            assert seq_diff(seg.ack, last_ack.get(key, seg.ack)) >= 0, f"frame {seg.frame} ack went back"
            last_ack[key] = seg.ack


def check_data_level(conv: Conversation) -> None:
    """Bytes at a DSN are the same wherever sent; DATA_ACKs never go back and never cover unsent DSNs."""
    seen: dict[tuple[str, int], int] = {}
    sent_end = {side: conv.idsn(side) + 1 for side in ("A", "B")}
    last_ack = dict(sent_end)
    for seg in conv.segments:
        side, other = conv.side_of(seg.frame), "B" if conv.side_of(seg.frame) == "A" else "A"
        for option in seg.mptcp:
            if isinstance(option, MpCapable) and option.data_length:
                sent_end[side] = max(sent_end[side], conv.idsn(side) + 1 + option.data_length)
            if not isinstance(option, Dss):
                continue
            if option.data_ack is not None:
                ack = (
                    infer_dsn64(option.data_ack, last_ack[other])
                    if not option.data_ack_wide
                    else option.data_ack
                )
                assert last_ack[other] <= ack <= sent_end[other], f"frame {seg.frame}"
                last_ack[other] = ack
            if option.dsn is None or not option.data_level_length:
                continue
            dsn = option.dsn if option.dsn_wide else infer_dsn64(option.dsn, sent_end[side])
            sent_end[side] = max(sent_end[side], dsn + option.data_level_length)
            if option.data_level_length == seg.payload_len + option.data_fin and seg.payload_len:
                offset = dsn - conv.idsn(side) - 1
                for i, byte in enumerate(seg.payload):
                    assert seen.setdefault((side, offset + i), byte) == byte, f"frame {seg.frame}"
                assert seg.payload == pattern(side, offset, seg.payload_len)


@pytest.mark.parametrize("check", [check_wire, check_tcp, check_data_level])
@pytest.mark.parametrize("name", BUILDERS)
def test_built_conversations_are_consistent(name: str, check: Callable[[Conversation], None]) -> None:
    check(BUILDERS[name]())


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (5, 1), (255, 300), (256, 1424), (10**12, 700)])
def test_payload_pattern_is_the_documented_formula(offset: int, length: int) -> None:
    sides: tuple[tuple[Side, int], ...] = (("A", 0), ("B", 101))
    for side, salt in sides:
        assert pattern(side, offset, length) == bytes(
            ((offset + i) * 13 + salt) & 0xFF for i in range(length)
        )


def test_the_checks_catch_what_they_are_for() -> None:
    conv = Conversation(seed=9)
    conv.connect()
    frame = conv.send("A", 3000)[1]
    conv.data_ack("B", delta=1)
    with pytest.raises(AssertionError):
        check_data_level(conv)
    with pytest.raises(AssertionError):
        check_tcp(conv.with_segment(frame, seq=conv.segment(frame).seq + 1))
    with pytest.raises(AssertionError):
        check_wire(conv.with_segment(frame, mptcp=()))
    with pytest.raises(AssertionError):
        check_data_level(conv.with_segment(frame, payload=bytes(conv.segment(frame).payload_len)))


def test_v1_handshake_layout_keys_and_first_data() -> None:
    conv = Conversation(seed=11)
    assert conv.connect() == (1, 2, 3)
    assert conv.send("A", 100) == (4, 5)
    syn, synack, third, data, ack = conv.segments
    assert [len(serialize(s.mptcp[0])) for s in (syn, synack, third, data)] == [4, 12, 20, 22]
    assert syn.flags == SYN and synack.flags == SYN | ACK
    assert synack.mptcp[0] == MpCapable(1, 0x01, conv.keys["B"])
    assert third.mptcp[0] == MpCapable(1, 0x01, conv.keys["A"], conv.keys["B"])
    assert data.mptcp[0] == MpCapable(1, 0x01, conv.keys["A"], conv.keys["B"], 100)
    assert synack.ack == (syn.seq + 1) % 2**32 and third.ack == (synack.seq + 1) % 2**32
    assert ack.mptcp == (Dss(data_ack=conv.idsn("A") + 101, data_ack_wide=True),)
    assert ack.ack == (data.seq + 100) % 2**32
    first_dss = conv.send("A", 10)[0]
    mapping = conv.segment(first_dss).mptcp[0]
    assert isinstance(mapping, Dss) and mapping.dsn == conv.idsn("A") + 101 and mapping.ssn == 101


def test_the_module_docstring_example_produces_the_frames_it_names() -> None:
    conv = Conversation(seed=7)
    assert conv.connect() == (1, 2, 3)
    assert conv.send("A", 100) == (4, 5)
    assert conv.join("A", backup=True) == (6, 7, 8, 9) and conv.subflow_count == 2
    assert conv.send("B", 3000, subflow=1) == (10, 11, 12, 13)
    assert conv.close() == tuple(range(14, 26))
    assert conv.segment(4).mptcp == (MpCapable(1, 0x01, conv.keys["A"], conv.keys["B"], 100),)


def test_wrong_key_echo_reaches_every_later_mp_capable() -> None:
    conv = Conversation(seed=8)
    conv.connect(wrong_key_echo=True)
    conv.send("A", 10)
    echoes = [o.receiver_key for s in conv.segments for o in s.mptcp if isinstance(o, MpCapable)]
    assert echoes == [None, None, conv.keys["B"] ^ 1, conv.keys["B"] ^ 1]


def test_tcp_options_leave_room_like_linux() -> None:
    conv = Conversation(seed=1)
    conv.connect()
    syn, synack, third = conv.segments
    assert (len(syn.tcp_options), len(synack.tcp_options), len(third.tcp_options)) == (24, 32, 32)
    assert syn.tcp_options[:4] == bytes((2, 4, 1460 >> 8, 1460 & 0xFF))


def test_first_data_from_b_uses_dss_starting_at_idsn_plus_one() -> None:
    conv = Conversation(seed=12)
    conv.connect()
    frame = conv.send("B", 10)[0]
    mapping = conv.segment(frame).mptcp[0]
    assert mapping == Dss(  # 32-bit DATA_ACK until B receives a 64-bit DSN, as Linux
        data_ack=(conv.idsn("A") + 1) % 2**32,
        data_ack_wide=False,
        dsn=conv.idsn("B") + 1,
        dsn_wide=True,
        ssn=1,
        data_level_length=10,
    )
    reply = conv.send("A", 5)[0]
    assert isinstance(conv.segment(reply).mptcp[0], Dss)  # A saw B's DSS: no MP_CAPABLE with data


def test_v0_handshake_carries_keys_in_syn_and_synack() -> None:
    conv = Conversation(seed=13, version=0)
    conv.connect()
    lengths = [len(serialize(s.mptcp[0])) for s in conv.segments]
    assert lengths == [12, 12, 20]
    assert conv.segment(1).mptcp[0] == MpCapable(0, 0x01, conv.keys["A"])
    assert conv.token("B") == crypto.key_token(conv.keys["B"], 0)


@pytest.mark.parametrize(
    ("a", "b", "expected"), [(False, False, False), (False, True, True), (True, False, True)]
)
def test_checksum_is_on_when_either_side_asks(a: bool, b: bool, expected: bool) -> None:
    conv = Conversation(seed=14, checksum=a)
    conv.connect(checksum_b=b)
    conv.send("A", 30)
    conv.data_fin("A")
    assert conv.checksum is expected
    syn, synack = conv.segment(1).mptcp[0], conv.segment(2).mptcp[0]
    assert isinstance(syn, MpCapable) and isinstance(synack, MpCapable)
    assert (syn.checksum_required, synack.checksum_required) == (a, b)
    first = conv.segment(4).mptcp[0]
    assert isinstance(first, MpCapable) and (first.checksum is not None) is expected
    assert len(serialize(first)) == (24 if expected else 22)


def test_dss_checksums_verify_including_spanning_mappings_and_bare_data_fin() -> None:
    conv = Conversation(seed=15, checksum=True)
    conv.connect()
    span = conv.send("B", 3000, span=True)
    fin = conv.data_fin("B")[0]
    mapping = conv.segment(span[0]).mptcp[0]
    assert isinstance(mapping, Dss) and mapping.data_level_length == 3000 and mapping.checksum is not None
    assert mapping.dsn is not None and mapping.ssn is not None
    payload = b"".join(conv.segment(f).payload for f in span[:3])
    assert crypto.dss_checksum_ok(mapping.dsn, mapping.ssn, 3000, payload, mapping.checksum)
    assert all(conv.segment(f).mptcp[0] == mapping for f in span[:3])  # repeated on every segment
    bare = conv.segment(fin)
    dss = bare.mptcp[0]
    assert isinstance(dss, Dss) and dss.checksum is not None and bare.payload_len == 0
    assert (dss.data_fin, dss.ssn, dss.data_level_length, dss.dsn) == (True, 0, 1, conv.idsn("B") + 3001)
    assert crypto.dss_checksum_ok(conv.idsn("B") + 3001, 0, 1, b"", dss.checksum)
    ack = conv.segment(fin + 1).mptcp[0]
    assert isinstance(ack, Dss) and ack.data_ack == conv.idsn("B") + 3002


def test_mapping_only_on_first_segment_and_32_bit_fields() -> None:
    conv = Conversation(seed=16)
    conv.connect()
    frames = conv.send("B", 2500, span=True, repeat_dss=False, dsn32=True, ack32=True)
    first, second = (conv.segment(f).mptcp[0] for f in frames[:2])
    assert isinstance(first, Dss) and first.dsn == (conv.idsn("B") + 1) % 2**32 and not first.dsn_wide
    assert second == Dss(data_ack=(conv.idsn("A") + 1) % 2**32)


def test_join_token_and_hmacs_verify_and_fault_knobs_flip_them() -> None:
    conv = Conversation(seed=17)
    conv.connect()
    conv.send("B", 10)
    syn_f, synack_f, ack_f, fourth_f = conv.join("A", backup=True)
    syn, synack, ack = (conv.segment(f).mptcp[0] for f in (syn_f, synack_f, ack_f))
    assert isinstance(syn, MpJoinSyn) and isinstance(synack, MpJoinSynAck) and isinstance(ack, MpJoinAck)
    assert syn.token == conv.token("B") and syn.backup and conv.subflow_count == 2
    keys = conv.keys
    assert synack.truncated_hmac == crypto.join_synack_hmac(keys["B"], keys["A"], synack.nonce, syn.nonce)
    assert ack.hmac == crypto.join_ack_hmac(keys["A"], keys["B"], syn.nonce, synack.nonce)
    assert isinstance(conv.segment(fourth_f).mptcp[0], Dss) and conv.side_of(fourth_f) == "B"
    bad = Conversation(seed=17)
    bad.connect()
    bad.send("B", 10)
    frames = bad.join("A", backup=True, wrong_token=True, wrong_synack_hmac=True, wrong_ack_hmac=True)
    wrong = [bad.segment(f).mptcp[0] for f in frames[:3]]
    assert wrong[0] == MpJoinSyn(1, syn.address_id, syn.token ^ 1, syn.nonce)
    assert wrong[1] == MpJoinSynAck(0, 0, synack.truncated_hmac ^ 1, synack.nonce)
    assert wrong[2] != ack and isinstance(wrong[2], MpJoinAck) and len(wrong[2].hmac) == 20


def test_join_from_b_uses_a_token_and_v0_hmacs() -> None:
    conv = Conversation(seed=18, version=0)
    conv.connect()
    syn_f, synack_f, ack_f, _ = conv.join("B")
    syn, synack, ack = (conv.segment(f).mptcp[0] for f in (syn_f, synack_f, ack_f))
    assert isinstance(syn, MpJoinSyn) and isinstance(synack, MpJoinSynAck) and isinstance(ack, MpJoinAck)
    assert syn.token == crypto.key_token(conv.keys["A"], 0) and conv.side_of(syn_f) == "B"
    keys = conv.keys
    assert synack.truncated_hmac == crypto.join_synack_hmac(keys["A"], keys["B"], synack.nonce, syn.nonce, 0)
    assert ack.hmac == crypto.join_ack_hmac(keys["B"], keys["A"], syn.nonce, synack.nonce, 0)


def test_loss_holds_the_acks_and_reinjection_fills_the_data_level() -> None:
    conv = Conversation(seed=19)
    conv.connect()
    conv.send("B", 10)
    conv.join()
    frames = conv.send("A", 3000, subflow=1, lose=[1], segment_size=1400)
    lost = conv.segment(frames[1])
    ack = conv.segment(frames[-1])
    assert ack.ack == lost.seq  # subflow-level hole
    assert ack.mptcp[0] == Dss(data_ack=conv.idsn("A") + 1401, data_ack_wide=True)
    dss = lost.mptcp[0]
    assert isinstance(dss, Dss) and dss.dsn is not None
    again = conv.reinject("A", dss.dsn, 1400, subflow=0)
    reinjected = conv.segment(again[0])
    assert reinjected.payload == lost.payload and conv.subflow_of(again[0]) == 0
    assert conv.segment(again[-1]).mptcp[0] == Dss(data_ack=conv.idsn("A") + 3001, data_ack_wide=True)
    retransmitted = conv.retransmit(frames[1])
    assert conv.segment(retransmitted[0]).seq == lost.seq
    assert conv.segment(retransmitted[1]).ack == (lost.seq + 1600) % 2**32


def test_retransmission_with_a_wrong_dsn_keeps_a_valid_checksum() -> None:
    conv = Conversation(seed=20, checksum=True)
    conv.connect()
    frame = conv.send("B", 100)[0]
    again = conv.retransmit(frame, dsn_delta=7)[0]
    old, new = conv.segment(frame).mptcp[0], conv.segment(again).mptcp[0]
    assert isinstance(old, Dss) and isinstance(new, Dss) and old.dsn is not None and new.dsn is not None
    assert new.dsn == old.dsn + 7 and new.ssn == old.ssn and new.checksum is not None
    assert crypto.dss_checksum_ok(new.dsn, new.ssn or 0, 100, conv.segment(again).payload, new.checksum)


def test_checksum_faults() -> None:
    conv = Conversation(seed=21, checksum=True)
    conv.connect()
    wrong = conv.send("B", 50, wrong_checksum=True)
    dss = conv.segment(wrong[0]).mptcp[0]
    assert isinstance(dss, Dss) and dss.dsn is not None and dss.checksum is not None
    assert not crypto.dss_checksum_ok(dss.dsn, 1, 50, conv.segment(wrong[0]).payload, dss.checksum)
    assert conv.data_ack_value("A") == conv.idsn("B") + 1  # the receiver refused the data
    missing = conv.send("B", 50, omit_checksum=True)
    dss = conv.segment(missing[0]).mptcp[0]
    assert isinstance(dss, Dss) and dss.checksum is None and dss.has_mapping


def test_close_sends_data_fins_on_every_subflow_then_fins_like_linux() -> None:
    conv = Conversation(seed=22)
    conv.connect()
    conv.send("A", 20)
    conv.join()
    frames = conv.close()
    kinds = [(conv.side_of(f), conv.subflow_of(f), conv.segment(f).flags) for f in frames]
    a_fins = [("A", 0, FIN | ACK), ("A", 1, FIN | ACK)]
    b_fins = [("B", 0, FIN | ACK), ("B", 1, FIN | ACK)]
    acks = [(side, i, ACK) for side in "ABBA" for i in (0, 1)]
    assert kinds == [*acks[:6], *a_fins, *b_fins, ("A", 0, ACK), ("A", 1, ACK)]
    fin_a, fin_b = conv.idsn("A") + 21, conv.idsn("B") + 1
    for frame, side, dsn in zip(frames[:6], "AABBBB", [fin_a, fin_a, 0, 0, fin_b, fin_b], strict=True):
        option = conv.segment(frame).mptcp[0]
        assert isinstance(option, Dss) and conv.side_of(frame) == side
        if dsn:
            assert (option.dsn, option.ssn, option.data_level_length, option.data_fin) == (dsn, 0, 1, True)
        else:
            assert option.data_ack == fin_a + 1 and not option.has_mapping
    for frame in frames[6:8]:  # A's FINs acknowledge B's DATA_FIN, 64-bit as its DSN (RFC 8684 §3.3.2)
        assert conv.segment(frame).mptcp == (Dss(data_ack=fin_b + 1, data_ack_wide=True),)
    with pytest.raises(LocalProtocolError):
        conv.send("A", 1)


def test_add_addr_hmac_echo_remove_and_prio() -> None:
    conv = Conversation(seed=23)
    conv.connect()
    announce, echo = conv.add_addr("B", 4, "10.0.4.1", port=8080)
    option = conv.segment(announce).mptcp[0]
    assert isinstance(option, AddAddr) and option.truncated_hmac is not None
    expected = crypto.add_addr_hmac(conv.keys["B"], conv.keys["A"], 4, "10.0.4.1", 8080)
    assert option.truncated_hmac == expected
    assert conv.segment(echo).mptcp[0] == AddAddr(True, 4, "10.0.4.1", 8080)
    bad = conv.add_addr("A", 3, "10.0.3.1", wrong_hmac=True, echo=False)
    option = conv.segment(bad[0]).mptcp[0]
    assert isinstance(option, AddAddr) and option.truncated_hmac is not None
    assert option.truncated_hmac ^ 1 == crypto.add_addr_hmac(
        conv.keys["A"], conv.keys["B"], 3, "10.0.3.1", None
    )
    (removal,) = conv.remove_addr("B", (4,))
    assert conv.segment(removal).mptcp[1:] == (RemoveAddr((4,)),)  # after the DATA_ACK, as Linux
    (prio,) = conv.mp_prio("A")
    assert conv.segment(prio).mptcp[1:] == (MpPrio(1),)


def test_v0_add_addr_has_no_hmac_and_no_echo() -> None:
    conv = Conversation(seed=24, version=0)
    conv.connect()
    frames = conv.add_addr("A", 2, "fd00:3::1")
    assert len(frames) == 1 and conv.segment(frames[0]).mptcp[0] == AddAddrV0(6, 2, "fd00:3::1")


@pytest.mark.parametrize("rst", [True, False])
def test_fastclose_carries_the_receivers_key_and_resets_every_subflow(rst: bool) -> None:
    conv = Conversation(seed=25)
    conv.connect()
    conv.send("B", 10)
    conv.join()
    frames = conv.fastclose("A", rst=rst)
    segments = [conv.segment(f) for f in frames]
    assert {conv.subflow_of(f) for f in frames if conv.segment(f).rst} == {0, 1}
    carried = [o for s in segments for o in s.mptcp if not isinstance(o, MpTcpRst)]
    assert carried and all(o == MpFastclose(conv.keys["B"]) for o in carried)
    resets = [o for s in segments for o in s.mptcp if isinstance(o, MpTcpRst)]
    assert resets == ([MpTcpRst(0, TcpRstReason.UNSPECIFIED)] * 2 if rst else [])
    if not rst:
        assert not segments[0].rst and segments[-1].rst and conv.side_of(frames[-1]) == "B"
    wrong = Conversation(seed=25)
    wrong.connect()
    assert wrong.segment(wrong.fastclose("A", wrong_key=True)[0]).mptcp[0] == MpFastclose(conv.keys["B"] ^ 1)


def test_tcp_rst_with_reason_closes_the_subflow() -> None:
    conv = Conversation(seed=26)
    conv.connect()
    conv.send("B", 10)
    conv.join()
    (frame,) = conv.tcp_rst("B", subflow=1, reason=TcpRstReason.ADMINISTRATIVELY_PROHIBITED, transient=True)
    assert conv.segment(frame).flags == RST | ACK
    assert conv.segment(frame).mptcp[0] == MpTcpRst(1, TcpRstReason.ADMINISTRATIVELY_PROHIBITED)
    with pytest.raises(LocalProtocolError):
        conv.send("A", 1, subflow=1)


@pytest.mark.parametrize("retroactive", [False, True])
def test_mp_fail_then_infinite_mapping_falls_back(retroactive: bool) -> None:
    conv = Conversation(seed=27, checksum=True)
    conv.connect()
    conv.send("A", 100)
    bad = conv.send("A", 100, wrong_checksum=True)[0]
    fail, answer = conv.mp_fail("B")
    failed_at = conv.idsn("A") + 101
    assert MpFail(failed_at) in conv.segment(fail).mptcp and conv.side_of(answer) == "A"
    assert MpFail(conv.idsn("B") + 1) in conv.segment(answer).mptcp
    data, ack = conv.infinite_mapping("A", 50, retroactive=retroactive)
    infinite = conv.segment(data).mptcp[0]
    isn = conv.isn("A", 0)
    dsn, seq = (
        (failed_at, conv.segment(bad).seq) if retroactive else (failed_at + 100, conv.segment(data).seq)
    )
    assert isinstance(infinite, Dss) and infinite.is_infinite_mapping and infinite.checksum == 0
    assert (infinite.dsn, infinite.ssn) == (dsn, (seq - isn) % 2**32)
    assert conv.segment(ack).mptcp == () and not conv.mptcp
    after = conv.send("B", 10)
    assert all(conv.segment(f).mptcp == () for f in after)


def test_fallback_without_mp_capable_in_synack() -> None:
    conv = _fallback()
    assert [bool(s.mptcp) for s in conv.segments] == [True] + [False] * (len(conv.segments) - 1)
    with pytest.raises(LocalProtocolError):
        conv.join()


def test_injection_returns_a_copy_and_keeps_frame_numbers() -> None:
    conv = Conversation(seed=28)
    conv.connect()
    conv.send("A", 100)
    third = conv.segment(3).mptcp[0]
    assert isinstance(third, MpCapable)
    bad = conv.with_option(3, MpCapable(1, 0x01, third.sender_key, 0x1234))
    assert conv.segment(3).mptcp[0] == third
    assert bad.segment(3).mptcp == (MpCapable(1, 0x01, third.sender_key, 0x1234),)
    assert scan_tcp_options(bad.segment(3).tcp_options)[0] == bad.segment(3).mptcp
    assert [s.frame for s in bad.segments] == [s.frame for s in conv.segments]
    stripped = conv.without_option(5, Dss)
    assert stripped.segment(5).mptcp == () and len(stripped.segment(5).tcp_options) == 12
    moved = conv.with_segment(5, ack=7)
    assert moved.segment(5).ack == 7 and moved.segment(5).frame == 5
    moved.send("B", 10)  # the copy stays a working builder
    assert len(moved.segments) == len(conv.segments) + 2


def test_application_data_is_every_byte_sent_once_in_order() -> None:
    conv = Conversation(seed=34)
    conv.connect(data=100)
    conv.send("B", 2000)
    conv.join("B")
    frames = conv.send("A", 5000, subflow=1, lose=[2])
    mapped = conv.data_range(frames[2])
    assert mapped is not None
    conv.reinject("A", *mapped, subflow=0)
    conv.retransmit(frames[2])
    conv.close()
    streams: dict[Side, dict[int, bytes]] = {"A": {}, "B": {}}
    for seg in conv.segments:
        sender, mapped = conv.side_of(seg.frame), conv.data_range(seg.frame)
        if mapped and seg.payload_len:
            streams[sender].setdefault(mapped[0] - conv.idsn(sender) - 1, seg.payload)
    for side, pieces in streams.items():
        assert b"".join(pieces[k] for k in sorted(pieces)) == conv.application_data(side)
    assert len(conv.application_data("A")) == 5100 and len(conv.application_data("B")) == 2000


def test_data_ack_fault_knob_goes_beyond_sent() -> None:
    conv = Conversation(seed=29)
    conv.connect()
    conv.send("A", 100)
    (frame,) = conv.data_ack("B", delta=1000)
    assert conv.segment(frame).mptcp[0] == Dss(data_ack=conv.data_nxt("A") + 1000, data_ack_wide=True)


def test_options_that_do_not_fit_are_refused() -> None:
    conv = Conversation(seed=30, ipv6=True)
    conv.connect()
    with pytest.raises(LocalProtocolError):
        conv.add_addr("A", 1, "fd00:3::1", port=8080)  # 30 bytes + timestamps > 40


def test_same_seed_same_conversation() -> None:
    assert _everything().segments == _everything().segments
    assert Conversation(seed=1).keys != Conversation(seed=2).keys


@pytest.mark.parametrize("name", BUILDERS)
def test_written_pcap_reads_back_as_the_same_segments(name: str, tmp_path: pytest.TempPathFactory) -> None:
    conv = BUILDERS[name]()
    path = str(tmp_path / f"{name}.pcap")  # type: ignore[operator]
    conv.write(path)
    read = list(open_capture(path).segments())

    def essentials(s: Segment) -> tuple[object, ...]:
        return (
            s.frame,
            s.src,
            s.dst,
            s.sport,
            s.dport,
            s.seq,
            s.ack,
            s.flags,
            s.payload,
            s.tcp_options,
            s.mptcp,
        )

    assert [essentials(s) for s in read] == [essentials(s) for s in conv.segments]


# -- the Hypothesis strategies (mptcpspec.conformance.strategies) ------------------------------------------


@settings(max_examples=60, deadline=None)
@given(conversations(max_subflows=4, max_bursts=6))
def test_random_conversations_pass_the_wire_tcp_and_data_checks(conv: Conversation) -> None:
    check_wire(conv)
    check_tcp(conv)
    check_data_level(conv)
    closed = conv.mptcp and not conv.open_subflows() and not any(s.rst for s in conv.segments)
    if closed:  # every loss was repaired: both DATA_FINs and every byte before them are DATA_ACKed
        assert conv.data_ack_value("B") == conv.data_nxt("A")
        assert conv.data_ack_value("A") == conv.data_nxt("B")


@settings(max_examples=40, deadline=None)
@given(conversations())
def test_the_monitor_finds_no_violation_in_random_legal_conversations(conv: Conversation) -> None:
    report = validate_segments(conv.segments, complete=True)
    assert [f.message for f in report.findings if f.is_violation] == []


@settings(max_examples=40, deadline=None)
@given(segments(conversations(version=0, max_subflows=2)))
def test_segments_strategy_gives_parsed_wire_segments(seg: Segment) -> None:
    assert scan_tcp_options(seg.tcp_options, version=0) == (seg.mptcp, ())
    assert seg.frame >= 1 and seg.payload_len == len(seg.payload)
