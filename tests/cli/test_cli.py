"""The command line: thin wrappers, one-line errors, documented exit statuses."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest
from violations import checksum_violation

from mptcpspec import __version__
from mptcpspec.cli import main

TRACES = Path(__file__).resolve().parents[2] / "traces"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mptcpspec {__version__}"


def test_crypto_token_and_idsn_match_sha256_of_the_key() -> None:
    key = 0x0123456789ABCDEF
    digest = hashlib.sha256(key.to_bytes(8, "big")).digest()
    assert run("crypto", "token", hex(key)) == (0, f"0x{digest[:4].hex()}\n")
    assert run("crypto", "idsn", hex(key)) == (0, f"0x{digest[-8:].hex()}\n")
    v0 = hashlib.sha1(key.to_bytes(8, "big")).digest()
    assert run("crypto", "token", "--v0", hex(key)) == (0, f"0x{v0[:4].hex()}\n")


def test_crypto_join_hmacs() -> None:
    key_a, key_b, nonce_a, nonce_b = 0x1111, 0x2222, 0xAAAA, 0xBBBB
    k = lambda x: x.to_bytes(8, "big")  # noqa: E731
    n = lambda x: x.to_bytes(4, "big")  # noqa: E731
    synack = hmac.new(k(key_b) + k(key_a), n(nonce_b) + n(nonce_a), hashlib.sha256).digest()[:8]
    ack = hmac.new(k(key_a) + k(key_b), n(nonce_a) + n(nonce_b), hashlib.sha256).digest()[:20]
    args = [
        "--key-a",
        hex(key_a),
        "--key-b",
        hex(key_b),
        "--nonce-a",
        hex(nonce_a),
        "--nonce-b",
        hex(nonce_b),
    ]
    assert run("crypto", "join-synack", *args) == (0, f"0x{synack.hex()}\n")
    assert run("crypto", "join-ack", *args) == (0, ack.hex() + "\n")


def test_bad_integer_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["crypto", "token", "xyz"])
    assert exit_info.value.code == 2
    assert "not an integer" in capsys.readouterr().err


def test_not_a_capture_is_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a capture\n")
    status, out = run("decode", str(junk))
    err = capsys.readouterr().err
    assert status == 2 and out == ""
    assert err.startswith("mptcpspec: error:") and err.count("\n") == 1


def test_missing_file_is_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = run("decode", str(tmp_path / "absent.pcap"))
    err = capsys.readouterr().err
    assert status == 2 and "absent.pcap" in err and err.count("\n") == 1


def test_decode_shows_every_option_of_the_add_addr_capture() -> None:
    status, out = run(
        "decode", "--json", str(Path(__file__).resolve().parents[2] / "traces" / "add-addr.pcap")
    )
    assert status == 0
    records = [json.loads(line) for line in out.splitlines()]
    subtypes = {option["subtype"] for record in records for option in record["mptcp"]}
    assert {"MP_CAPABLE", "MP_JOIN", "DSS", "ADD_ADDR"} <= subtypes
    add_addr = next(o for r in records for o in r["mptcp"] if o["subtype"] == "ADD_ADDR" and not o["echo"])
    assert add_addr["address"] == "10.233.2.2" and add_addr["address_id"] == 2


def test_validate_exit_status_follows_the_verdict(tmp_path: Path) -> None:
    status, out = run("validate", str(TRACES / "join.pcap"))
    assert status == 0 and "0 violations" in out
    status, out = run("validate", "--format", "json", str(checksum_violation(tmp_path / "bad.pcap", seed=5)))
    document = json.loads(out)
    assert status == 1
    assert [f["rule"] for f in document["files"][0]["findings"] if f["verdict"] == "violation"] == [
        "dss.checksum"
    ]


def test_validate_rules_selection_drops_the_rule(tmp_path: Path) -> None:
    bad = str(checksum_violation(tmp_path / "bad.pcap", seed=5))
    assert run("validate", "--rules=-dss.checksum", bad)[0] == 0
    assert run("validate", "--rules", "dss.*", bad)[0] == 1


def test_validate_bad_rule_selection_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", "--rules", "dss.*,", str(TRACES / "join.pcap"))[0] == 2
    assert "empty rule pattern" in capsys.readouterr().err


def test_validate_trace_writes_monitor_events_as_json_lines(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    assert run("validate", "--trace", str(trace), str(TRACES / "join.pcap"))[0] == 0
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    transitions = [e for e in events if e["kind"] == "transition"]
    assert transitions[0]["frame"] == 1 and transitions[0]["before"] == "new"
    assert {e["subflow"] for e in events} - {""} == {"c1/0", "c1/1"}  # "": connection-level events


def test_rules_and_explain() -> None:
    status, out = run("rules")
    assert status == 0 and "dss.checksum" in out and out.rstrip().endswith("rules")
    status, out = run("explain", "join.token")
    assert status == 0 and "RFC 8684 §3.2" in out


def test_explain_unknown_rule_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("explain", "token")[0] == 2
    assert "join.token" in capsys.readouterr().err


def test_rules_coverage_names_every_rule() -> None:
    from mptcpspec.spec.catalogue import CATALOGUE

    status, out = run("rules", "--coverage")
    lines = out.splitlines()
    assert status == 0 and len(lines) == len(CATALOGUE) + 1
    assert all(line.split()[1] in {"wire", "witness", "both", "none:"} for line in lines[:-1])


def test_conform_reference_runs_a_selection(tmp_path: Path) -> None:
    junit = tmp_path / "conform.xml"
    case = "mp-capable.data-on-third-ack"
    status, out = run("conform", "--stack", "reference", "-k", case, "--junit", str(junit))
    assert status == 0
    assert "PASSED" in out and case in out and "stack reference" in out
    assert "<testcase" in junit.read_text()


def test_conform_unknown_stack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("conform", "--stack", "bsd")[0] == 2
    assert "unknown stack" in capsys.readouterr().err


def test_validate_unusable_input_says_so_on_stderr_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"hello, not a capture")
    status, out = run("validate", str(junk), str(TRACES / "join.pcap"))
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "junk.pcap" in err and "not a pcap" in err
    assert "traces/join.pcap: 47 packets, 1 connection" in out
