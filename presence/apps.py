from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Presence"

    def ready(self) -> None:
        from licensing.signals import licence_changed
        from presence import checks  # noqa: F401  (registers the system checks)
        from presence.link import wakeups
        from triggers.queue import queued

        # The link listens once to what the trigger queue and licensing announce.
        queued.connect(wakeups.trigger_queued, dispatch_uid="presence-link-trigger-queued")
        licence_changed.connect(wakeups.licence_changed, dispatch_uid="presence-link-licence-changed")
