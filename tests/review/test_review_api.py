"""Digests and metrics over HTTP and the CLI, and the Prometheus exposition."""

from __future__ import annotations

import msgspec
import pytest
from click.testing import CliRunner

from api.cli import main
from tests.api.conftest import Api
from tests.support import DEFAULT_POLICY


def test_digest_formats_over_http(api: Api) -> None:
    d = api.file("mei", "contract", {"change": "scope"}, title="Acme scope")
    r = api.get("/v1/digests/weekly", "dana")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["cadence"] == "weekly_sync" and body["filed"] == 1 and body["pending"][0]["id"] == d["id"]
    md = api.get("/v1/digests/biweekly?format=md", "mei")
    assert (
        md.headers["content-type"].startswith("text/markdown")
        and "# Review digest: Director's bi-weekly review" in md.text
    )
    html = api.get("/v1/digests/weekly?format=html&date=2026-03-02", "ann")
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text and "Acme scope" in html.text


def test_digest_markdown_and_html_over_http_name_people_and_categories_json_keeps_ids(api: Api) -> None:
    from markdown_it import MarkdownIt

    api.file("mei", "quality_threshold", {"deviation_pct": 3.0}, title="Looser bound")
    body = api.get("/v1/digests/weekly", "dana").json()
    assert (body["pending"][0]["category"], body["pending"][0]["filed_by"]) == ("quality_threshold", "mei")
    assert body["by_category"] == {"quality_threshold": 1}
    md = api.get("/v1/digests/weekly?format=md", "dana").text
    text = MarkdownIt("commonmark").enable(["table"]).render(md).replace("\n", "")  # what a Markdown reader shows
    assert "<td>Looser bound</td><td>quality threshold</td><td>nucleus</td>" in text
    assert "<td>Mei (ML engineer) (mei)</td>" in text and "By category: quality threshold: 1" in text
    html = api.get("/v1/digests/weekly?format=html", "dana").text
    assert '<td data-label="Category"><span title="quality_threshold">quality threshold</span></td>' in html
    assert '<td data-label="Filer"><span title="mei">Mei (ML engineer)</span></td>' in html


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/digests/weekly?date=2026-13-45", "date"),
        ("/v1/digests/weekly?format=pdf", "format"),
        ("/v1/digests/monthly", "kind"),
        ("/v1/metrics/escalations?period=year", "period"),
        ("/v1/metrics/escalations?periods=0", "periods"),
    ],
)
def test_bad_queries_are_400_naming_the_field(api: Api, path: str, field: str) -> None:
    r = api.get(path, "dana")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_digests_need_a_token(api: Api) -> None:
    assert api.get("/v1/digests/weekly", None).status_code == 401


def test_escalation_metrics_over_http(api: Api) -> None:
    api.file("mei", "contract", {"change": "scope"})
    api.file("mei", "reporting_format", {})
    r = api.get("/v1/metrics/escalations?period=quarter&periods=2", "tomas").json()
    assert r["period"] == "quarter" and len(r["periods"]) == 2
    current = r["periods"][-1]
    assert (current["filed"], current["tier3"], current["escalation_rate"]) == (2, 1, 0.5)
    md = api.get("/v1/metrics/escalations?format=md", "tomas")
    assert "| period | filed |" in md.text


def test_prometheus_exposition(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    api.post(f"/v1/decisions/{d['id']}/proceed", "mei", {"reason": "outage"})
    api.file("mei", "contract", {"change": "scope"})
    api.get("/v1/decisions", "mei")
    text = api.client.get("/metrics").text
    lines = set(text.splitlines())
    assert 'decisions_pending{tier="2"} 1' in lines and 'decisions_pending{tier="3"} 1' in lines
    assert "decisions_filed_total 2" in lines and 'decisions_by_tier{tier="1"} 0' in lines
    assert "decisions_break_glass_pending 1" in lines
    assert any(
        line.startswith('decisions_http_request_duration_seconds_count{method="POST",route="/v1/decisions"')
        for line in lines
    )
    assert not any(d["id"] in line for line in lines)  # route templates, never raw paths


def test_cli_digest_and_metrics(runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.types import FilingRequest

    runtime.service.file(runtime.policies.current.people["mei"], FilingRequest(title="t", category="reporting_format"))
    url = runtime.database_url
    runner = CliRunner()
    base = ["--database-url", url, "--policy", str(DEFAULT_POLICY)]
    out = tmp_path / "digest.html"
    r = runner.invoke(main, [*base, "digest", "weekly", "--date", "2026-03-02", "--format", "html", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "<svg" in out.read_text()
    r = runner.invoke(main, [*base, "digest", "biweekly", "--format", "json"])
    assert r.exit_code == 0 and msgspec.json.decode(r.stdout)["cadence"] == "director_review"
    r = runner.invoke(main, [*base, "metrics", "escalations", "--period", "month"])
    assert r.exit_code == 0 and "Escalations per month" in r.stdout
    r = runner.invoke(main, [*base, "digest", "weekly", "--date", "yesterday"])
    assert r.exit_code == 2 and "date" in r.output.lower()
