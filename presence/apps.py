from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = _("Presence")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from licensing.signals import licence_changed
        from presence import checks  # noqa: F401  (registers the system checks)
        from presence.link import wakeups
        from presence.myapps import checks as myapps_checks  # noqa: F401
        from presence.userpage.signout import close_sockets_of_session
        from triggers.queue import queued

        # The link listens once to what the trigger queue and licensing announce.
        queued.connect(wakeups.trigger_queued, dispatch_uid="presence-link-trigger-queued")
        licence_changed.connect(wakeups.licence_changed, dispatch_uid="presence-link-licence-changed")
        user_logged_out.connect(close_sockets_of_session, dispatch_uid="presence-close-sockets-on-logout")
