"""Any segments at all, in any order, give findings and never an exception (h11's fuzz invariant)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.strategies import mptcp_options
from mptcpspec.spec.monitor import ConnectionMonitor
from mptcpspec.spec.rules import Finding
from mptcpspec.spec.segment import Segment

_ENDS = [
    ("10.0.0.1", 1000, "10.0.0.2", 80),
    ("10.0.0.2", 80, "10.0.0.1", 1000),
    ("10.0.1.1", 1001, "10.0.0.2", 80),
]


@st.composite
def segments(draw: st.DrawFn, frame: int) -> Segment:
    src, sport, dst, dport = draw(st.sampled_from(_ENDS))
    length = draw(st.integers(0, 3000))
    payload = draw(st.binary(max_size=64)) if draw(st.booleans()) else b"\0" * length
    return Segment(
        frame, float(frame), 4, src, dst, sport, dport,
        draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 255)),
        65535, length, payload, b"", tuple(draw(st.lists(mptcp_options(), max_size=3))),
    )  # fmt: skip


def _feed(monitor: ConnectionMonitor, segs: list[Segment], sides: list[bool]) -> list[Finding]:
    found: list[Finding] = []
    for seg, side in zip(segs, sides, strict=True):
        found += monitor.step(seg, side)
    return found + monitor.finish()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(1, 25), st.booleans(), st.booleans())
def test_random_segments_never_raise(data: st.DataObject, count: int, strict: bool, complete: bool) -> None:
    segs = [data.draw(segments(i + 1)) for i in range(count)]
    sides = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    monitor = ConnectionMonitor("fuzz", strict=strict, complete=complete)
    for finding in _feed(monitor, segs, sides):
        assert finding.message and finding.connection == "fuzz"
    assert isinstance(monitor.state, str)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(0, 2**16))
def test_a_real_conversation_with_random_options_swapped_in_never_raises(
    data: st.DataObject, seed: int
) -> None:
    conv = Conversation(
        seed=seed, checksum=data.draw(st.booleans()), version=data.draw(st.sampled_from([0, 1]))
    )
    conv.connect()
    conv.send("A", 3000)
    conv.join("B" if conv.version else "A")
    conv.send("B", 2000, subflow=1)
    conv.close()
    segs = list(conv.segments)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(segs) - 1))
        segs[i] = Segment(**{**{f: getattr(segs[i], f) for f in Segment.__slots__},
                             "mptcp": tuple(data.draw(st.lists(mptcp_options(), max_size=2)))})  # fmt: skip
    order = data.draw(st.permutations(range(len(segs)))) if data.draw(st.booleans()) else range(len(segs))
    picked = [segs[i] for i in order]
    monitor = ConnectionMonitor("c")
    _feed(monitor, picked, [conv.side_of(s.frame) == "A" for s in picked])
