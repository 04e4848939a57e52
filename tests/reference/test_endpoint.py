"""The reference endpoint against itself on the in-process network: one test per protocol feature.

Each test looks at what went over the wire (the options each side sent) and at what the application saw.
"""

from __future__ import annotations

import random

import pytest
from pairs import CLIENT, CLIENT_2, PORT, SERVER, SERVER_2, Pair, exchange

from mptcpspec.reference import events as ev
from mptcpspec.reference.endpoint import Endpoint
from mptcpspec.reference.sim import Network, Path, Simulation
from mptcpspec.reference.state import Config, Role
from mptcpspec.spec.crypto import key_idsn, key_token
from mptcpspec.spec.errors import RemoteProtocolError
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
    MpTcpRst,
    RemoveAddr,
    TcpRstReason,
)
from mptcpspec.spec.segment import ACK, RST, SYN, Segment


def _options(segments: list[Segment], kind: type) -> list[tuple[Segment, object]]:
    return [(s, o) for s in segments for o in s.mptcp if isinstance(o, kind)]


def test_mp_capable_handshake_with_data_on_the_third_ack() -> None:
    pair = Pair()
    pair.client.send(b"hello" * 1000)  # queued before the SYN/ACK arrives: the third ACK carries data
    pair.connect()
    exchange(pair, b"", b"world")
    sent = pair.client_log.sent
    syn = sent[0]
    assert syn.flags == SYN and syn.mptcp == (MpCapable(1, 0x01),)
    synack = pair.server_log.sent[0]
    (offer,) = synack.mptcp
    assert isinstance(offer, MpCapable) and offer.sender_key == pair.server.state.local_key
    third = sent[1]
    assert third.flags & ACK and third.payload_len > 0
    keys = (pair.client.state.local_key, pair.server.state.local_key)
    assert third.mptcp == (MpCapable(1, 0x01, *keys, data_length=third.payload_len),)
    later = [o for s, o in _options(sent, Dss) if o.dsn is not None and not o.data_fin]
    assert later and later[0].dsn == key_idsn(keys[0]) + 1 + third.payload_len
    assert pair.received("server") == b"hello" * 1000 and pair.received("client") == b"world"
    assert pair.client.closed and pair.server.closed


def test_mp_capable_handshake_without_data_then_listener_first() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    pair.server.send(b"server speaks first")
    exchange(pair, b"then the client", b"")
    third = pair.client_log.sent[1]
    keys = (pair.client.state.local_key, pair.server.state.local_key)
    assert third.flags == ACK and third.payload_len == 0 and third.mptcp == (MpCapable(1, 0x01, *keys),)
    first_data = next(s for s in pair.client_log.sent if s.payload_len)
    assert first_data.mptcp == (MpCapable(1, 0x01, *keys, data_length=first_data.payload_len),)
    assert pair.received("client") == b"server speaks first"
    assert pair.received("server") == b"then the client"


def test_join_with_backup_flag_keeps_data_off_the_backup() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    pair.client.open_subflow(CLIENT_2, backup=True)  # its SYN waits for a DSS from the listener (§3.1)
    pair.client.send(b"x")
    pair.run(1.0, lambda sim: pair.client.state.dss_seen)
    pair.run(2.0, lambda sim: len(pair.events("server", ev.SubflowEstablished)) == 2)
    (join,) = [o for _, o in _options(pair.client_log.sent, MpJoinSyn)]
    assert join.backup
    assert pair.events("server", ev.SubflowEstablished)[1].backup
    exchange(pair, bytes(200_000), bytes(200_000))
    assert pair.received("server") == b"x" + bytes(200_000)
    backup = pair.client.state.subflows[1]
    assert backup.snd_una - backup.iss <= 2 and pair.server.state.subflows[1].snd_una - backup.irs <= 2


def test_data_fin_is_acknowledged_both_ways_before_subflow_fins() -> None:
    pair = Pair()
    pair.connect()
    exchange(pair, b"a" * 10, b"b" * 10)
    for log, endpoint in ((pair.client_log, pair.client), (pair.server_log, pair.server)):
        fins = [o for _, o in _options(log.sent, Dss) if o.data_fin]
        assert fins and fins[0].data_level_length == 1 and fins[0].ssn == 0
        assert fins[0].dsn == key_idsn(endpoint.state.local_key) + 1 + 10
    closed = pair.events("client", ev.ConnectionClosed)
    assert closed == [ev.ConnectionClosed(reset=False, reason="closed")]


def test_checksum_asked_by_listener_is_used_both_ways() -> None:
    pair = Pair(server_config=Config(checksum=True))
    pair.connect()
    exchange(pair, bytes(range(256)) * 40, b"x" * 3000)
    assert pair.events("client", ev.ConnectionEstablished)[0].checksum
    mappings = [o for _, o in _options(pair.client_log.sent + pair.server_log.sent, Dss) if o.dsn is not None]
    assert mappings and all(o.checksum is not None for o in mappings)
    third = pair.client_log.sent[1].mptcp[0]
    assert isinstance(third, MpCapable) and third.checksum_required
    assert pair.received("server") == bytes(range(256)) * 40


