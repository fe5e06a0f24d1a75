"""A trivial Django view for the benchmarks (tests/bench): the yardstick the trigger API is measured against.

Served only when `BENCH_VIEWS=true`, through the same middleware and server as the API, so that
"accepted triggers per second" can be read next to "what this server does for a view that does nothing".
The benchmark posts the same body to both, so request size and parsing cost the same.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def trivial(request) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")
