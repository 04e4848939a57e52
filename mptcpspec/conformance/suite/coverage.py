"""Which catalogue rules the active suite puts to the test on the wire, and which it cannot.

``EXERCISES`` is one table: a glob over case names and the rules those cases exercise, meaning that
the stack sends segments the rule governs there (the monitor judges every segment the stack sends); a
rule only the tester's segments fall under (MP_PRIO, MP_TCPRST sent to the stack) does not count.
``wire_rules()`` resolves the globs against the registered cases, so a renamed or removed case drops
its rules from the coverage instead of claiming them silently.  ``UNOBSERVABLE`` gives, per rule no
case can exercise, the reason.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from . import all_cases

__all__ = ["EXERCISES", "UNOBSERVABLE", "wire_rules"]

_HANDSHAKE = ("handshake.version", "handshake.layout", "handshake.hmac-flag", "handshake.extensibility-flag")
_CLOSE = ("data-fin.bare-mapping", "data-fin.consistent", "data-fin.data-after", "dss.ssn-zero",
          "close.last-subflow", "data-ack.beyond-sent", "data-ack.before-idsn")  # fmt: skip
_DATA = ("dss.mapping-consistent", "dss.data-consistent", "dss.before-idsn", "dss.reserved-flags",
         "dss.checksum-unnegotiated", "dss.ack-width", "subflow.state", "options.malformed")  # fmt: skip
_JOIN = ("join.token", "join.synack-hmac", "join.ack-hmac", "join.reserved-flags", "handshake.initial-only",
         "join.pre-established-data")  # fmt: skip
_RESET = ("tcprst.reason", "tcprst.on-rst", "tcprst.reserved-flags")

EXERCISES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sanity.*", (*_HANDSHAKE, *_DATA, *_CLOSE)),
    ("mp-capable.v1-synack", _HANDSHAKE),
    ("mp-capable.v0-offered", ("handshake.version", "handshake.unsolicited")),
    ("mp-capable.version-*", ("handshake.version",)),
    ("mp-capable.*crypto-flag", ("handshake.hmac-flag", "handshake.unsolicited")),
    ("mp-capable.extensibility-flag", ("handshake.extensibility-flag", "handshake.unsolicited")),
    ("mp-capable.syn-with-key", ("handshake.layout",)),
    ("mp-capable.truncated", ("options.malformed", "handshake.unsolicited")),
    ("mp-capable.c-flag-no-join", ("join.c-flag",)),
    ("mp-capable.*checksum*", ("handshake.checksum-flag", "dss.checksum", "dss.checksum-missing",
                               "dss.urgent")),
    ("mp-capable.*key-echo", ("handshake.key-echo", "handshake.key-repeat")),
    ("mp-capable.synack-*", ("handshake.version", "handshake.hmac-flag", "fallback.mptcp-after-fallback")),
    ("dss.dsn*", ("dss.ack-width", "dss.mapping-consistent", "data-ack.beyond-sent")),
    ("dss.mapping-spans-*", ("dss.mapping-consistent", "dss.data-consistent")),
    ("dss.out-of-*", ("dss.mapping-consistent", "data-ack.beyond-sent")),
    ("dss.bad-checksum*", ("dss.checksum",)),
    ("data-ack.*", ("data-ack.beyond-sent", "data-ack.before-idsn", "dss.ack-width")),
    ("data-fin.*", _CLOSE),
    ("mp-join.*", _JOIN),
    ("mp-join.ack-without-option", ("join.ack-option",)),
    ("mp-join.stack-*", ("join.before-dss", "join.synack-option", *_RESET)),
    ("mp-prio.stack-*", ("prio.layout",)),
    ("mp-join.*-over-limit", _RESET),
    ("mp-join.unknown-token", _RESET),
    ("mp-join.bad-ack-hmac", _RESET),
    ("mp-join.ack-without-option", _RESET),
    ("add-addr.*", ("add-addr.hmac", "add-addr.echo-match", "add-addr.reserved-flags")),
    ("add-addr.stack-announces", ("add-addr.id-reuse",)),
    ("remove-addr.*", ("close.last-subflow",)),
    ("fastclose.*", ("fastclose.key",)),
    ("fastclose.right-key", _RESET),
    ("fastclose.stack-aborts", ("fastclose.data-after",)),
    ("fallback.*", ("fallback.mptcp-after-fallback", "fallback.single-subflow")),
    ("fallback.mp-fail-reply", ("fallback.fail-reply",)),
    ("witness.mapping-consistent-*", ("dss.mapping-consistent",)),
    ("witness.dsn32-*", ("data-ack.beyond-sent",)),
    ("witness.subflow-seq-*", ("subflow.state",)),
    ("witness.dss-length-*", ("options.malformed",)),
)  # fmt: skip

UNOBSERVABLE: Mapping[str, str] = {
    "add-addr.dupack-signal": "the stack decides when it signals; no tester input forces a burst of them",
}


def wire_rules() -> dict[str, list[str]]:
    """Each rule exercised on the wire -> the names of the cases that exercise it."""
    names = [case.name for case in all_cases()]
    rules: dict[str, list[str]] = {}
    for pattern, rule_ids in EXERCISES:
        for name in fnmatch.filter(names, pattern):
            for rule_id in rule_ids:
                rules.setdefault(rule_id, []).append(name)
    return rules
