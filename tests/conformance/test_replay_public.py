"""Captures of other MPTCP stacks (v0 and v1), some broken on purpose: the violations found are pinned.

Every violation here was checked by hand against the capture (see the comments); every other file,
including the v0 captures of the mptcp.org kernel, must give none.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from public_traces import PUBLIC

from mptcpspec.conformance.replay import validate_file

FILES = sorted(p for p in PUBLIC.glob("*.pcap*")) if PUBLIC.is_dir() else []

EXPECTED: dict[str, dict[str, int]] = {
    # A CTF client (mptcp-abuse) sends a DATA_FIN on each subflow, each one DSN further on.
    "CiscoCXSecurity__mptcp-abuse__neohapsis_mptcp_challenge.pcapng": {"data-fin.consistent": 8},
    # The key echoed in the third ACK is altered on purpose (both A's and B's).
    "bbaugnies__DPI-MPTCP__mp_key_change.pcap": {"handshake.key-echo": 2},
    # Address ID 2 is announced with a second address without a REMOVE_ADDR.
    "bbaugnies__DPI-MPTCP__wrongAdd_Addr.pcap": {"add-addr.id-reuse": 1},
    # tcpdump's out-of-bounds-read test: a DSS option of length 3 on a SYN.
    "the-tcpdump-group__tcpdump__mptcp-dss-oobr.pcap": {"options.malformed": 1},
    # Linux before v5.9 sent the leftmost 64 bits of the ADD_ADDR HMAC; RFC 8684 wants the rightmost.
    "the-tcpdump-group__tcpdump__mptcp-aa-v1.pcap": {"add-addr.hmac": 1},
}


@pytest.mark.skipif(not FILES, reason=f"no public captures in {PUBLIC}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_public_capture_violations_are_the_known_ones(path: Path) -> None:
    report = validate_file(path)
    assert report.error is None
    found = Counter(f.rule.id for f in report.findings if f.is_violation)
    assert dict(found) == EXPECTED.get(path.name, {})
