"""Governed policy activation: only an approved `policy` decision activates a version."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from engine.errors import Forbidden, InvalidInput
from engine.log.audit import audit_database
from engine.runtime import open_runtime
from engine.types import FilingRequest, VerdictRequest
from policy import PolicyLoadError
from tests.support import DEFAULT_POLICY, ManualClock

LOWER_BOUND = ("quality_bound_pct: 2.0", "quality_bound_pct: 1.0")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    shutil.copy(DEFAULT_POLICY, path)
    return path


def _candidate_text(path: Path) -> str:
    text = path.read_text()
    assert LOWER_BOUND[0] in text
    return text.replace(*LOWER_BOUND)


def _propose_and_approve(rt, text: str) -> str:  # type: ignore[no-untyped-def]
    people = rt.policies.current.people
    candidate = rt.governance.propose(text, "candidate.yaml")
    filed = rt.service.file(
        people["adm"],
        FilingRequest(
            title="Tighten the quality bound to 1%",
            category="policy",
            attributes={"candidate_version": candidate.version, "summary": "12 decisions move to tier 2"},
        ),
    )
    assert filed.decision.tier == 3 and filed.decision.status == "pending"
    rt.service.decide(people["dana"], filed.decision.id, VerdictRequest(verdict="approve", reason="agreed"))
    return candidate.version


def test_approval_activates_the_candidate_and_logs_it(database_url: str, policy_file: Path) -> None:
    rt = open_runtime(database_url, str(policy_file), clock=ManualClock())
    try:
        first = rt.policies.current.version
        mei = rt.policies.current.people["mei"]
        before = rt.service.classify(
            mei, FilingRequest(title="x", category="quality_threshold", attributes={"deviation_pct": 1.5})
        )
        assert before.tier == 1
        version = _propose_and_approve(rt, _candidate_text(policy_file))
        assert rt.policies.current.version == version
        after = rt.service.classify(
            mei, FilingRequest(title="x", category="quality_threshold", attributes={"deviation_pct": 1.5})
        )
        assert after.tier == 2 and after.explanation.policy_version == version
        history = rt.governance.versions()
        assert [v.version for v in history] == [first, version]
        assert history[-1].active and history[-1].decision_id is not None
        assert rt.service.verify_log().ok
    finally:
        rt.close()
    # A restart runs the activated version even though the file on disk is still the old one.
    again = open_runtime(database_url, str(policy_file))
    try:
        assert again.policies.current.version == version
    finally:
        again.close()


def test_an_unapproved_or_altered_file_is_refused_and_the_last_good_policy_stays(
    database_url: str, policy_file: Path
) -> None:
    rt = open_runtime(database_url, str(policy_file))
    try:
        active = rt.policies.current.version
        policy_file.write_text(_candidate_text(policy_file))
        with pytest.raises(Forbidden, match="no approved"):
            rt.governance.activate_file(rt.policies.current.people["adm"])
        assert rt.policies.current.version == active
        # Approved, then altered by one byte before activation: refused too.
        version = _propose_and_approve(rt, policy_file.read_text())
        assert rt.policies.current.version == version
        policy_file.write_text(policy_file.read_text() + "\n# edited after approval\n")
        with pytest.raises(Forbidden):
            rt.governance.activate_file(rt.policies.current.people["adm"])
        policy_file.write_text("version: 1\ntimezone: Mars/Olympus\n")
        with pytest.raises(PolicyLoadError):
            rt.governance.activate_file(rt.policies.current.people["adm"])
        assert rt.policies.current.version == version
    finally:
        rt.close()


def test_a_policy_decision_must_name_a_proposed_candidate(runtime) -> None:  # type: ignore[no-untyped-def]
    adm = runtime.policies.current.people["adm"]
    with pytest.raises(InvalidInput) as info:
        runtime.service.file(
            adm, FilingRequest(title="activate", category="policy", attributes={"candidate_version": "ab" * 32})
        )
    assert info.value.errors[0].path == "$.attributes.candidate_version"


def test_filing_during_activation_never_sees_a_half_loaded_policy(database_url: str, policy_file: Path) -> None:
    rt = open_runtime(database_url, str(policy_file))
    try:
        old = rt.policies.current.version
        text = _candidate_text(policy_file)
        stop = threading.Event()
        seen: list[tuple[str, int]] = []
        mei = rt.policies.current.people["mei"]

        def filer() -> None:
            while not stop.is_set():
                d = rt.service.file(
                    mei, FilingRequest(title="q", category="quality_threshold", attributes={"deviation_pct": 1.5})
                ).decision
                seen.append((d.policy_version, d.tier))

        thread = threading.Thread(target=filer)
        thread.start()
        try:
            new = _propose_and_approve(rt, text)
        finally:
            stop.set()
            thread.join()
        # Every decision was classified wholly under one version: 1.5% is tier 1 under the old
        # bound and tier 2 under the new one, never a mix.
        assert seen
        assert all((v, t) in {(old, 1), (new, 2)} for v, t in seen)
    finally:
        rt.close()


_POLICY_AT_TIER_3 = (
    "    base_tier: 3\n    examples:\n"
    "      - {attributes: {candidate_version: 3f2a9c, summary: raise the pipeline risk threshold}, tier: 3}\n"
)
#: The policy category settled by the squad unless the summary says "major".
_POLICY_AT_TIER_1 = (
    "    base_tier: 1\n    rules:\n      - id: major-change\n        when: {summary: major}\n        tier: 3\n"
    "        description: a major change of the policy\n    examples:\n"
    "      - {attributes: {candidate_version: 3f2a9c, summary: minor}, tier: 1}\n"
)


def _squad_settled_policy(policy_file: Path) -> None:
    text = policy_file.read_text()
    assert _POLICY_AT_TIER_3 in text
    policy_file.write_text(text.replace(_POLICY_AT_TIER_3, _POLICY_AT_TIER_1))


def test_a_policy_that_lets_the_squad_settle_a_policy_decision_never_runs_nor_becomes_a_candidate(
    database_url: str, policy_file: Path
) -> None:
    rt = open_runtime(database_url, str(policy_file), clock=ManualClock())
    try:
        first = rt.policies.current.version
        _squad_settled_policy(policy_file)
        text = policy_file.read_text()
        line = text.count("\n", 0, text.index("base_tier: 1", text.index("\n  policy:\n"))) + 1
        with pytest.raises(PolicyLoadError, match=rf"candidate.yaml:{line}:16: a `policy` decision activates"):
            rt.governance.propose(text, "candidate.yaml")
        with pytest.raises(PolicyLoadError, match=rf"{line}:16: a `policy` decision activates"):
            rt.governance.activate_file(rt.policies.current.people["adm"])
        assert rt.policies.current.version == first
        assert [v.version for v in rt.governance.versions()] == [first]
        assert audit_database(rt.service.engine).ok
    finally:
        rt.close()
    # Nor does the service start on it (the last good version is what the database would run).
    with pytest.raises(PolicyLoadError, match="resolved by the squad without sign-off"):
        open_runtime(database_url, str(policy_file), clock=ManualClock())
