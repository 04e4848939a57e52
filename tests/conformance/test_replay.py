"""The trace checker: captures and segment streams to ``FileReport``s (connections, findings, notes)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mptcpspec.capture.writer import write_pcap
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.replay import _Demux, validate_file, validate_segments
from mptcpspec.spec.events import MonitorEvent
from mptcpspec.spec.rules import Verdict
from mptcpspec.spec.segment import Segment

TRACES = Path(__file__).resolve().parents[2] / "traces"
CORPUS = sorted(p for p in TRACES.glob("*.pcap*"))


@pytest.mark.skipif(not CORPUS, reason="no kernel captures committed in traces/")
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_kernel_corpus_has_no_violation(path: Path) -> None:
    report = validate_file(path)
    assert report.error is None
    assert [(f.rule.id, f.frames, f.message) for f in report.findings if f.is_violation] == []
    assert report.connections and report.packets > 0


def _corpus(name: str) -> Path:
    path = TRACES / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    return path


def test_join_capture_is_one_connection_with_two_known_subflows() -> None:
    (conn,) = validate_file(_corpus("join.pcap")).connections
    assert conn.version == 1 and None not in conn.keys and None not in conn.tokens
    assert [s.kind for s in conn.subflows] == ["initial", "join"]
    assert [s.opened_by for s in conn.subflows] == ["A", "A"]
    assert conn.subflows[0].address_ids == (0, 0) and conn.state == "A time-wait, B closed"
    assert conn.data_bytes[0] > 0 and conn.checks > 50


def test_fallback_and_fastclose_end_states() -> None:
    (fallback,) = validate_file(_corpus("fallback-tcp-server.pcap")).connections
    assert fallback.fallback == "SYN/ACK without MP_CAPABLE" and fallback.state == "fallback"
    (closed,) = validate_file(_corpus("fastclose.pcap")).connections
    assert closed.state == "fastclosed" and "fastclose" in {s.end for s in closed.subflows}


def test_series_points_follow_the_data() -> None:
    report = validate_file(_corpus("join.pcap"), series=True)
    (conn,) = report.connections
    kinds = {p.kind for p in conn.series}
    assert {"data", "data_ack"} <= kinds
    sent = max(p.dsn + p.length for p in conn.series if p.direction == "A>B" and p.kind != "data_ack")
    assert sent == conn.data_bytes[0] + 1  # DSNs relative to the IDSN: the first byte is 1


def test_unusable_inputs_give_an_error_or_notes_never_an_exception(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    report = validate_file(text)
    assert report.error and report.connections == () and report.violations == 0
    missing = validate_file(tmp_path / "absent.pcap")
    assert missing.error and "cannot open" in missing.error
    conv = Conversation(seed=3)
    conv.connect()
    conv.send("A", 5000)
    good = tmp_path / "good.pcap"
    conv.write(str(good))
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(good.read_bytes()[:-37])
    truncated = validate_file(cut)
    assert truncated.error is None and truncated.notes and truncated.violations == 0
    zipped = tmp_path / "good.pcap.gz"
    zipped.write_bytes(gzip.compress(good.read_bytes()))
    assert len(validate_file(zipped).connections) == 1


def test_plain_tcp_is_not_a_connection(tmp_path: Path) -> None:
    conv = Conversation(seed=4)
    conv.connect(fallback=True)
    plain = [s for s in conv.segments if not s.mptcp]
    path = tmp_path / "plain.pcap"
    write_pcap(path, plain)
    report = validate_file(path)
    assert report.packets == len(plain) and report.connections == () and report.findings == ()


def test_join_with_a_wrong_token_is_tied_to_its_connection_by_the_hmac() -> None:
    conv = Conversation(seed=5)
    conv.connect()
    conv.send("B", 100)
    frames = conv.join("A", wrong_token=True)
    report = validate_segments(conv.segments)
    (conn,) = report.connections
    assert len(conn.subflows) == 2
    assert [(f.rule.id, f.frames[0]) for f in report.findings if f.is_violation] == [
        ("join.token", frames[0])
    ]


def test_join_to_an_unseen_connection_is_partial_and_undetermined() -> None:
    conv = Conversation(seed=6)
    conv.connect()
    conv.send("B", 100)
    conv.join("A")
    report = validate_segments(conv.segments[5:])
    (conn,) = report.connections
    assert conn.keys == (None, None) and report.violations == 0
    undetermined = {f.rule.id for f in report.findings if f.verdict is Verdict.UNDETERMINED}
    assert {"join.token", "join.synack-hmac", "join.ack-hmac"} <= undetermined


def test_connections_one_after_another_are_summarised_and_dropped() -> None:
    segments: list[Segment] = []
    for seed in range(30):
        conv = Conversation(seed=seed, start_time=1e9 + seed)
        conv.connect()
        conv.send("A", 200)
        conv.close()
        segments += conv.segments
    frames = [dataclasses.replace(s, frame=i + 1) for i, s in enumerate(segments)]
    demux = _Demux(strict=False, rules=None, series=False, complete=False, retire_after=20)
    peak = 0
    for seg in frames:
        demux.feed(seg)
        peak = max(peak, len(demux.flows))
    summaries, findings = demux.finish()
    assert len(summaries) == 30 and [f for f in findings if f.is_violation] == []
    assert peak <= 3 * 2  # the live connection and the closed ones awaiting their stragglers


def test_trace_receives_every_connections_events() -> None:
    conv = Conversation(seed=7)
    conv.connect()
    conv.send("A", 100)
    events: list[MonitorEvent] = []
    validate_segments(conv.segments, trace=events.append)
    assert {e.connection for e in events} == {"c1"}
    assert ("connection", "syn-sent") in {(e.machine, e.after) for e in events}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(24, 10**6), st.integers(0, 255)), min_size=1, max_size=20))
def test_mutated_captures_give_a_report_never_an_exception(
    tmp_path: Path, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(_corpus("join.pcap").read_bytes())
    for offset, value in flips:
        data[offset % len(data)] = value
    path = tmp_path / "mutated.pcap"
    path.write_bytes(bytes(data))
    report = validate_file(path)
    assert report.error is None or report.connections == ()
