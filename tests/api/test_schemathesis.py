"""Schemathesis against our OpenAPI schema, in-process through the WSGI app: every operation
gets a few generated requests (valid and edge-case bodies, params and ids) with a real token,
and none may answer 5xx. Bounded so the whole run stays well under a minute."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings

from config.wsgi import application
from tests.api.conftest import world  # noqa: F401  (the fixture: rows for the ids to hit)

EXAMPLES_PER_OPERATION = 4


@pytest.fixture
def auth(world):  # noqa: F811
    from core.api_tokens import api_token_create

    _, key = api_token_create(user=world.admin, name="schemathesis")
    return {"Authorization": f"Token {key}"}


def test_no_operation_answers_with_a_server_error(auth, settings_override):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", application, headers=auth
    )
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=auth)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{case.as_curl_command()}"
                )

        run()
    assert failures == [], "\n".join(failures[:20])


@pytest.fixture
def settings_override(settings):
    # A request through the WSGI app closes the DB connection at its end (request_finished);
    # Django's test client unhooks that so the test's transaction survives, and so do we.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    # Generated requests would trip the per-token rate limit long before they find a bug.
    settings.API_RATE_LIMIT = "100000/min"
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
