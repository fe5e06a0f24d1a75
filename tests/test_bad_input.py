"""Bad input against the running server: the OpenAPI schema is served and true, and no generated
request — valid, invalid, absurd — gets a 5xx or an answer the schema does not describe.

schemathesis generates requests from `/api/schema/` (drf-spectacular) and sends them over HTTP to a
real `runheartbeat` process, with a real API key and a licensed user, so the whole stack is under
test: daphne, DRF parsing, authentication, throttling, identity matching, the audit rows. The
normal suite sends 1,000 requests; `make test-long` (`-m slow`) sends 10,000.

That general run almost never gets past validation (free-text `user` and `event`: no 202 in a
thousand). A targeted run gives them real values and fuzzes the rest, deterministically: 300 cases
in `make test` (about 350 requests, 250 of them accepted and every accepted trigger decided), 5,000
in `make test-long`.
"""

from __future__ import annotations

import copy
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
TARGETED_QUICK = 300
TARGETED_LONG = 5_000
LICENSED = 2  # user0 and user1 have a seat; user2… are refused with 403
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
    """`runheartbeat` on the test database with user0 licensed: generated requests meet real data.

    The per-user rate is lifted: the targeted run posts hundreds of triggers for a handful of users,
    and a 429 would stop them before the accept path this suite is about."""
    from licensing.models import Seat
    from presence.models import PbxUser

    Seat.objects.bulk_create([Seat(user_guid=u.guid) for u in pbx.simulator.users[:LICENSED]])
    process = Server(pbx.simulator.url, SIM_PASSWORD, name="bad-input-server", TRIGGER_RATE_PER_USER="1000000/min")
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
            mine = sent[before:]
            server_errors = sum(s >= 500 for s in mine)
            print(f"{request.node.name}: {count} requests, {mine.count(202)} answered 202, {server_errors} 5xx")
            assert count >= total // OPERATIONS, f"only {count} generated requests"


# ---- targeted: valid users and known events, hostile everything else ------------------------------
# The general run above rarely gets past validation: `user` and `event` are free strings, so almost
# every request is refused before identity matching. This one gives them the values a real computer
# sends — login names, DOMAIN\login, e-mail, number; the built-in events — and lets schemathesis
# generate the rest: `device`, `at`, `id` and the Idempotency-Key header, within the served schema
# (any Unicode: controls, U+0085/U+2028, bidi, astral, long; any date-time). Each run reports how
# many requests were accepted (202), refused for licence (403) and how many of the accepted
# triggers the link worker then decided.
TARGET_USERS = ["user0", "USER0", "CORP\\user0", "user0@example.com", "1000", "user1", "corp\\User1", "user2"]
TARGETED_CONFIG = SchemathesisConfig.from_str(
    """
[generation]
mode = "positive"

[checks]
positive_data_acceptance.enabled = false
"""
)


def targeted_document() -> dict:
    from presence.models import BUILTIN_EVENTS

    document = copy.deepcopy(served_schema())
    document["paths"] = {"/api/v1/triggers": {"post": document["paths"]["/api/v1/triggers"]["post"]}}
    fields = document["components"]["schemas"]["TriggerInRequest"]["properties"]
    fields["user"] = {"type": "string", "enum": TARGET_USERS}
    fields["event"] = {"type": "string", "enum": list(BUILTIN_EVENTS)}
    return document


targeted_schema = schemathesis.openapi.from_dict(targeted_document(), config=TARGETED_CONFIG)
accepted: dict[str, list[int]] = {}  # test name → ids of the triggers answered 202
answers: dict[str, list[int]] = {}  # test name → every status


def fuzz_targeted(name: str, case, server: Server, key: str) -> None:
    response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    answers.setdefault(name, []).append(response.status_code)
    assert response.status_code < 500, f"{case.formatted_path} answered {response.status_code}: {case.body!r}"
    case.validate_response(response)
    if response.status_code == 202:
        accepted.setdefault(name, []).append(response.json()["id"])


@pytest.fixture
def reached(request):
    """After a targeted run: how far its requests got, printed; most must reach the accept path, and
    every accepted trigger must then be decided by the link worker (none left queued, none lost)."""
    name = request.node.originalname
    yield
    from triggers.models import Trigger

    statuses = answers.get(name, [])
    ids = set(accepted.get(name, []))  # a repeated idempotency key answers the first trigger again
    wait_until(
        lambda: not Trigger.objects.filter(pk__in=ids, status="queued").exists(),
        120,
        message="the link worker to decide every accepted trigger",
    )
    decided = Trigger.objects.filter(pk__in=ids).exclude(status="queued").count()
    summary = ", ".join(f"{code}: {statuses.count(code)}" for code in sorted(set(statuses)))
    print(
        f"{name}: {len(statuses)} requests ({summary}); {statuses.count(202)} answered 202 for {len(ids)} "
        f"triggers, {decided} of them decided by the link worker"
    )
    assert statuses.count(202) >= len(statuses) // 4, "too few requests got past validation to the accept path"
    assert decided == len(ids)


def targeted_examples(total: int):
    return settings(
        max_examples=total, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
    )


@targeted_schema.parametrize()
@targeted_examples(TARGETED_QUICK)
def test_targeted_requests_reach_the_accept_path_and_get_no_5xx(case, bad_input_server, api_key_clear, reached):
    fuzz_targeted("test_targeted_requests_reach_the_accept_path_and_get_no_5xx", case, bad_input_server, api_key_clear)


@pytest.mark.slow
@targeted_schema.parametrize()
@targeted_examples(TARGETED_LONG)
def test_five_thousand_targeted_requests_reach_the_accept_path_and_get_no_5xx(
    case, bad_input_server, api_key_clear, reached
):
    name = "test_five_thousand_targeted_requests_reach_the_accept_path_and_get_no_5xx"
    fuzz_targeted(name, case, bad_input_server, api_key_clear)


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
