"""What sets /myapps/ pages apart: they run in myApps' cross-site frame.

- `MyAppsCookiesMiddleware` (before the session middleware): under /myapps/ the session and CSRF
  cookies are our own — other names, `Path=/myapps/`, `SameSite=None; Secure; Partitioned` — so
  that a framed page keeps its session (a Lax cookie is not sent into a cross-site frame, and a
  Partitioned one still is where third-party cookies are blocked), while the admin's ordinary
  `/admin/` session keeps its Lax cookie and never meets the framed one.
- `MyAppsFrameMiddleware` (after X-Frame-Options): /myapps/ pages may be framed by the origins of
  `config.frame_ancestors()` (CSP `frame-ancestors`); every other page keeps `X-Frame-Options: DENY`.
  Under /myapps/admin/ it serves the Django admin through `frame_urls`, so that every link the
  admin builds stays inside the framed area, and checks that the session still belongs to the PBX
  user who opened it.
"""

from __future__ import annotations

from http.cookies import Morsel

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from presence.myapps import accounts
from presence.myapps.config import app_language, frame_ancestors

PREFIX = "/myapps/"
ADMIN_PREFIX = "/myapps/admin/"
FRAME_URLCONF = "presence.myapps.frame_urls"
SESSION_COOKIE = "myapps_sessionid"
CSRF_COOKIE = "myapps_csrftoken"
SESSION_GUID = "myapps_admin_guid"
SESSION_LANG = "myapps_lang"
SESSION_SCHEME = "myapps_scheme"


def _cookie_pairs() -> list[tuple[str, str]]:
    return [(SESSION_COOKIE, settings.SESSION_COOKIE_NAME), (CSRF_COOKIE, settings.CSRF_COOKIE_NAME)]


def frame_cookie(name: str, morsel: Morsel) -> Morsel:
    """`morsel` under our name, scoped to /myapps/ and fit for a cross-site frame."""
    framed: Morsel = Morsel()
    framed.set(name, morsel.value, morsel.coded_value)
    framed.update({key: value for key, value in morsel.items() if value})
    framed["path"] = PREFIX
    framed["secure"] = True
    # Python's Morsel knows no Partitioned flag before 3.14 (and Django's set_cookie none at all):
    # it rides on the SameSite value, which Morsel writes out as given.
    framed["samesite"] = "None; Partitioned"
    return framed


class MyAppsCookiesMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        cookies = request.COOKIES
        for ours, djangos in _cookie_pairs():
            value = cookies.pop(ours, None)
            cookies.pop(djangos, None)  # the top-level session never reaches a framed page
            if value is not None:
                cookies[djangos] = value
        response = self.get_response(request)
        for ours, djangos in _cookie_pairs():
            morsel = response.cookies.pop(djangos, None)
            if morsel is not None:
                response.cookies[ours] = frame_cookie(ours, morsel)
        return response


class MyAppsFrameMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        if request.path_info.startswith(ADMIN_PREFIX):
            response = self.framed_admin(request)
        else:
            response = self.get_response(request)
        response.xframe_options_exempt = True
        ancestors = "frame-ancestors " + " ".join(frame_ancestors())
        existing = response.get("Content-Security-Policy")
        if not existing:
            response["Content-Security-Policy"] = ancestors
        elif "frame-ancestors" not in existing:
            response["Content-Security-Policy"] = f"{existing.rstrip('; ')}; {ancestors}"
        return response

    def framed_admin(self, request: HttpRequest) -> HttpResponse:
        request.urlconf = FRAME_URLCONF
        request.myapps_admin_frame = True  # type: ignore[attr-defined]  # read by the admin's templates
        user = request.user
        if user.is_authenticated and not accounts.session_account_is_linked(user, request.session.get(SESSION_GUID)):
            # Only the admin app's own sign-in opens a framed session; anything else is ended here.
            logout(request)
        with translation.override(app_language(request.session.get(SESSION_LANG))):
            return self.get_response(request)