def test_fallback_when_a_middlebox_strips_options() -> None:
    pair = Pair([Path(CLIENT, SERVER, strip=True)])
    pair.connect()
    exchange(pair, b"plain tcp" * 500, b"ok")
    assert pair.events("client", ev.ConnectionEstablished) == [ev.ConnectionEstablished(True, False)]
    assert pair.events("server", ev.ConnectionEstablished) == [ev.ConnectionEstablished(True, False)]
    assert all(not s.mptcp for s in pair.client_log.sent[1:])
    assert pair.received("server") == b"plain tcp" * 500 and pair.received("client") == b"ok"
    assert pair.client.closed and pair.server.closed


def test_add_addr_is_verified_echoed_and_joined() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    address_id = pair.server.add_address(SERVER_2)
    exchange(pair, bytes(400_000), b"done")
    (announce,) = [o for _, o in _options(pair.server_log.sent, AddAddr)][:1]
    assert announce.address == SERVER_2 and announce.truncated_hmac is not None
    echoes = [o for _, o in _options(pair.client_log.sent, AddAddr)]
    assert echoes[0] == AddAddr(True, address_id, SERVER_2)
    assert pair.events("client", ev.AddressAnnounced) == [ev.AddressAnnounced(address_id, SERVER_2, None)]
    joins = [s for s, _ in _options(pair.client_log.sent, MpJoinSyn)]
    assert joins[0].dst == SERVER_2 and joins[0].mptcp[0].token == key_token(pair.server.state.local_key)
    assert _options(pair.server_log.sent, MpJoinSynAck) and _options(pair.client_log.sent, MpJoinAck)
    assert {e.subflow for e in pair.events("server", ev.SubflowEstablished)} == {0, 1}
    second = pair.client.state.subflows[1]
    assert second.snd_una - second.iss > 10_000  # the scheduler used the joined subflow
    assert pair.received("server") == bytes(400_000)


def test_forged_add_addr_is_ignored_and_judged() -> None:
    for strict in (True, False):
        pair = Pair(strict=strict)
        pair.connect()
        assert pair.established()
        sf = pair.server.state.subflows[0]
        forged = _with_options(
            pair.server_log.sent[-1], sf.snd_nxt, (AddAddr(False, 5, SERVER_2, None, 0x1234),)
        )
        if strict:
            with pytest.raises(RemoteProtocolError, match=r"add-addr\.hmac"):
                pair.client.receive(forged, pair.sim.now)
            continue
        pair.client.receive(forged, pair.sim.now)
        pair.run(1.0, lambda sim: False)
        assert not pair.events("client", ev.AddressAnnounced)
        assert not [o for _, o in _options(pair.client_log.sent, AddAddr)]
        assert [f.rule.id for f in pair.client.findings if f.is_violation] == ["add-addr.hmac"]


def _with_options(template: Segment, seq: int, options: tuple) -> Segment:
    from dataclasses import replace

    from mptcpspec.reference.wire import tcp_options

    return replace(
        template,
        seq=seq & 0xFFFFFFFF,
        flags=ACK,
        payload=b"",
        payload_len=0,
        mptcp=options,
        tcp_options=tcp_options(None, options),
    )


def test_join_with_unknown_token_is_refused() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    syn = Segment(
        0,
        0.0,
        4,
        CLIENT_2,
        SERVER,
        40000,
        PORT,
        1000,
        0,
        SYN,
        65535,
        0,
        mptcp=(MpJoinSyn(0, 3, 0xDEADBEEF, 42),),
    )
    pair.server.receive(syn, pair.sim.now)
    replies = pair.server.segments_to_send(pair.sim.now)
    assert [r.flags & RST for r in replies if r.dport == 40000] == [RST]
    assert len(pair.server.state.subflows) == 1


def test_remove_addr_resets_the_subflow_and_data_moves_over() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    pair.run(1.0, lambda sim: pair.client.state.dss_seen)
    pair.client.open_subflow(CLIENT_2)
    pair.run(2.0, lambda sim: len(pair.events("client", ev.SubflowEstablished)) == 2)
    pair.client.send(bytes(200_000))
    pair.run(2.0, lambda sim: len(pair.received("server")) > 50_000)
    pair.client.remove_address(CLIENT_2)
    exchange(pair, b"", b"bye")
    assert [o for _, o in _options(pair.client_log.sent, RemoveAddr)] == [RemoveAddr((1,))]
    resets = [s for s in pair.client_log.sent if s.rst and s.src == CLIENT_2]
    assert resets and isinstance(resets[0].mptcp[0], MpTcpRst)
    assert pair.events("server", ev.AddressRemoved) == [ev.AddressRemoved(1)]
    assert ev.SubflowClosed(1, True, 0) in pair.events("server", ev.SubflowClosed)
    assert pair.received("server") == bytes(200_000)


