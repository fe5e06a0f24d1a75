"""What an administrator enters on the PBX for the two apps: the integration page's myApps section
(the reference product's "PBX manager settings") and the admin index's note when an app is off."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from presence.myapps.config import ADMIN, USER, app_object, frame_ancestors, is_embedded_default

LONG_NAMES = {USER: "Presence", ADMIN: "Presence admin"}
SETTINGS = {USER: ("MYAPPS_USER_APP", "MYAPPS_USER_PASSWORD"), ADMIN: ("MYAPPS_ADMIN_APP", "MYAPPS_ADMIN_PASSWORD")}
TITLES = {USER: _("User app"), ADMIN: _("Admin app")}
OFF = {
    USER: _("The myApps user app is off: set MYAPPS_USER_PASSWORD to the password of its App object on the PBX."),
    ADMIN: _("The myApps admin app is off: set MYAPPS_ADMIN_PASSWORD to the password of its App object on the PBX."),
}


@dataclass(frozen=True)
class AppSetup:
    role: str
    title: str
    name: str
    long_name: str
    url: str
    name_setting: str
    password_setting: str
    enabled: bool

    @property
    def off_message(self) -> str:
        return str(OFF[self.role])


def app_setups() -> list[AppSetup]:
    rows = []
    for role in (USER, ADMIN):
        app = app_object(role)
        name_setting, password_setting = SETTINGS[role]
        title = str(TITLES[role])
        rows.append(
            AppSetup(role, title, app.name, LONG_NAMES[role], app.url, name_setting, password_setting, app.enabled)
        )
    return rows


def setup_context() -> dict:
    return {"apps": app_setups(), "frame_ancestors": frame_ancestors(), "preview": is_embedded_default()}
