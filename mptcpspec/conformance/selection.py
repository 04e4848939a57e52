"""Selecting rules by id: the ``--rules`` option of ``mptcpspec validate``.

A selection is a comma-separated list of shell-style patterns over rule ids.  Plain patterns select,
patterns starting with ``-`` (or ``!``) ignore.  With no selecting pattern every rule is selected
before the ignores apply: ``dss.*`` keeps the DSS rules only, ``-dss.checksum`` drops one rule,
``join.*,-join.token`` keeps the join rules but one.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase

__all__ = ["parse_rule_selection"]


def parse_rule_selection(text: str) -> Callable[[str], bool]:
    """Turn a ``--rules`` text into a predicate over rule ids; raises ValueError on an empty pattern."""
    keep: list[str] = []
    drop: list[str] = []
    for raw in text.split(","):
        pattern = raw.strip()
        if pattern.startswith(("-", "!")):
            pattern = pattern[1:].strip()
            target = drop
        else:
            target = keep
        if not pattern:
            raise ValueError(f"empty rule pattern in {text!r}")
        target.append(pattern)

    def selected(rule_id: str) -> bool:
        if keep and not any(fnmatchcase(rule_id, p) for p in keep):
            return False
        return not any(fnmatchcase(rule_id, p) for p in drop)

    return selected
