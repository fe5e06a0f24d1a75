from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Presence"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from presence import checks  # noqa: F401  (registers the system checks)
        from presence.userpage.signout import close_sockets_of_session

        user_logged_out.connect(close_sockets_of_session, dispatch_uid="presence-close-sockets-on-logout")
