"""schemathesis against the API's own OpenAPI document, over real HTTP.

Every operation (except the endless live stream) is called with generated valid
(positive) and invalid (negative) inputs as a logged-in admin, on PostgreSQL: no response may be a
server error, and every response must match the documented status codes, content
types and schemas. Examples per operation are bounded so the whole run stays well
under 90 s on two cores.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.support import ApiServer, World, login, serve, settings_for

pytestmark = pytest.mark.integration

#: generated examples per operation and mode (bounded: ~170 operations on a 2-core host)
EXAMPLES = 6
#: only the operations whose path contains this (a developer's focus; unset in CI)
ONLY = os.environ.get("SALINMAS_FUZZ_ONLY", "")

#: 503 problems the API documents on purpose: the device-command route answers
#: broker-unavailable when the API runs without a broker connection (as here); anything
#: else in 5xx is a defect.
UNAVAILABLE = {
    "https://salinmas.org/problems/broker-unavailable",
    "https://salinmas.org/problems/no-provider",  # no payment provider configured (as here)
}


def _problem_type(response: Any) -> object:
    try:
        return response.json().get("type")
    except ValueError:
        return None


@schemathesis.check
def no_undocumented_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, except a documented 503 problem."""
    documented = "503" in case.operation.definition.raw.get("responses", {})
    if response.status_code == 503 and documented and _problem_type(response) in UNAVAILABLE:
        return None
    return not_a_server_error(ctx, response, case)  # type: ignore[no-any-return]


#: what uvicorn answers itself to bytes that are not HTTP (a negative case's header
#: ``content-length: q``): the request never reached the API, so nothing of the API's
#: document applies (seen once in ~20 runs)
NOT_HTTP = "Invalid HTTP request received."


def _api_answered(check: Any) -> Any:
    def wrapped(ctx: Any, response: Any, case: Any) -> bool | None:
        if response.status_code == 400 and response.text == NOT_HTTP:
            return None
        return check(ctx, response, case)  # type: ignore[no-any-return]

    wrapped.__name__ = f"{check.__name__}_when_the_api_answered"
    return schemathesis.check(wrapped)


CHECKS = [
    no_undocumented_server_error,
    *(
        _api_answered(c)
        for c in (
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        )
    ),
]


@pytest.fixture
def pg_api(seeded_ledger_url: tuple[str, World], tmp_path: Path) -> Iterator[ApiServer]:
    """The API on a seeded PostgreSQL ledger (the production database: a NUL in text is a
    500 there and not on SQLite; the rest of the suite covers SQLite)."""
    with serve(settings_for(seeded_ledger_url[0], tmp_path)) as server:
        yield server


@pytest.fixture
def operator_token(pg_api: ApiServer) -> str:
    with pg_api.client() as c:
        return login(c, "admin")


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_api_conforms_to_its_openapi_document(pg_api: ApiServer, operator_token: str) -> None:
    api = pg_api
    schema = schemathesis.openapi.from_url(f"{api.url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {operator_token}"}
    failures: list[str] = []
    operations = 0
    for result, mode in itertools.product(schema.get_all_operations(), list(GenerationMode)):
        op = result.ok()
        if op.path == "/api/v1/stream" or ONLY not in op.path:
            continue  # endless by design; tested in test_stream.py
        operations += 1

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters)
        except BaseException as exc:  # collect every operation's failure, then report all
            if isinstance(exc, KeyboardInterrupt):
                raise
            cause = "".join(f"; {e!r}"[:400] for e in getattr(exc, "exceptions", ()))
            failures.append(
                f"{op.method.upper()} {op.path} ({mode.value}): {str(exc)[:800]}{cause}"
            )
    assert ONLY or operations > 2 * 40
    assert not failures, "\n\n".join(failures)
