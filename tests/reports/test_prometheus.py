"""The /metrics scrape read as Prometheus would: well-formed families, cumulative buckets, counters that only grow."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.api.conftest import Api

# Label values may hold braces (route templates such as /v1/decisions/{decision_id}): match quoted strings.
SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\})? (?P<value>\S+)$'
)


def _scrape(api: Api) -> dict[str, float]:
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    types: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, f"{family} declared twice"
            types[family] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, line
        name = m["name"]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE"
        samples[f"{name}{{{m['labels'] or ''}}}"] = float(m["value"])
    return samples


def test_the_scrape_is_well_formed_and_buckets_are_cumulative(api: Api) -> None:
    api.file("mei", "reporting_format", {})
    for _ in range(3):
        api.get("/v1/decisions", "mei")
    samples = _scrape(api)
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, value in samples.items():
        if key.startswith("decisions_http_request_duration_seconds_bucket{"):
            labels = key[key.index("{") + 1 : -1]
            series = re.sub(r',?le="[^"]*"', "", labels)
            le = re.search(r'le="([^"]*)"', labels)
            assert le is not None
            buckets[series].append((float(le[1]), value))
    assert buckets
    for series, points in buckets.items():
        counts = [c for _, c in sorted(points)]
        assert counts == sorted(counts), series  # cumulative
        assert counts[-1] == samples[f"decisions_http_request_duration_seconds_count{{{series}}}"]
    listing = 'decisions_http_request_duration_seconds_count{method="GET",route="/v1/decisions",status="2xx"}'
    assert samples[listing] >= 3


def test_the_scrape_names_no_one_and_no_decision(api: Api) -> None:
    d = api.file("mei", "contract", {"change": "scope"}, title="Acme confidential scope")
    text = api.client.get("/metrics").text
    for secret in (d["id"], "Acme", "mei", "dana"):
        assert secret not in text


def test_decisions_filed_total_never_goes_down(api: Api) -> None:
    d = api.file("mei", "pipeline", {"risk_score": 80})
    before = _scrape(api)["decisions_filed_total{}"]
    amended = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"attributes": {"risk_score": 5}, "reason": "smaller"})
    assert amended.status_code == 200, amended.text
    assert amended.json()["tier"] == 1
    assert _scrape(api)["decisions_filed_total{}"] >= before
    assert _scrape(api)['decisions_by_tier{tier="2"}'] == 0  # the gauge follows the amendment
