"""The query parameters that filter decisions and the log, and the filters they make: one home for both.

GET /v1/decisions and GET /v1/decisions/export take the same filters, and make a `DecisionFilter`;
GET /v1/log/export, /v1/log/export/proofs and /v1/log/bundle take the same filters, and make an
`ExportFilter`. Each set is declared once, as the arguments of a Litestar dependency; a handler asks
for the finished filter with `filters: NamedDependency[DecisionFilter]` and
`dependencies=DECISION_FILTER` (or `NamedDependency[ExportFilter]` and `EXPORT_FILTER`). Litestar reads a
dependency's arguments as it reads a handler's: validated alike, listed in the OpenAPI document in
the place of the handler's `filters`, and part of the kwargs model `api.params.DeclaredQueryParameters`
records (so they are accepted, and nothing else is). `api.params.signature_fields` finds them for the
checks that read arguments (`?tier=null`, the names in error paths). A filter added here is documented
and accepted by every handler that filters.

Litestar resolves a dependency before it validates the handler's own arguments: a request with a bad
filter and a bad `limit`, `sort` or `format` is refused naming the filter alone (GET /v1/log/export with
`?format=xml&tier=9` names `tier`, and with `?format=xml&since=x` names `since`). A single bad value is
refused as it would be were the filters the handler's own.
"""

from __future__ import annotations

from typing import Annotated

from litestar.di import Provide
from litestar.params import FromQuery, QueryParameter

from api.params import InstantQuery, instant_param
from engine.log.export import ExportFilter
from engine.store.search import MAX_QUERY
from engine.types import DecisionFilter, Status

SearchQuery = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=MAX_QUERY,
        description="Words that must all occur in the title, the rationale or a comment (stemmed, any case)",
    ),
]

#: A decision's tier, 1 to 3: the decisions and the log are filtered by it alike.
TierQuery = Annotated[int | None, QueryParameter(ge=1, le=3)]


def decision_filter(
    status: FromQuery[Status | None] = None,
    tier: TierQuery = None,
    category: FromQuery[str | None] = None,
    squad: FromQuery[str | None] = None,
    filed_by: FromQuery[str | None] = None,
    since: InstantQuery = None,
    until: InstantQuery = None,
    q: SearchQuery = None,
) -> DecisionFilter:
    return DecisionFilter(
        status=status,
        tier=tier,
        category=category,
        squad=squad,
        filed_by=filed_by,
        since=instant_param("since", since),
        until=instant_param("until", until),
        q=q,
    )


#: `dependencies=` of a handler taking `filters: NamedDependency[DecisionFilter]`. Called on the event loop:
#: parsing two instants costs less than a hop to a worker thread.
DECISION_FILTER = {"filters": Provide(decision_filter, sync_to_thread=False)}


def export_filter(
    since: InstantQuery = None,
    until: InstantQuery = None,
    category: FromQuery[str | None] = None,
    tier: TierQuery = None,
) -> ExportFilter:
    """The log's events in [since, until), of decisions in `category` and `tier` when given.

    Made before the handler runs: a bad filter is refused before a streamed export's 200 and first byte.
    """
    return ExportFilter(
        since=instant_param("since", since), until=instant_param("until", until), category=category, tier=tier
    )


#: `dependencies=` of a log handler taking `filters: NamedDependency[ExportFilter]`; on the event loop, as above.
EXPORT_FILTER = {"filters": Provide(export_filter, sync_to_thread=False)}
