"""The verdict policy: how a check's outcome becomes a ``Finding`` (RFC 2119 levels, strictness, caps).

A conclusive breach of a MUST is a violation.  A conclusive deviation from a SHOULD is a violation only
in strict mode, otherwise a note that says so.  A check the capture cannot decide is undetermined, with
the reason in the message.  Each connection reports at most ``cap`` findings per rule and verdict (one
per rule for undetermined ones): a broken stack repeats its mistake on every segment, and the report
says how many more were left out instead of listing them all.
"""

from __future__ import annotations

from collections.abc import Callable

from .rules import Finding, Level, Rule, Verdict

__all__ = ["Judge"]

_UNDETERMINED_CAP = 1


class Judge:
    """Collects the findings of one connection under the verdict policy.

    ``selected`` filters rule ids (``None`` keeps every rule); ``checks`` counts evaluated checks.
    Findings accumulate in ``pending`` until the monitor hands them out with ``take``.
    """

    __slots__ = (
        "_counts",
        "_rules",
        "_selected",
        "_verdict_of",
        "cap",
        "checks",
        "connection",
        "pending",
        "strict",
    )

    def __init__(
        self,
        connection: str,
        *,
        strict: bool = False,
        selected: Callable[[str], bool] | None = None,
        cap: int = 20,
    ) -> None:
        self.connection = connection
        self.strict = strict
        self.cap = cap
        self.checks = 0
        self.pending: list[Finding] = []
        self._selected = selected
        self._counts: dict[tuple[str, Verdict], int] = {}
        self._verdict_of: dict[str, bool] = {}
        self._rules: dict[str, Rule] = {}

    def breach(self, rule: Rule, frames: tuple[int, ...], message: str, subflow: str = "") -> None:
        """The capture shows ``rule`` broken: a violation for a MUST (or in strict mode), else a note."""
        if rule.level is Level.MUST or self.strict:
            self._add(rule, Verdict.VIOLATION, frames, message, subflow)
        else:
            self._add(rule, Verdict.NOTE, frames, f"deviates from a SHOULD: {message}", subflow)

    def undetermined(self, rule: Rule, frames: tuple[int, ...], message: str, subflow: str = "") -> None:
        """``rule`` applied but the capture cannot decide it; ``message`` says why."""
        self._add(rule, Verdict.UNDETERMINED, frames, message, subflow)

    def note(self, rule: Rule, frames: tuple[int, ...], message: str, subflow: str = "") -> None:
        """Something worth knowing about ``rule`` that breaks nothing."""
        self._add(rule, Verdict.NOTE, frames, message, subflow)

    def take(self) -> list[Finding]:
        """The findings made since the last call."""
        if not self.pending:
            return []
        out, self.pending = self.pending, []
        return out

    def overflow(self) -> list[Finding]:
        """One note per rule and verdict whose findings went over the cap, saying how many were left out."""
        out = []
        for (rule_id, verdict), count in sorted(
            self._counts.items(), key=lambda kv: (kv[0][0], kv[0][1].value)
        ):
            limit = _UNDETERMINED_CAP if verdict is Verdict.UNDETERMINED else self.cap
            if count > limit:
                out.append(
                    Finding(
                        self._rules[rule_id],
                        Verdict.NOTE,
                        (),
                        f"{count - limit} more {verdict.value} finding(s) of {rule_id} on this connection "
                        "were not listed",
                        self.connection,
                    )
                )
        return out

    def _wanted(self, rule_id: str) -> bool:
        known = self._verdict_of.get(rule_id)
        if known is None:
            known = self._selected is None or self._selected(rule_id)
            self._verdict_of[rule_id] = known
        return known

    def _add(self, rule: Rule, verdict: Verdict, frames: tuple[int, ...], message: str, subflow: str) -> None:
        if not self._wanted(rule.id):
            return
        self._rules[rule.id] = rule
        key = (rule.id, verdict)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        limit = _UNDETERMINED_CAP if verdict is Verdict.UNDETERMINED else self.cap
        if count <= limit:
            self.pending.append(Finding(rule, verdict, frames, message, self.connection, subflow))
