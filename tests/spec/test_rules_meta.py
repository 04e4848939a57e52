"""The catalogue itself: the public rule ids, naming, levels, read-only access."""

from __future__ import annotations

import re

import pytest

from mptcpspec.spec.catalogue import CATALOGUE, get_rule
from mptcpspec.spec.rules import Level

PUBLIC_IDS = {
    "options.malformed", "handshake.version", "handshake.key-echo", "handshake.checksum-flag", "join.token",
    "join.synack-hmac", "join.ack-hmac", "dss.checksum", "dss.checksum-missing", "dss.mapping-consistent",
    "dss.data-consistent", "data-ack.beyond-sent", "data-fin.consistent", "add-addr.hmac",
    "add-addr.echo-match", "fastclose.key", "fallback.mptcp-after-fallback", "tcprst.reason",
}  # fmt: skip


def test_the_public_ids_are_there_among_at_least_fifty_rules() -> None:
    assert set(CATALOGUE) >= PUBLIC_IDS
    assert len(CATALOGUE) >= 50


@pytest.mark.parametrize("rule_id", sorted(CATALOGUE))
def test_rule_is_well_formed(rule_id: str) -> None:
    rule = get_rule(rule_id)
    assert rule.id == rule_id and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*", rule_id)
    assert rule.rfc == 8684 and re.fullmatch(r"3(\.\d+)*", rule.section)
    assert rule.level in (Level.MUST, Level.SHOULD)
    assert rule.summary.endswith(".") and len(rule.summary) < 110 and rule.citation.startswith("RFC 8684 §3")


def test_catalogue_is_read_only_and_lookups_name_the_missing_id() -> None:
    with pytest.raises(TypeError):
        CATALOGUE["x.y"] = get_rule("dss.checksum")  # type: ignore[index]
    with pytest.raises(KeyError, match=r"no\.such"):
        get_rule("no.such")
