from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Presence"

    def ready(self) -> None:
        from presence import checks  # noqa: F401  (registers the system checks)
        from presence.myapps import checks as myapps_checks  # noqa: F401
