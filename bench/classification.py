"""Classification of the default policy per decision: ours vs a hand-written if/else (the floor) and peers.

Every engine gets the same rules (the escalating rules of policies.yaml) and the same mix of
decisions. As in ours, the category picks the rule set by a dict lookup; what is compared is
evaluating the rules. The service also validates the attributes, fills defaults and explains the
result: that full path is measured against a hand-written function doing the same (refusing what
the service refuses), and our rule evaluation alone against the bare if/else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from bench.timing import Row, interleaved
from engine.classify import classify
from policy import load_policy
from policy.compiled import Policy

BOUND, RISK_MAX = 2.0, 30

DECISIONS: list[tuple[str, dict[str, Any]]] = [
    ("quality_threshold", {"deviation_pct": 1.5, "affected_clients": 1}),
    ("quality_threshold", {"deviation_pct": 3.5, "affected_clients": 1}),
    ("quality_threshold", {"deviation_pct": 0.5, "affected_clients": 3}),
    ("pipeline", {"risk_score": 12}),
    ("pipeline", {"risk_score": 80}),
    ("reporting_format", {}),
    ("domain", {"change": "new_category", "domain": "code"}),
    ("domain", {"change": "rubric_update", "domain": "safety"}),
    ("contract", {"change": "scope"}),
    ("benchmark", {"benchmark": "mmlu", "change": "add"}),
]
#: Each must be refused by the service and by the hand-written full floor alike.
REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("quality_threshold", {"deviation_pct": "3"}),
    ("quality_threshold", {"deviation_pct": float("nan")}),
    ("quality_threshold", {"affected_clients": 2}),
    ("quality_threshold", {"deviation_pct": 1.0, "affected_clients": -1}),
    ("quality_threshold", {"deviation_pct": 1.0, "typo": 1}),
    ("pipeline", {"risk_score": 101}),
    ("pipeline", {"risk_score": True}),
    ("domain", {"change": "new_categroy"}),
    ("domain", {"change": "new_category", "domain": "cooking"}),
    ("contract", {"change": "everything"}),
    ("benchmark", {"benchmark": 7}),
    ("pipeline", {"risk_score": 5, "risk": 1}),
    ("domain", {"change": "rubric_update", "note": "x"}),
    ("contract", {"chnage": "scope"}),
    ("reporting_format", {"client_format": "pdf", "extra": None}),
]
BASE = {"quality_threshold": 1, "pipeline": 1, "reporting_format": 1, "domain": 1, "annotator_tier": 2,
        "contract": 3, "client_onboarding": 3, "benchmark": 3}  # fmt: skip


def floor(category: str, a: dict[str, Any]) -> int:
    if category == "quality_threshold":
        return 2 if a["deviation_pct"] > BOUND or a.get("affected_clients", 1) > 1 else 1
    if category == "pipeline":
        return 2 if a["risk_score"] > RISK_MAX else 1
    if category == "domain":
        return 2 if a["change"] == "new_category" else 1
    return BASE.get(category, 3)


class Invalid(ValueError):
    pass


QUALITY_FIELDS = frozenset({"deviation_pct", "affected_clients"})
PIPELINE_FIELDS = frozenset({"risk_score"})
DOMAIN_FIELDS = frozenset({"change", "domain"})
DOMAIN_CHANGES = frozenset({"new_category", "rubric_update"})
DOMAINS = frozenset({"reasoning", "instruction_following", "code", "knowledge_retrieval", "safety"})
CONTRACT_FIELDS = frozenset({"change"})
CONTRACT_CHANGES = frozenset({"scope", "term", "pricing"})
TEXT_FIELDS = {"reporting_format": ("client_format",), "benchmark": ("benchmark", "change")}
TEXT_NAMES = {c: frozenset(names) for c, names in TEXT_FIELDS.items()}
INF = math.inf
EXPLAINED_QUALITY = {
    (False, False): (1, ()),
    (True, False): (2, ("beyond-bound",)),
    (False, True): (2, ("cross-client",)),
    (True, True): (2, ("beyond-bound", "cross-client")),
}


def floor_full(category: str, a: dict[str, Any]) -> tuple[int, tuple[str, ...], dict[str, Any]]:
    """What the service does, written by hand (and tuned) for the categories measured: refuse
    unknown names, wrong types, out-of-range and non-enum values and missing required fields
    (null = not given), fill defaults, then the rules, the matched rules' ids and the validated
    attributes."""
    if category == "quality_threshold":
        d = a.get("deviation_pct")
        if not (type(d) is int or (type(d) is float and -INF < d < INF)):
            raise Invalid("deviation_pct")
        c = a.get("affected_clients")
        if c is None:
            c = 1
        elif type(c) is not int or c < 0:
            raise Invalid("affected_clients")
        if not a.keys() <= QUALITY_FIELDS:
            raise Invalid("unknown field")
        tier, matched = EXPLAINED_QUALITY[d > BOUND, c > 1]
        return tier, matched, {"deviation_pct": d, "affected_clients": c}
    if category == "pipeline":
        r = a.get("risk_score")
        if type(r) is not int or not 0 <= r <= 100:
            raise Invalid("risk_score")
        if not a.keys() <= PIPELINE_FIELDS:
            raise Invalid("unknown field")
        if r > RISK_MAX:
            return 2, ("above-risk-threshold",), {"risk_score": r}
        return 1, (), {"risk_score": r}
    if category == "domain":
        change, domain = a.get("change"), a.get("domain")
        if type(change) is not str or change not in DOMAIN_CHANGES:
            raise Invalid("change")
        if domain is not None and (type(domain) is not str or domain not in DOMAINS):
            raise Invalid("domain")
        if not a.keys() <= DOMAIN_FIELDS:
            raise Invalid("unknown field")
        out = {"change": change} if domain is None else {"change": change, "domain": domain}
        if change == "new_category":
            return 2, ("domain-expansion",), out
        return 1, (), out
    if category == "contract":
        change = a.get("change")
        if change is not None and (type(change) is not str or change not in CONTRACT_CHANGES):
            raise Invalid("change")
        if a and not a.keys() <= CONTRACT_FIELDS:
            raise Invalid("unknown field")
        return 3, (), {} if change is None else {"change": change}
    names = TEXT_FIELDS.get(category)
    if names is not None:
        if a and not a.keys() <= TEXT_NAMES[category]:
            raise Invalid("unknown field")
        out = {}
        for name in names:
            value = a.get(name)
            if value is not None:
                if type(value) is not str:
                    raise Invalid(name)
                out[name] = value
        return BASE[category], (), out
    raise NotImplementedError(category)  # only the categories measured are written by hand


# The same rules as expressions, per category, for the peers.
JSONLOGIC = {
    "quality_threshold": {"or": [{">": [{"var": "deviation_pct"}, BOUND]}, {">": [{"var": "affected_clients"}, 1]}]},
    "pipeline": {">": [{"var": "risk_score"}, RISK_MAX]},
    "domain": {"==": [{"var": "change"}, "new_category"]},
}
TEXT = {  # rule-engine and CEL share this syntax for these rules
    "quality_threshold": f"deviation_pct > {BOUND} || affected_clients > 1",
    "pipeline": f"risk_score > {RISK_MAX}",
    "domain": 'change == "new_category"',
}


def _tiered(escalates: Callable[[str, dict[str, Any]], bool]) -> Callable[[str, dict[str, Any]], int]:
    def tier(category: str, attributes: dict[str, Any]) -> int:
        base = BASE.get(category, 3)
        if category in JSONLOGIC and escalates(category, attributes):
            return max(base, 2)
        return base

    return tier


def _with_defaults(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"affected_clients": 1, **attributes}


def peers() -> dict[str, Callable[[str, dict[str, Any]], int] | str]:
    out: dict[str, Callable[[str, dict[str, Any]], int] | str] = {}
    try:
        import datalogic_py

        engine = datalogic_py.Engine()
        compiled = {c: engine.compile(json.dumps(r)) for c, r in JSONLOGIC.items()}
        out["datalogic-py"] = _tiered(lambda c, a: bool(compiled[c].evaluate(_with_defaults(a))))
    except Exception as exc:  # an optional peer missing or changed: the table says why
        out["datalogic-py"] = f"not measured: {exc}"
    try:
        from json_logic import jsonLogic

        out["json-logic-qubit"] = _tiered(lambda c, a: bool(jsonLogic(JSONLOGIC[c], _with_defaults(a))))
    except Exception as exc:
        out["json-logic-qubit"] = f"not measured: {exc}"
    try:
        import rule_engine

        rules = {c: rule_engine.Rule(t.replace("||", "or")) for c, t in TEXT.items()}
        out["rule-engine"] = _tiered(lambda c, a: bool(rules[c].matches(_with_defaults(a))))
    except Exception as exc:
        out["rule-engine"] = f"not measured: {exc}"
    try:
        import celpy

        env = celpy.Environment()
        programs = {c: env.program(env.compile(t)) for c, t in TEXT.items()}
        out["cel-python"] = _tiered(lambda c, a: bool(programs[c].evaluate(celpy.json_to_cel(_with_defaults(a)))))
    except Exception as exc:
        out["cel-python"] = f"not measured: {exc}"
    try:
        out["cedarpy"] = _cedar()
    except Exception as exc:
        out["cedarpy"] = f"not measured: {exc}"
    try:
        out["pycasbin"] = _casbin()
    except Exception as exc:
        out["pycasbin"] = f"not measured: {exc}"
    return out


def _cedar() -> Callable[[str, dict[str, Any]], int]:
    import cedarpy

    # Cedar has no floats: the deviation is compared in hundredths of a percent.
    policies = f"""
    permit(principal, action == Action::"escalate", resource)
      when {{ context.category == "quality_threshold" &&
              (context.deviation_centi > {int(BOUND * 100)} || context.affected_clients > 1) }};
    permit(principal, action == Action::"escalate", resource)
      when {{ context.category == "pipeline" && context.risk_score > {RISK_MAX} }};
    permit(principal, action == Action::"escalate", resource)
      when {{ context.category == "domain" && context.change == "new_category" }};
    """
    # Parsed once, as a service embedding Cedar would: passing the text re-parses it on every call.
    parsed = cedarpy.PolicySet.from_str(policies)
    entities = cedarpy.Entities.from_json_str("[]")

    def escalates(category: str, a: dict[str, Any]) -> bool:
        context: dict[str, Any] = {"category": category}
        for key, value in _with_defaults(a).items():
            if key == "deviation_pct":
                context["deviation_centi"] = round(value * 100)
            else:
                context[key] = value
        request = {"principal": 'User::"squad"', "action": 'Action::"escalate"', "resource": 'Decision::"d"',
                   "context": context}  # fmt: skip
        return bool(cedarpy.is_authorized(request, parsed, entities).allowed)

    return _tiered(escalates)


def _casbin() -> Callable[[str, dict[str, Any]], int]:
    import casbin
    from casbin import model as casbin_model

    text = """
