"""Free-text search (SQLite FTS5 / PostgreSQL tsvector), sort, date range and the CSV export, on both backends."""

from __future__ import annotations

import csv
import io
from typing import Any

import sqlalchemy as sa

from engine.log import rebuild
from engine.store.migrate import alembic_config
from tests.api.conftest import Api


def _search(api: Api, **params: Any) -> list[str]:
    response = api.get("/v1/decisions", "ann", params=params)
    assert response.status_code == 200, response.text
    return [d["title"] for d in response.json()["items"]]


def _file(api: Api, title: str, rationale: str | None = None, who: str = "mei") -> dict[str, Any]:
    body = {"title": title, "category": "pipeline", "attributes": {"risk_score": 80}, "rationale": rationale}
    response = api.post("/v1/decisions", who, body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_word_in_a_title_rationale_or_comment_is_found(api: Api) -> None:
    _file(api, "Raise the dedup threshold", "Duplicates inflate the benchmark")
    commented = _file(api, "Switch the tokenizer", "Faster on long documents")
    _file(api, "Nothing to see here")
    r = api.post(f"/v1/decisions/{commented['id']}/comments", "tomas", {"text": "Check the Kubernetes quota first"})
    assert r.status_code == 201, r.text

    assert _search(api, q="dedup") == ["Raise the dedup threshold"]  # title
    assert _search(api, q="benchmark") == ["Raise the dedup threshold"]  # rationale
    assert _search(api, q="kubernetes") == ["Switch the tokenizer"]  # comment, any case
    # Every word must occur, in any of the three.
    assert _search(api, q="tokenizer quota") == ["Switch the tokenizer"]
    assert _search(api, q="tokenizer benchmark") == []
    # Stemmed on both backends: a plural finds the singular.
    assert _search(api, q="thresholds") == ["Raise the dedup threshold"]
    # Punctuation and the engines' own query syntax are just separators, never an error or an operator.
    assert _search(api, q='dedup" *:(') == ["Raise the dedup threshold"]
    assert _search(api, q="dedup -threshold") == ["Raise the dedup threshold"]  # no NOT: both words
    assert _search(api, q="(dedup) & !threshold") == ["Raise the dedup threshold"]
    # Combined with the other filters.
    assert _search(api, q="dedup", status="pending") == ["Raise the dedup threshold"]
    assert _search(api, q="dedup", status="resolved") == []


def test_search_follows_amendments_and_refuses_an_empty_query(api: Api) -> None:
    d = _file(api, "Retire the legacy scorer")
    r = api.post(f"/v1/decisions/{d['id']}/amend", "mei", {"title": "Retire the heuristic ranker", "reason": "wording"})
    assert r.status_code == 200, r.text
    assert _search(api, q="legacy") == []
    assert _search(api, q="heuristic") == ["Retire the heuristic ranker"]
    # An approval leaves the indexed text as it was.
    assert api.post(f"/v1/decisions/{d['id']}/approvals", "tomas", {"verdict": "approve"}).status_code == 200
    assert _search(api, q="ranker") == ["Retire the heuristic ranker"]
    refused = api.get("/v1/decisions", "ann", params={"q": "?!"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "$.query.q"
    assert api.get("/v1/decisions", "ann", params={"q": "x" * 201}).status_code == 400


def test_search_survives_a_rebuild_of_the_read_model(api: Api) -> None:
    d = _file(api, "Adopt the new glossary")
    api.post(f"/v1/decisions/{d['id']}/comments", "tomas", {"text": "terminology review pending"})
    rebuild.apply(api.runtime.service.engine)
    assert _search(api, q="glossary") == ["Adopt the new glossary"]
    assert _search(api, q="terminology") == ["Adopt the new glossary"]


def test_the_migration_indexes_existing_decisions(api: Api) -> None:
    from alembic import command

    d = _file(api, "Freeze the label schema")
    api.post(f"/v1/decisions/{d['id']}/comments", "tomas", {"text": "ontology owners agree"})
    url = api.runtime.service.engine.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    api.runtime.service.engine.dispose()
    command.downgrade(config, "0015_token_scope")  # the revision before 0016_search: no index at all
    command.upgrade(config, "head")  # created, and backfilled from the decisions and their comments
    assert _search(api, q="schema") == ["Freeze the label schema"]
    assert _search(api, q="ontology") == ["Freeze the label schema"]


def test_sorts_page_with_cursors_and_the_date_range_bounds_filing(api: Api) -> None:
    clock = api.runtime.service.clock
    titles = ["delta rollout", "alpha rollout", "charlie rollout", "bravo rollout", "echo rollout"]
    filed_at = []
    for i, title in enumerate(titles):
        body = {"title": title, "category": "pipeline", "attributes": {"risk_score": 80 if i % 2 else 10}}
        assert api.post("/v1/decisions", "mei", body).status_code == 201
        filed_at.append(clock())
        clock.advance(hours=1)  # type: ignore[attr-defined]

    def walk(**params: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            page = api.get(
                "/v1/decisions",
                "ann",
                params={"q": "rollout", "limit": 2, **params, **({"cursor": cursor} if cursor else {})},
            )
            assert page.status_code == 200, page.text
            seen += [d["title"] for d in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return seen

    assert walk() == titles[::-1]
    assert walk(sort="oldest") == titles
    assert walk(sort="title") == sorted(titles)
    # Highest tier first, newest first within a tier.
    assert walk(sort="tier") == ["bravo rollout", "alpha rollout", "echo rollout", "charlie rollout", "delta rollout"]
    since = filed_at[1].isoformat().replace("+00:00", "Z")
    until = filed_at[3].isoformat().replace("+00:00", "Z")
    assert walk(since=since, until=until, sort="oldest") == titles[1:3]
    # A cursor belongs to its sort.
    first = api.get("/v1/decisions", "ann", params={"limit": 1, "sort": "title"}).json()["next_cursor"]
    assert api.get("/v1/decisions", "ann", params={"cursor": first}).status_code == 422
    assert api.get("/v1/decisions", "ann", params={"cursor": first, "sort": "tier"}).status_code == 422
    assert api.get("/v1/decisions", "ann", params={"sort": "random"}).status_code == 400


def _rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_export_is_one_safe_row_per_decision_with_the_list_filters(api: Api) -> None:
    evil = _file(api, '=HYPERLINK("http://evil.example","click")', "rollout plan")
    plain = _file(api, "+1 for the rollout", who="ravi")
    _file(api, "unrelated")
    assert api.post(f"/v1/decisions/{evil['id']}/approvals", "tomas", {"verdict": "approve"}).status_code == 200
    response = api.get("/v1/decisions/export", "ann", params={"format": "csv", "q": "rollout", "sort": "oldest"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines()[0] == "id,title,category,tier,status,filer,squad,filed,decided,approvers"
    rows = _rows(response)
    assert [r["id"] for r in rows] == [evil["id"], plain["id"]]
    # Formula injection neutralised: the cell starts with a quote, the words are intact.
    assert rows[0]["title"] == "'" + evil["title"]
    assert rows[1]["title"] == "'+1 for the rollout"
    assert (rows[0]["status"], rows[0]["approvers"], rows[0]["filer"], rows[0]["tier"]) == (
        "approved",
        "tomas",
        "mei",
        "2",
    )
    assert rows[0]["decided"].endswith("Z") and rows[1]["decided"] == ""
    assert rows[1]["squad"] == "atlas"
    # Filters narrow it like the list; a refused filter is a problem answer, not a broken stream.
    assert [r["id"] for r in _rows(api.get("/v1/decisions/export", "ann", params={"filed_by": "ravi"}))] == [
        plain["id"]
    ]
    assert api.get("/v1/decisions/export", "ann", params={"q": "!!"}).status_code == 422
    assert api.get("/v1/decisions/export", "ann", params={"format": "xlsx"}).status_code == 400
    assert api.get("/v1/decisions/export", None).status_code == 401


def test_export_streams_past_one_batch(api: Api) -> None:
    service = api.runtime.service
    mei = api.runtime.policies.current.people["mei"]
    from engine.types import DecisionFilter, FilingRequest

    for i in range(25):
        service.file(mei, FilingRequest(title=f"bulk {i}", category="reporting_format", attributes={}))
    views = list(service.iter_decisions(DecisionFilter(q="bulk"), "oldest", batch=7))
    assert [v.title for v in views] == [f"bulk {i}" for i in range(25)]
    with service.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM decision_search")).scalar_one() == 25
