"""Bad input against the running server: the OpenAPI schema is served and true, and no generated
request — valid, invalid, absurd — gets a 5xx or an answer the schema does not describe.

schemathesis generates requests from `/api/schema/` (drf-spectacular) and sends them over HTTP to a
real `runheartbeat` process, with a real API key and a licensed user, so the whole stack is under
test: daphne, DRF parsing, authentication, throttling, identity matching, the audit rows. The
normal suite sends 1,000 requests; `make test-long` (`-m slow`) sends 10,000.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.e2e.stack import Server, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SIM_PASSWORD = "bad-input-sim-password"
QUICK = 1_000
LONG = 10_000
# Operations in the schema that generated requests are spread over (POST and GET of triggers).
OPERATIONS = 2
sent: list[int] = []


@pytest.fixture
def pbx(settings):
    """A simulated PBX with a few users for the server to replicate."""
    from presence.pbx.simulator import SimulatorThread, generate_users

    thread = SimulatorThread(app=settings.PBX_APP, password=SIM_PASSWORD, users=generate_users(5))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def api_key_clear(transactional_db) -> str:
    from triggers.models import ApiKey

    return ApiKey.create("schemathesis")[1]


@pytest.fixture
def bad_input_server(pbx, api_key_clear):
    """`runheartbeat` on the test database with user0 licensed: generated requests meet real data."""
    from licensing.models import Seat
    from presence.models import PbxUser

    Seat.objects.bulk_create([Seat(user_guid=u.guid) for u in pbx.simulator.users[:1]])
    process = Server(pbx.simulator.url, SIM_PASSWORD, name="bad-input-server")
    try:
        wait_until(lambda: PbxUser.objects.count() >= 5, 60, message="the directory")
        yield process
    finally:
        process.stop()


def served_schema() -> dict:
    """The document `/api/schema/` serves (same generator, same settings; the last test compares them)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


# Every check schemathesis has, with two adjustments that say what this API means by design:
# - "schema-valid data is accepted" is off: whether an event is known (the admin's own events count)
#   or `at` lies too far in the future depends on the server's state and clock, which no static
#   schema can say; those are 400s with a message per field;
# - a schema-violating request may also be refused with 413 (body over 4 KiB) — it is still refused.
CONFIG = SchemathesisConfig.from_str(
    """
[checks]
positive_data_acceptance.enabled = false
negative_data_rejection.expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
"""
)
schema = schemathesis.openapi.from_dict(served_schema(), config=CONFIG)


@pytest.fixture(autouse=True)
def counted(request):
    """Each fuzzing test must really have sent its share of the requests (hypothesis may stop early)."""
    before = len(sent)
    yield
    share = {"test_generated": QUICK, "test_ten_thousand": LONG}
    for prefix, total in share.items():
        if request.node.name.startswith(prefix):
            count = len(sent) - before
            print(f"{request.node.name}: {count} requests, {sum(s >= 500 for s in sent[before:])} answered 5xx")
            assert count >= total // OPERATIONS, f"only {count} generated requests"


def fuzz(case, server: Server, key: str) -> None:
    response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    sent.append(response.status_code)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} answered {response.status_code}"
    case.validate_response(response)


def examples(total: int):
    """Hypothesis settings for `total` generated requests spread over the schema's operations."""
    return settings(
        max_examples=total // OPERATIONS, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )


@schema.parametrize()
@examples(QUICK)
def test_generated_requests_get_no_5xx_and_only_documented_answers(case, bad_input_server, api_key_clear):
    fuzz(case, bad_input_server, api_key_clear)


@pytest.mark.slow
@schema.parametrize()
@examples(LONG)
def test_ten_thousand_generated_requests_get_no_5xx_and_only_documented_answers(case, bad_input_server, api_key_clear):
    fuzz(case, bad_input_server, api_key_clear)


def test_the_schema_and_the_offline_docs_are_served(bad_input_server):
    with urllib.request.urlopen(f"{bad_input_server.url}/api/schema/?format=json", timeout=10) as response:
        document = json.loads(response.read())
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/triggers", "/api/v1/triggers/{id}"} <= set(document["paths"])
    assert document["paths"] == json.loads(json.dumps(served_schema()["paths"]))  # what the fuzzing used
    with urllib.request.urlopen(f"{bad_input_server.url}/api/docs/", timeout=10) as response:
        page = response.read().decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page  # works without the internet
    bundle = next(part.split('"', 1)[0] for part in page.split('src="')[1:] if "swagger-ui-bundle" in part)
    with urllib.request.urlopen(f"{bad_input_server.url}{bundle}", timeout=10) as response:
        assert response.status == 200
        assert len(response.read()) > 100_000
