"""The two App objects this service answers for, and the origins that may frame its /myapps/ pages."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation

USER = "user"
ADMIN = "admin"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class AppObject:
    """One App object: its Name on the PBX, the shared password, and which of our apps it opens."""

    role: str  # USER or ADMIN
    name: str
    password: str

    @property
    def enabled(self) -> bool:
        return bool(self.password)

    @property
    def path(self) -> str:
        """The App URL's path (no extension): `.htm` is the page, `.png` the icon, the path itself the websocket."""
        return f"/myapps/{self.role}"

    @property
    def url(self) -> str:
        return f"{settings.PUBLIC_URL}{self.path}"

    def __repr__(self) -> str:  # never the password, whatever prints this
        return f"AppObject(role={self.role!r}, name={self.name!r}, enabled={self.enabled})"


def app_object(role: str) -> AppObject:
    if role == USER:
        return AppObject(USER, settings.MYAPPS_USER_APP, settings.MYAPPS_USER_PASSWORD)
    if role == ADMIN:
        return AppObject(ADMIN, settings.MYAPPS_ADMIN_APP, settings.MYAPPS_ADMIN_PASSWORD)
    raise ValueError(f"no myApps app {role!r}")


def app_objects() -> list[AppObject]:
    return [app_object(USER), app_object(ADMIN)]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL; a websocket URL gives the web origin it belongs to (wss → https)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def loopback_twin(origin: str) -> str | None:
    """The same service under its other loopback name (127.0.0.1 ↔ localhost): another *site* for the
    browser, so a page on one framing the other is cross-site, as under myApps."""
    parts = urlsplit(origin)
    twin = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(parts.hostname or "")
    if twin is None:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{twin}{port}"


def is_embedded_default() -> bool:
    """No PBX configured and the service on a loopback address: `make run`'s demo with the simulator."""
    return not settings.PBX_URL and urlsplit(settings.PUBLIC_URL).hostname in LOOPBACK_HOSTS


def frame_ancestors() -> list[str]:
    """Who may frame /myapps/ pages: MYAPPS_FRAME_ANCESTORS, else the PBX's origin, else (no PBX) the
    preview host, which is this service itself under either loopback name."""
    if settings.MYAPPS_FRAME_ANCESTORS:
        return list(settings.MYAPPS_FRAME_ANCESTORS)
    if settings.PBX_URL:
        return [origin_of(settings.PBX_URL)]
    own = origin_of(settings.PUBLIC_URL)
    twin = loopback_twin(own)
    return [own, twin] if twin else [own]


def app_language(value: str | None) -> str:
    """myApps' `lang` (e.g. "de", "de-DE") as one of our LANGUAGES; the default language otherwise."""
    for candidate in (value or "", settings.LANGUAGE_CODE):
        try:
            return translation.get_supported_language_variant(candidate.lower())
        except LookupError:
            continue
    return settings.LANGUAGES[0][0]
