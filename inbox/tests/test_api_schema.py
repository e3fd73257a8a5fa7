"""OpenAPI 3: served to signed-in callers only, Swagger UI from the sidecar (no CDN), and the
schema fuzzed by schemathesis against a live daphne as a rep, a manager and an admin: no 5xx,
every answer conforms to the schema."""
from __future__ import annotations

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from inbox.tests.api_world import build_world

EXAMPLES_PER_OPERATION = 6  # × ~45 operations × 3 roles: keeps the whole file well under 90 s


def test_schema_is_openapi_3_and_lists_the_inbox_routes(world, client_for):
    response = client_for(world.rep_a.user).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/auth/token/", "/api/me/", "/api/conversations/", "/api/conversations/{id}/assign/",
                 "/api/conversations/{conversation_id}/messages/", "/api/messages/search/",
                 "/api/messages/{message_id}/retry/", "/api/templates/{id}/preview/", "/api/contacts/import/"):
        assert path in schema["paths"], path
    compose = schema["paths"]["/api/conversations/{conversation_id}/messages/"]["post"]
    assert {p["name"] for p in compose["parameters"]} >= {"Idempotency-Key", "conversation_id"}
    assert compose["requestBody"]["content"]["application/json"]["examples"]
    token = schema["paths"]["/api/auth/token/"]["post"]
    assert token.get("security", []) in ([], [{}])  # the one call made without credentials
    assert {"tokenAuth": []} in schema["paths"]["/api/conversations/"]["get"]["security"]


def test_swagger_ui_is_served_from_the_sidecar_without_a_cdn(world, client_for):
    response = client_for(world.rep_a.user).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "drf_spectacular_sidecar" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs"):
        assert cdn not in html


def test_schema_and_docs_refuse_anonymous_callers(db, client):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)


# ---- schemathesis ---------------------------------------------------------------------------------

# This app's operations must conform fully; the others' (reps, channels, campaigns, ws-ticket) are held,
# like in the authorization matrix, only to "no 5xx" here: their owners pin their own schemas.
INBOX_PREFIXES = ("/api/auth/", "/api/me/", "/api/conversations/", "/api/messages/", "/api/templates/", "/api/contacts/")


def _checks(path: str) -> list:
    from schemathesis import checks

    if not path.startswith(INBOX_PREFIXES):
        return [checks.not_a_server_error]
    return [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
            checks.response_schema_conformance]


def _real_ids(world, role: str) -> dict[str, dict[str, int]]:
    """Path parameters that exist and are in the role's scope, per path prefix: half the cases use
    them, so the fuzzing reaches the 2xx paths too, not only 404s."""
    rep = {"rep": world.rep_a, "manager": world.manager_a}.get(role, world.rep_a)
    conversation = world.conv_a
    return {
        "/api/conversations/": {"id": conversation.id, "conversation_id": conversation.id},
        "/api/messages/": {"message_id": world.failed_a.id},
        "/api/templates/": {"id": world.template.id},
        "/api/contacts/": {"id": world.owned_a.id},
        "/api/channels/": {"id": world.channel.id},
        "/api/reps/": {"id": rep.id, "rep_pk": rep.id},
    }


def _strategy(operation, real: dict[str, dict[str, int]]):
    generated = operation.as_strategy()
    params = {p.name for p in operation.path_parameters} if hasattr(operation, "path_parameters") else set()
    fixed = next((ids for prefix, ids in real.items() if operation.path.startswith(prefix)), {})
    fixed = {k: v for k, v in fixed.items() if k in params or ("{" + k + "}") in operation.path}
    if not fixed:
        return generated
    return st.one_of(generated, operation.as_strategy(path_parameters=fixed))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["rep", "manager", "admin"])
def test_schemathesis_as_each_role(role, asgi_server, fast_passwords):
    import schemathesis

    world = build_world()
    user = {"rep": world.rep_a.user, "manager": world.manager_a.user, "admin": world.admin}[role]
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    raw = requests.get(f"{asgi_server}/api/schema/?format=json", headers=headers, timeout=30)
    assert raw.status_code == 200, raw.text
    schema = schemathesis.openapi.from_dict(raw.json())
    real, failures = _real_ids(world, role), []
    # deletes last, so the objects the other operations aim at still exist when they run
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    assert len(operations) >= 20

    for operation in operations:
        checks = _checks(operation.path)

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation, real))
        def run(case):
            case.call_and_validate(base_url=asgi_server, headers=headers, checks=checks, timeout=30)  # noqa: B023

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, f"{len(failures)} operation(s) failed as {role}:\n\n" + "\n\n".join(failures)
