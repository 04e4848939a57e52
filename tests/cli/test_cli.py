"""The command line: thin wrappers, one-line errors, documented exit statuses."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest

from mptcpspec import __version__
from mptcpspec.cli import main


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
    args = ["--key-a", hex(key_a), "--key-b", hex(key_b), "--nonce-a", hex(nonce_a), "--nonce-b", hex(nonce_b)]
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


def test_decode_json_lines_parse() -> None:
    trace = Path(__file__).resolve().parents[2] / "traces"
    captures = sorted(trace.glob("*.pcap*"))
    if not captures:
        pytest.skip("no committed captures in traces/")
    status, out = run("decode", "--json", str(captures[0]))
    assert status == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert any(r.get("mptcp") for r in records)
