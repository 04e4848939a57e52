"""z3 models of the field constraints of checkable rules, and solver-found witnesses for each.

Each ``Model`` states one rule over a few wire fields (bit-vectors of their wire widths): ``premise`` is
the situation in which the rule applies, ``rule`` the constraint itself, written once and used both to
solve and to check (``holds``).  ``witness(model)`` asks z3 for an assignment that keeps the rule
(premise and rule) and one that breaks it (premise and not rule); each model has its own fields, so a
breaking assignment breaks that rule only.  The monitor's tests can build segments from them and the
active suite sends some of them (DSN wrap, DATA_ACK ranges).  ``coverage()`` tells, for every rule of
the catalogue, whether an active case exercises it on the wire, a witness models it, both, or neither
and why.  Arithmetic follows RFC 8684 §3.3 (64-bit DSNs modulo 2^64, 32-bit SSNs modulo 2^32).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import z3

from ..spec.catalogue import CATALOGUE

__all__ = ["MODELS", "Model", "Witness", "coverage", "holds", "model", "solve", "witness"]

Fields = Mapping[str, z3.BitVecRef]
Constraint = Callable[[Fields], z3.BoolRef]


@dataclass(frozen=True, slots=True)
class Model:
    """One rule as a constraint: ``fields`` are (name, bits); ``premise`` and ``rule`` are z3 formulas."""

    rule_id: str
    fields: tuple[tuple[str, int], ...]
    premise: Constraint
    rule: Constraint


@dataclass(frozen=True, slots=True)
class Witness:
    """Field values that keep ``rule_id`` and values that break it (and nothing else)."""

    rule_id: str
    keeps: Mapping[str, int]
    breaks: Mapping[str, int]


def _true(f: Fields) -> z3.BoolRef:
    return z3.BoolVal(True)


def _u64(value: int) -> z3.BitVecRef:
    return z3.BitVecVal(value, 64)


def _zext(v: z3.BitVecRef, bits: int) -> z3.BitVecRef:
    return z3.ZeroExt(bits - v.size(), v)


def _dss_length(f: Fields) -> z3.BitVecRef:
    """The DSS length its flags call for (RFC 8684 §3.3, Figure 9)."""
    ack = z3.If(f["A"] == 1, z3.If(f["a"] == 1, z3.BitVecVal(8, 8), z3.BitVecVal(4, 8)), z3.BitVecVal(0, 8))
    dsn = z3.If(f["m"] == 1, z3.BitVecVal(8, 8), z3.BitVecVal(4, 8))
    mapping = z3.If(f["M"] == 1, dsn + 6 + z3.If(f["csum"] == 1, z3.BitVecVal(2, 8), z3.BitVecVal(0, 8)),
                    z3.BitVecVal(0, 8))  # fmt: skip
    return 4 + ack + mapping


def _flag(name: str) -> tuple[str, int]:
    return (name, 1)


MODELS: tuple[Model, ...] = (
    Model("dss.mapping-consistent", (("dsn1", 64), ("ssn1", 32), ("len1", 16), ("dsn2", 64), ("ssn2", 32)),
          lambda f: z3.And(z3.ULT(f["ssn2"] - f["ssn1"], _zext(f["len1"], 32)), z3.UGT(f["len1"], 0)),
          lambda f: f["dsn2"] - f["dsn1"] == _zext(f["ssn2"] - f["ssn1"], 64)),
    Model("data-ack.beyond-sent", (("idsn", 64), ("sent", 64), ("data_ack", 64)),
          lambda f: z3.ULT(f["sent"], _u64(1 << 32)),
          lambda f: z3.ULE(f["data_ack"] - (f["idsn"] + 1), f["sent"])),
    Model("data-ack.before-idsn", (("idsn", 64), ("data_ack", 64)), _true,
          lambda f: z3.ULT(f["data_ack"] - (f["idsn"] + 1), _u64(1 << 63))),
    Model("dss.before-idsn", (("idsn", 64), ("dsn", 64)), _true,
          lambda f: z3.And(f["dsn"] != f["idsn"], z3.ULT(f["dsn"] - (f["idsn"] + 1), _u64(1 << 63)))),
    Model("dss.ssn-zero", (("ssn", 32), ("len", 16), ("payload", 16), _flag("F")), lambda f: f["ssn"] == 0,
          lambda f: z3.And(f["F"] == 1, f["len"] == 1, f["payload"] == 0)),
    Model("data-fin.bare-mapping", (("ssn", 32), ("len", 16), ("payload", 16), _flag("F")),
          lambda f: z3.And(f["F"] == 1, f["payload"] == 0), lambda f: z3.And(f["ssn"] == 0, f["len"] == 1)),
    Model("data-fin.consistent", (("fin1", 64), ("fin2", 64)), _true, lambda f: f["fin1"] == f["fin2"]),
    Model("options.malformed", (("length", 8), _flag("A"), _flag("a"), _flag("M"), _flag("m"), _flag("csum")),
          lambda f: z3.Or(f["M"] == 1, f["csum"] == 0), lambda f: f["length"] == _dss_length(f)),
    Model("dss.dsn32-inference", (("dsn", 64), ("near", 64)), _true,
          lambda f: z3.ULT(f["dsn"] - f["near"] + (1 << 31), _u64(1 << 32))),
    Model("subflow.state", (("rcv_nxt", 32), ("seq", 32), ("window", 16)), lambda f: z3.UGT(f["window"], 0),
          lambda f: z3.ULT(f["seq"] - f["rcv_nxt"], _zext(f["window"], 32))),
    Model("dss.checksum-missing", (_flag("negotiated"), _flag("csum")), lambda f: f["negotiated"] == 1,
          lambda f: f["csum"] == 1),
    Model("dss.checksum-unnegotiated", (_flag("negotiated"), _flag("csum")), lambda f: f["negotiated"] == 0,
          lambda f: f["csum"] == 0),
    Model("handshake.checksum-flag", (_flag("A_syn"), _flag("A_synack"), _flag("A_ack")), _true,
          lambda f: f["A_ack"] == f["A_syn"] | f["A_synack"]),
    Model("handshake.version", (("v_syn", 4), ("v_synack", 4)), _true,
          lambda f: z3.ULE(f["v_synack"], f["v_syn"])),
    Model("handshake.hmac-flag", (("flags", 8),), _true, lambda f: f["flags"] & 0x1F != 0),
    Model("handshake.extensibility-flag", (("flags", 8),), _true, lambda f: f["flags"] & 0x40 == 0),
    Model("tcprst.reason", (("reason", 8),), _true, lambda f: z3.ULE(f["reason"], 6)),
    Model("tcprst.reserved-flags", (("flags", 4),), _true, lambda f: f["flags"] & 0xE == 0),
    Model("dss.reserved-flags", (("reserved", 7),), _true, lambda f: f["reserved"] == 0),
    Model("join.reserved-flags", (("flags", 4),), _true, lambda f: f["flags"] & 0xE == 0),
    Model("add-addr.reserved-flags", (("reserved", 3),), _true, lambda f: f["reserved"] == 0),
    Model("prio.layout", (("version", 4), ("length", 8)), lambda f: f["version"] == 1,
          lambda f: f["length"] == 3),
)  # fmt: skip
"""Every modelled rule (``dss.dsn32-inference`` is the 32-bit DSN inference window of RFC 8684 §3.3.1, a
property the monitor relies on rather than a catalogue rule)."""


def _variables(model: Model) -> dict[str, z3.BitVecRef]:
    return {name: z3.BitVec(f"{model.rule_id}.{name}", bits) for name, bits in model.fields}


def solve(
    model: Model,
    keep: bool,
    fixed: Mapping[str, int] | None = None,
    bounds: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, int]:
    """An assignment of ``model``'s fields in which the premise holds and the rule holds (``keep``) or
    fails, with the ``fixed`` fields pinned (the values a live conversation already chose) and the
    ``bounds`` fields within (low, high), inclusive and unsigned (what fits the segment to be sent).
    ``ValueError`` when there is none."""
    fields = _variables(model)
    solver = z3.Solver()
    rule = model.rule(fields)
    solver.add(model.premise(fields), rule if keep else z3.Not(rule))
    for name, value in (fixed or {}).items():
        solver.add(fields[name] == value)
    for name, (low, high) in (bounds or {}).items():
        solver.add(z3.UGE(fields[name], low), z3.ULE(fields[name], high))
    if solver.check() != z3.sat:
        raise ValueError(f"{model.rule_id}: no assignment {'keeps' if keep else 'breaks'} the rule")
    found = solver.model()
    return {name: found.eval(var, model_completion=True).as_long() for name, var in fields.items()}


def model(rule_id: str) -> Model:
    """The model of ``rule_id`` (``KeyError`` if none)."""
    for candidate in MODELS:
        if candidate.rule_id == rule_id:
            return candidate
    raise KeyError(f"no witness model for {rule_id!r}")


@cache
def witness(model: Model) -> Witness:
    """The solver's assignment that keeps ``model``'s rule and the one that breaks it."""
    return Witness(model.rule_id, solve(model, True), solve(model, False))


def holds(model: Model, values: Mapping[str, int]) -> tuple[bool, bool]:
    """(premise, rule) evaluated on concrete ``values``, with the same formulas the solver used."""
    fields = _variables(model)
    subst = [(fields[name], z3.BitVecVal(values[name], bits)) for name, bits in model.fields]
    premise = z3.simplify(z3.substitute(model.premise(fields), *subst))
    rule = z3.simplify(z3.substitute(model.rule(fields), *subst))
    return z3.is_true(premise), z3.is_true(rule)


def coverage() -> dict[str, str]:
    """For each catalogue rule: ``wire`` (an active case exercises it), ``witness`` (a model here),
    ``both``, or ``none: <reason>``."""
    from .suite.coverage import UNOBSERVABLE, wire_rules  # the suite sends witnesses: import it late

    wire = wire_rules()
    modelled = {m.rule_id for m in MODELS}
    result: dict[str, str] = {}
    for rule_id in CATALOGUE:
        on_wire, in_model = rule_id in wire, rule_id in modelled
        if on_wire or in_model:
            result[rule_id] = "both" if on_wire and in_model else "wire" if on_wire else "witness"
        else:
            result[rule_id] = "none: " + UNOBSERVABLE.get(rule_id, "no case or model exercises it yet")
    return result
