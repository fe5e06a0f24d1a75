"""The preview host: a stand-in for myApps, for the embedded default only.

`/myapps/preview?user=alice` frames the user app (`&app=admin`: the admin app) the way myApps does
and answers its `getLogin` with the `Login` that the built-in PBX simulator signs with the App
object's password — as a PBX would for alice. It signs anybody in as anybody, so it exists only
while this process runs the built-in simulator (no PBX_URL, `runheartbeat` attached it here);
everywhere else both URLs are 404.

The app is framed from this service's other loopback name (127.0.0.1 ↔ localhost): another site
for the browser, so cookies and framing behave as in myApps' cross-site frame.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from presence.myapps.config import ADMIN, USER, app_language, app_object, loopback_twin
from presence.pbx.simulator import PbxSimulator

ASK_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Builtin:
    simulator: PbxSimulator
    loop: asyncio.AbstractEventLoop


_builtin: _Builtin | None = None


def use_simulator(simulator: PbxSimulator, loop: asyncio.AbstractEventLoop) -> None:
    """Called by `runheartbeat` when it runs the built-in simulator on `loop`: the preview host opens."""
    global _builtin
    _builtin = _Builtin(simulator, loop)


def forget_simulator() -> None:
    global _builtin
    _builtin = None


def _simulator() -> _Builtin:
    if settings.PBX_URL or _builtin is None:
        raise Http404("The preview host exists only in the embedded default with the built-in PBX simulator.")
    return _builtin


def _ask(builtin: _Builtin, fn, *args) -> Any:
    """`fn(*args)` on the simulator's event loop, where its state lives; this is a request thread."""

    async def call() -> Any:
        return fn(*args)

    return asyncio.run_coroutine_threadsafe(call(), builtin.loop).result(timeout=ASK_TIMEOUT)


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


@never_cache
@require_GET
def preview_page(request: HttpRequest) -> HttpResponse:
    builtin = _simulator()
    role = _choice(request.GET.get("app"), (USER, ADMIN), USER)
    scheme = _choice(request.GET.get("scheme"), ("light", "dark"), "light")
    lang = app_language(request.GET.get("lang"))
    sim = builtin.simulator
    people = _ask(builtin, lambda: [(u.h323, u.dn or u.cn, sim.apps_of(u.h323)) for u in sim.users])
    login = request.GET.get("user") or (people[0][0] if people else "")
    app = app_object(role)
    own = f"{request.scheme}://{request.get_host()}"
    app_origin = loopback_twin(own) or own
    query = urlencode({"name": app.name, "lang": lang, "scheme": scheme, "title": app.name})
    context = {
        "role": role,
        "scheme": scheme,
        "lang": lang,
        "login": login,
        "people": [{"login": h323, "name": name, "apps": apps} for h323, name, apps in people],
        "app": app,
        "apps": [app_object(USER), app_object(ADMIN)],
        "same_site": app_origin == own,
        "frame_src": f"{app_origin}{app.path}.htm?{query}",
        "host_config": {"appOrigin": app_origin, "user": login, "loginUrl": "/myapps/preview/login"},
    }
    with translation.override(lang):
        return render(request, "myapps/preview.html", context)


@never_cache
@require_GET
def preview_login(request: HttpRequest) -> JsonResponse:
    """`?user=&app=&challenge=`: the `Login` the simulated PBX gives `user` for App object `app`."""
    builtin = _simulator()
    user = request.GET.get("user", "")
    app = request.GET.get("app", "")
    challenge = request.GET.get("challenge", "")
    if not (user and app and challenge) or len(challenge) > 16:
        problem = "user, app and a challenge of at most 16 characters"
        return JsonResponse({"mt": "Login", "error": 4, "errorText": problem})
    return JsonResponse(_ask(builtin, builtin.simulator.app_login, app, user, challenge))
