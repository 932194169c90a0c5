"""Schemathesis with every check it has, positive and negative data, as every role, against the live
server: each status, media type, header and body the service answers is the one its document promises."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from tests.contract.conftest import ROLES, Live

EXAMPLES = 60 if os.environ.get("SOAK") else 5

CONFIG = {
    "checks": {
        # 422 is content refused on its merits against the active policy (which attributes a category
        # takes, whether a candidate policy loads) or the log (a proof beyond its size): no static
        # schema can say it, and the document lists it for every such operation.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]},
        # 413: a body past the size limit is refused before it is read; a refusal all the same.
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "409", "413", "415", "422"]
        },
    },
    # The service ignores query parameters it does not know (as HTTP services do); it refuses unknown
    # body fields, which test_document checks on every body directly.
    "generation": {"allow-extra-parameters": False},
}


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
                case.call_and_validate(
                    base_url=live.url, headers={"Authorization": f"Bearer {live.tokens[person]}"}, timeout=30
                )

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE and not operation.body and not list(operation.iter_parameters()), (
                operation.label
            )  # nothing to make invalid (GET /healthz takes no input)
        except Exception as exc:  # every operation is tried; the assertion lists them all
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