def test_mp_prio_backup_keeps_the_peer_off_the_subflow() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    pair.server.add_address(SERVER_2)
    pair.run(3.0, lambda sim: len(pair.events("client", ev.SubflowEstablished)) == 2)
    pair.client.set_backup(1, True)
    pair.run(1.0, lambda sim: pair.server.state.subflows[1].peer_backup)
    assert [o for _, o in _options(pair.client_log.sent, MpPrio)] == [MpPrio(1)]
    before = pair.server.state.subflows[1].snd_nxt
    pair.server.send(bytes(300_000))
    pair.run(5.0, lambda sim: len(pair.received("client")) == 300_000)
    assert pair.server.state.subflows[1].snd_nxt == before


def test_fast_close_resets_everything_with_the_peer_key() -> None:
    pair = Pair()
    pair.connect()
    assert pair.established()
    pair.client.send(bytes(50_000))
    pair.run(1.0, lambda sim: len(pair.received("server")) > 10_000)
    pair.client.abort()
    pair.run(2.0)
    rst = [s for s in pair.client_log.sent if s.rst]
    assert rst and rst[0].mptcp == (MpFastclose(pair.server.state.local_key),)
    assert pair.events("client", ev.ConnectionClosed) == [ev.ConnectionClosed(True, "fast close")]
    assert pair.events("server", ev.ConnectionClosed) == [ev.ConnectionClosed(True, "peer fast close")]


def test_path_failure_mid_transfer_completes_on_the_other_path() -> None:
    pair = Pair([Path(CLIENT, SERVER), Path(CLIENT, SERVER_2, fail_at=0.08)])
    pair.connect()
    assert pair.established()
    pair.server.add_address(SERVER_2)
    pair.run(1.0, lambda sim: len(pair.events("client", ev.SubflowEstablished)) == 2)
    exchange(pair, bytes(range(256)) * 4000, b"end")
    assert pair.received("server") == bytes(range(256)) * 4000
    assert pair.client.closed and pair.server.closed
    assert any(e.reset for e in pair.events("client", ev.SubflowClosed))


def test_ipv6_connection_with_an_announced_address_and_a_join() -> None:
    client_address, server_address, server_second = "fd00:1::1", "fd00:1::2", "fd00:2::2"
    rng = random.Random(6)
    client = Endpoint(Role.CLIENT, Config(random=rng.randbytes, strict=True))
    server = Endpoint(Role.SERVER, Config(random=rng.randbytes, strict=True))
    paths = [Path(client_address, server_address), Path(client_address, server_second)]
    sim = Simulation(client, server, Network(paths, rng), frozenset({server_address, server_second}))
    client.send(bytes(range(256)) * 800)
    client.close()
    client.connect((client_address, None), (server_address, PORT), 0.0)

    def step(sim: Simulation) -> None:
        if server.state.established and not server.state.pm.local_ids.get(server_second):
            server.add_address(server_second)
        if sim.events["server"] and isinstance(sim.events["server"][-1], ev.StreamEnded):
            server.close()

    assert sim.run(30.0, lambda sim: client.closed and server.closed, step)
    received = b"".join(e.data for e in sim.events["server"] if isinstance(e, ev.DataReceived))
    assert received == bytes(range(256)) * 800
    assert ev.AddressAnnounced(1, server_second, None) in sim.events["client"]
    assert {e.remote[0] for e in sim.events["client"] if isinstance(e, ev.SubflowEstablished)} == {
        server_address,
        server_second,
    }


def test_payload_edited_on_one_path_is_caught_by_checksums_and_resent_on_the_other() -> None:
    pair = Pair(
        [Path(CLIENT, SERVER), Path(CLIENT_2, SERVER, corrupt=1.0)],
        client_config=Config(checksum=True),
        strict=False,
    )
    pair.connect()
    assert pair.established()
    pair.client.open_subflow(CLIENT_2)
    exchange(pair, bytes(range(256)) * 2000, b"fine")
    assert pair.received("server") == bytes(range(256)) * 2000
    resets = [s for s in pair.server_log.sent if s.rst and s.dst == CLIENT_2]
    assert resets and {type(o) for o in resets[0].mptcp} == {MpTcpRst, MpFail}
    closed = [e for e in pair.events("server", ev.SubflowClosed) if e.subflow == 1]
    assert closed == [ev.SubflowClosed(1, True, TcpRstReason.MIDDLEBOX_INTERFERENCE)]
    # The server's monitor sees the edited bytes first and the reinjected ones later at the same DSNs; it
    # cannot tell the middlebox from the sender, hence its data-consistency finding (and nothing else).
    found = {f.rule.id for f in pair.client.findings + pair.server.findings if f.is_violation}
    assert found <= {"dss.data-consistent"}
