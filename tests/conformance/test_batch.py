"""Many inputs at once (mptcpspec.conformance.batch): expansion, processes and Dask give the serial
result in the same order, and ``run_validate`` writes every output ``validate`` offers."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from violations import checksum_violation

from mptcpspec.conformance import batch
from mptcpspec.conformance.batch import BatchError, OutputOptions, expand_inputs, run_validate, validate_many
from mptcpspec.conformance.conversation import Conversation
from mptcpspec.conformance.report import reports_to_json

CORPUS = Path(__file__).resolve().parents[2] / "traces"


def clean(path: Path, seed: int) -> Path:
    """A legal v1 connection with a second subflow, data both ways and a full close."""
    conv = Conversation(seed=seed)
    conv.connect()
    conv.send("A", 3000)
    conv.join("A")
    conv.send("B", 2000, subflow=1)
    conv.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    conv.write(str(path))
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """archive/{b.pcap, sub/a.pcap, sub/deeper/c.pcapng-as-pcap, notes.txt, bad.pcap (a checksum error)}."""
    root = tmp_path / "archive"
    clean(root / "b.pcap", 1)
    clean(root / "sub" / "a.pcap", 2)
    clean(root / "sub" / "deeper" / "c.cap", 3)
    checksum_violation(root / "bad.pcap")
    (root / "notes.txt").write_text("not a capture\n")
    return root


def test_expand_inputs_is_recursive_sorted_and_keeps_argument_order(archive: Path, tmp_path: Path) -> None:
    listed = expand_inputs([str(archive / "notes.txt"), str(archive), str(archive / "b.pcap")])
    names = [Path(p).relative_to(archive).as_posix() for p in listed]
    assert names == ["notes.txt", "b.pcap", "bad.pcap", "sub/a.pcap", "sub/deeper/c.cap"]
    assert expand_inputs([str(tmp_path / "missing.pcap")]) == [str(tmp_path / "missing.pcap")]


def test_unusable_inputs_are_reports_not_exceptions(archive: Path, tmp_path: Path) -> None:
    missing, text = validate_many([str(tmp_path / "missing.pcap"), str(archive / "notes.txt")])
    assert (missing.error, missing.packets) == ("no such file", 0)
    assert text.error is not None and text.connections == ()


def test_jobs_give_the_serial_output(archive: Path) -> None:
    serial = reports_to_json(validate_many([str(archive)]))
    parallel = reports_to_json(validate_many([str(archive)], jobs=2))
    assert parallel == serial
    files = json.loads(serial)["files"]
    assert [Path(f["path"]).name for f in files] == ["b.pcap", "bad.pcap", "a.pcap", "c.cap"]
    assert [f["findings"][0]["rule"] for f in files if f["findings"]] == ["dss.checksum"]


@pytest.mark.skipif(not any(CORPUS.glob("*.pcap*")), reason="the capture corpus (traces/) is not there yet")
def test_jobs_2_on_the_corpus_match_serial() -> None:
    serial = reports_to_json(validate_many([str(CORPUS)]))
    assert reports_to_json(validate_many([str(CORPUS)], jobs=2)) == serial
    assert len(json.loads(serial)["files"]) == len(expand_inputs([str(CORPUS)]))


def test_bad_settings_fail_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BatchError, match="jobs must be at least 1"):
        validate_many(["x.pcap"], jobs=0)
    with pytest.raises(ValueError, match="empty rule pattern"):
        validate_many(["x.pcap"], rules="dss.*,")
    monkeypatch.setitem(sys.modules, "distributed", None)  # an install without the dask extra
    with pytest.raises(BatchError, match=r"pip install 'mptcpspec\[dask\]'"):
        validate_many(["x.pcap"], dask="tcp://127.0.0.1:8786")


def test_dask_local_cluster_gives_the_serial_output(archive: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    inputs = [str(archive)] + ([str(CORPUS)] if CORPUS.is_dir() else [])
    serial = reports_to_json(validate_many(inputs))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        on_dask = reports_to_json(validate_many(inputs, dask=cluster.scheduler_address))
    assert on_dask == serial


def test_unreachable_dask_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    monkeypatch.setattr(batch, "DASK_CONNECT_SECONDS", 1)
    with pytest.raises(BatchError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        validate_many(["x.pcap"], dask="tcp://127.0.0.1:9")


def test_run_validate_text_streams_files_then_the_summary(archive: Path) -> None:
    out = io.StringIO()
    status = run_validate([str(archive / "b.pcap"), str(archive / "bad.pcap")], out, OutputOptions())
    text = out.getvalue()
    assert status == 1
    assert text.index("b.pcap: ") < text.index("bad.pcap: ") < text.index("summary: 2 files")
    assert "dss.checksum" in text and "\x1b[" not in text


def test_run_validate_json_junit_annotate_and_html(archive: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    outputs = OutputOptions(
        format="json",
        junit=str(tmp_path / "junit.xml"),
        annotate=str(tmp_path / "annotated"),
        report_dir=str(tmp_path / "html"),
    )
    status = run_validate([str(archive)], out, outputs, jobs=2)
    assert status == 1  # the walk skips notes.txt; bad.pcap has a violation
    document = json.loads(out.getvalue())
    assert document["summary"]["files"] == 4
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 4
    pages = sorted(p.name for p in (tmp_path / "html").iterdir())
    assert pages == ["a.pcap.html", "b.pcap.html", "bad.pcap.html", "c.cap.html", "index.html"]
    assert "<svg" in (tmp_path / "html" / "bad.pcap.html").read_text(encoding="utf-8")
    annotated = sorted(p.name for p in (tmp_path / "annotated").iterdir())
    with_findings = sorted(
        Path(f["path"]).name + ".annotated.pcapng" for f in document["files"] if f["findings"]
    )
    assert "bad.pcap.annotated.pcapng" in annotated
    assert annotated == with_findings  # several inputs: only captures with findings get a copy


def test_json_output_never_gets_a_progress_bar(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    run_validate([str(archive)], io.StringIO(), OutputOptions(format="json"))
    assert stderr.getvalue() == ""
