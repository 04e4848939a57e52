"""Property: random legal conversations (the project's builder) never give a violation, and one wrong
HMAC, token or key anywhere in them is always caught with its own rule."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mptcpspec.conformance.conversation import Conversation, Side
from mptcpspec.conformance.replay import validate_segments
from mptcpspec.spec.rules import Verdict

SIDES: st.SearchStrategy[Side] = st.sampled_from(["A", "B"])


def _build(data: st.DataObject, conv: Conversation, steps: int) -> None:
    conv.connect()
    conv.send("B", data.draw(st.integers(1, 3000)))
    for _ in range(steps):
        action = data.draw(
            st.sampled_from(["send", "send", "join", "add_addr", "reinject", "data_ack", "prio"])
        )
        side = data.draw(SIDES)
        subflows = conv.open_subflows()
        if action == "send":
            conv.send(
                side,
                data.draw(st.integers(1, 6000)),
                subflow=data.draw(st.sampled_from(subflows)),
                span=data.draw(st.booleans()),
            )
        elif action == "join" and len(subflows) < 4:
            conv.join(side, backup=data.draw(st.booleans()))
        elif action == "add_addr":  # an address ID keeps its address (RFC 8684 §3.4.1)
            address_id = data.draw(st.integers(10, 20))
            conv.add_addr(side, address_id, f"10.{10 + (side == 'B')}.{address_id}.9")
        elif action == "reinject" and conv.data_nxt(side) > conv.idsn(side) + 1:
            first = conv.idsn(side) + 1
            start = data.draw(st.integers(first, conv.data_nxt(side) - 1))
            length = data.draw(st.integers(1, conv.data_nxt(side) - start))
            conv.reinject(side, start, length, subflow=data.draw(st.sampled_from(subflows)))
        elif action == "data_ack":
            conv.data_ack(side, subflow=data.draw(st.sampled_from(subflows)))
        elif action == "prio":
            conv.mp_prio(side, backup=data.draw(st.booleans()), subflow=data.draw(st.sampled_from(subflows)))
    conv.close(data.draw(SIDES))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    version=st.sampled_from([0, 1]),
    checksum=st.booleans(),
    dsn64=st.booleans(),
    steps=st.integers(0, 8),
)
def test_random_legal_conversations_are_clean(
    data: st.DataObject, version: int, checksum: bool, dsn64: bool, steps: int
) -> None:
    conv = Conversation(
        seed=data.draw(st.integers(0, 2**16)), version=version, checksum=checksum, dsn64=dsn64
    )
    _build(data, conv, steps)
    report = validate_segments(conv.segments, complete=True)
    assert [(f.rule.id, f.frames, f.message) for f in report.findings if f.verdict is not Verdict.NOTE] == []
    (conn,) = report.connections
    assert conn.state == "A time-wait, B closed" or conn.state == "A closed, B time-wait"


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    version=st.sampled_from([0, 1]),
    fault=st.sampled_from(["wrong_token", "wrong_synack_hmac", "wrong_ack_hmac"]),
    initiator=SIDES,
)
def test_a_wrong_join_value_is_always_caught(seed: int, version: int, fault: str, initiator: Side) -> None:
    conv = Conversation(seed=seed, version=version)
    conv.connect()
    conv.send("B", 500)
    conv.send("A", 500)
    frames = conv.join(initiator, **{fault: True})  # type: ignore[arg-type]
    report = validate_segments(conv.segments, complete=True)
    rule = {
        "wrong_token": "join.token",
        "wrong_synack_hmac": "join.synack-hmac",
        "wrong_ack_hmac": "join.ack-hmac",
    }
    frame = {"wrong_token": frames[0], "wrong_synack_hmac": frames[1], "wrong_ack_hmac": frames[2]}
    assert [(f.rule.id, f.frames[0]) for f in report.findings if f.is_violation] == [
        (rule[fault], frame[fault])
    ]
