"""Schemathesis with every check it has, positive and negative data, as every role, against the live
server: each status, media type, header and body the service answers is the one its document promises."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.contract.conftest import ROLES, Live

EXAMPLES = 60 if os.environ.get("SOAK") else 5

CONFIG = {
    "checks": {
        # 413: a body past the size limit is refused before it is read; a refusal all the same.
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "409", "413", "415", "422"]
        },
    },
    # Not generated here: /v1 refuses a query parameter an operation does not declare and a body field a
    # body does not (test_document checks both on every operation directly), but the probes tolerate extra
    # query parameters (cache busters) and every operation tolerates extra headers.
    "generation": {"allow-extra-parameters": False},
}


#: Refusals of schema-valid bodies the document does not express yet (engine/hygiene, in the request
#: Structs' __post_init__): control characters anywhere in a body, including nested attribute keys,
#: blank or multi-line titles, bidi and zero-width characters, integers beyond 64 bits, instants outside
#: 0001-01-02..9999-12-30 (what both backends store). Any other 400
#: for schema-valid data is a document that promises more than the service takes, and fails.
HYGIENE_GAP = re.compile(
    r"control character|must not be blank|must be one line|display as something else|beyond 64 bits|out of range"
)
#: Positive data may still be refused on its merits with 422: against the active policy (which attributes a
#: category takes, whether a candidate policy loads) or the log (a proof beyond its size), which no static
#: schema can say; the document lists 422 for every such operation.
ACCEPTED = {401, 403, 404, 409, 422}


def _accepted_or_documented_gap(case: Any, response: Any) -> None:
    status = response.status_code
    if 200 <= status < 300 or status in ACCEPTED:
        return
    errors = response.json().get("errors", []) if status == 400 else []
    assert errors and all(HYGIENE_GAP.search(e["message"]) for e in errors), (
        f"schema-valid request refused: {case.method} {case.formatted_path} -> {status} {response.text[:500]}"
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_answer_is_the_documented_one(live: Live, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(
        live.url + "/schema/openapi.json", config=SchemathesisConfig.from_dict(CONFIG)
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        @given(case=operation.as_strategy(mode))
        def run(case: Any) -> None:
            for person in ROLES.values():
                headers = {"Authorization": f"Bearer {live.tokens[person]}"}
                response = case.call(base_url=live.url, headers=headers, timeout=30)
                case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
                if mode is GenerationMode.POSITIVE:
                    _accepted_or_documented_gap(case, response)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE and not operation.body and not list(operation.iter_parameters()), (
                operation.label
            )  # nothing to make invalid (GET /healthz takes no input)
        except Exception as exc:  # every operation is tried; the assertion lists them all
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
