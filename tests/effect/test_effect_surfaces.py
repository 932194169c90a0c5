"""The effect on every surface: the API (JSON, Markdown, HTML), the web page, the bi-weekly digest,
the escalation report and Prometheus, all against the imported baseline."""

from __future__ import annotations

from typing import Any

from engine.effect import baseline as reader
from engine.effect.service import Effect
from engine.runtime import Runtime

BASELINE = "date,kind,decided_by\n" + "".join(
    f"2026-01-{d:02d},contract,{'director' if i % 2 else 'squad'}\n" for d in range(5, 31) for i in range(2)
)


def _import(runtime: Runtime) -> int:
    items = reader.parse(BASELINE, "baseline.csv", runtime.policies.current)
    effect = Effect(runtime.service, runtime.policies, runtime.service.clock)
    return effect.import_baseline(runtime.policies.current.people["adm"], items, "baseline.csv")


def test_effect_api_formats_and_baseline(api: Any) -> None:
    seq = _import(api.runtime)
    api.file("mei", "contract", {"change": "scope"})
    api.file("mei", "reporting_format", {})
    r = api.get("/v1/metrics/effect?period=month&periods=2", "mei")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["baseline"]["import_seq"] == seq and body["baseline"]["director_share"] == 0.5
    current = body["periods"][-1]
    assert (current["filed"], current["reached_director"], current["resolved_by_squad"]) == (2, 1, 1)
    md = api.get("/v1/metrics/effect?format=md", "ann")
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "| period | filed |" in md.text and f"log seq {seq}" in md.text
    html = api.get("/v1/metrics/effect?format=html", "dana")
    assert html.headers["content-type"] == "text/html; charset=utf-8" and "<svg" in html.text
    assert api.get("/v1/metrics/effect?period=decade", "mei").status_code == 400
    assert api.get("/v1/metrics/effect", None).status_code == 401


def test_digest_and_escalations_compare_with_the_imported_baseline(api: Any) -> None:
    _import(api.runtime)
    api.file("mei", "contract", {"change": "scope"})
    digest = api.get("/v1/digests/biweekly", "dana").json()
    assert digest["baseline"]["reached_director"] == 1 and digest["baseline"]["baseline_share"] == 0.5
    md = api.get("/v1/digests/biweekly?format=md", "dana").text
    assert "Reached the director: **1**, against" in md
    escalations = api.get("/v1/metrics/escalations?period=month&periods=1", "dana").json()
    assert escalations["baseline"].startswith("imported 2026-01-05..2026-01-30")
    assert escalations["baseline_escalation_rate"] == 0.5


def test_prometheus_shows_the_current_quarter_against_the_baseline(api: Any) -> None:
    _import(api.runtime)
    api.file("mei", "contract", {"change": "scope"})
    lines = api.client.get("/metrics").text.splitlines()
    assert any(line.startswith('decisions_effect_director_items{period="2026-Q1"} 1') for line in lines), lines[-30:]
    assert any(line.startswith("decisions_effect_director_load_vs_baseline_percent") for line in lines)


def test_the_effect_page_shows_the_chart_and_the_table(browser: Any) -> None:
    browser.sign_in("dana")
    page = browser.client.get("/effect?period=quarter")
    assert page.status_code == 200
    assert "Effect of decision rights, per quarter" in page.text and "<svg" in page.text
    assert 'href="/effect"' in page.text