[request_definition]
r = sub, obj
[policy_definition]
p = sub_rule, cat
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.cat && eval(p.sub_rule)
"""
    m = casbin_model.Model()
    m.load_model_from_text(text)
    enforcer = casbin.Enforcer(m)
    enforcer.add_policy(f"r.obj.deviation_pct > {BOUND} || r.obj.affected_clients > 1", "quality_threshold")
    enforcer.add_policy(f"r.obj.risk_score > {RISK_MAX}", "pipeline")
    enforcer.add_policy("r.obj.change == 'new_category'", "domain")

    class Obj:
        def __init__(self, attributes: dict[str, Any]) -> None:
            self.__dict__.update(attributes)

    return _tiered(lambda c, a: bool(enforcer.enforce(c, Obj(_with_defaults(a)))))


def _inlined_rules(policy: Policy) -> dict[str, Callable[[dict[str, Any]], int]]:
    """Per category, its rules' compiled conditions in sequence, as the generated classifier runs
    them after validation (policy.attributes.make_classifier), returning the tier: rule
    evaluation alone, without the validation the bare floor skips."""
    out = {}
    for name, spec in policy.categories.items():
        bound: dict[str, Any] = {"_MISSING": object()}
        lines = [f"    tier = {int(spec.base_tier)}"]
        for rule in spec.rules:
            assert rule.source is not None
            bound.update(rule.constants)
            lines += [f"    if tier < {int(rule.tier)} and {rule.source}:", f"        tier = {int(rule.tier)}"]
        source = (
            "def rules(a, " + ", ".join(f"{k}={k}" for k in bound) + "):\n" + "\n".join(lines) + "\n    return tier\n"
        )
        exec(compile(source, f"<rules of {name!r}>", "exec"), bound)
        out[name] = bound["rules"]
    return out


def rows(calls: int = 2000) -> list[Row]:
    policy = load_policy("policies.yaml")
    expected = [floor(c, a) for c, a in DECISIONS]
    assert [classify(policy, c, a).tier for c, a in DECISIONS] == expected, "ours disagrees with the floor"

    def run(fn: Callable[[str, dict[str, Any]], int]) -> Callable[[], None]:
        def loop() -> None:
            for c, a in DECISIONS:
                fn(c, a)

        return loop

    inlined = _inlined_rules(policy)

    def rules_only(category: str, attributes: dict[str, Any]) -> int:
        """Our compiled conditions on already-validated attributes: the same work the floor does."""
        rules = inlined.get(category)
        return policy.unknown_category_tier if rules is None else rules(attributes)

    def explained(c: str, a: dict[str, Any]) -> tuple[int, tuple[str, ...], dict[str, Any]]:
        got = classify(policy, c, a)
        return got.tier, tuple(m.id for m in got.matched_rules), got.attributes

    assert [floor_full(c, a) for c, a in DECISIONS] == [explained(c, a) for c, a in DECISIONS], "full floor differs"
    for c, a in REFUSED:
        for fn in (floor_full, explained):
            try:
                fn(c, a)
            except ValueError:
                continue
            raise AssertionError(f"{fn.__name__} accepted {c} {a}")

    validated = [(c, policy.categories[c].validator(a) if c in policy.categories else a) for c, a in DECISIONS]
    n = len(DECISIONS)
    measured: dict[str, tuple[Callable[[], object], int]] = {
        "floor": (run(floor), calls),
        "full floor": (run(floor_full), calls),
        "ours": (run(lambda c, a: classify(policy, c, a).tier), calls),
        "rules": (lambda: [rules_only(c, a) for c, a in validated], calls),
    }
    skipped: dict[str, str] = {}
    for name, fn in peers().items():
        if isinstance(fn, str):
            skipped[name] = f"{name} ({fn[:60]})"
            continue
        got = [fn(c, a) for c, a in DECISIONS]
        if got != expected:
            skipped[name] = f"{name} (disagrees: {got})"
            continue
        slow = name in {"cedarpy", "cel-python", "pycasbin", "rule-engine"}
        measured[name] = (run(fn), max(20, calls // 50) if slow else calls)
    per = {name: t / n for name, t in interleaved(measured).items()}
    floor_t, full_floor_t, ours_t, rules_t = per["floor"], per["full floor"], per["ours"], per["rules"]
    out = [
        Row("classify", "hand-written if/else (rules only)", floor_t, "s", floor_t, "itself"),
        Row("classify", "hand-written validate + if/else + explanation", full_floor_t, "s", full_floor_t, "itself"),
        Row("classify", "decision-rights rules only (compiled conditions, pre-validated)", rules_t, "s", floor_t,
            "hand-written rules", "<= 3x", "ok" if rules_t <= 3 * floor_t else "over target"),
        Row("classify", "decision-rights full (validate + rules + explanation)", ours_t, "s", full_floor_t,
            "hand-written full", "<= 3x", "ok" if ours_t <= 3 * full_floor_t else "over target"),
        Row("classify", "decision-rights full, against the rules-only floor", ours_t, "s", floor_t,
            "hand-written rules", "", "validation + explanation the floor skips"),
    ]  # fmt: skip
    for label in skipped.values():
        out.append(Row("classify", label, 0.0, "s", floor_t, "hand-written", "", "n/a"))
    for name, t in per.items():
        if name in ("floor", "full floor", "ours", "rules"):
            continue
        verdict = "ours faster" if ours_t < t else ("rules-only faster" if rules_t < t else "peer faster")
        out.append(Row("classify", name, t, "s", floor_t, "hand-written", "ours faster", verdict))
    return out
