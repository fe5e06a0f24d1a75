from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Presence"

    def ready(self) -> None:
        from licensing.state import licence_changed
        from presence import checks  # noqa: F401  (registers the system checks)
        from presence.link.service import licence_changed_here

        licence_changed.connect(licence_changed_here, dispatch_uid="presence-link-licence-changed")
