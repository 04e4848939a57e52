"""The rule catalogue: every rule mptcpspec checks, collected from the modules that check them.

``CATALOGUE`` maps rule ids (``area.name``, kebab case) to ``Rule``s, read-only; ``get_rule(id)``
looks one up.  Each module of the executable specification declares the rules it checks in its
``RULES`` tuple; nothing else defines rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import connection, mapping, monitor, paths, subflow
from .rules import Rule

__all__ = ["CATALOGUE", "get_rule"]


def _collect() -> Mapping[str, Rule]:
    rules: dict[str, Rule] = {}
    for module_rules in (monitor.RULES, connection.RULES, subflow.RULES, mapping.RULES, paths.RULES):
        for rule in module_rules:
            if rule.id in rules:
                raise ValueError(f"rule {rule.id} declared twice")
            rules[rule.id] = rule
    return MappingProxyType(dict(sorted(rules.items())))


CATALOGUE: Mapping[str, Rule] = _collect()
"""Every rule, by id, in id order."""


def get_rule(rule_id: str) -> Rule:
    """The rule with this id; ``KeyError`` naming the id when there is none."""
    try:
        return CATALOGUE[rule_id]
    except KeyError:
        raise KeyError(f"no rule {rule_id!r} in the catalogue") from None
