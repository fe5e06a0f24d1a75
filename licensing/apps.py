from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = _("Licensing")

    def ready(self) -> None:
        from licensing import (
            checks,  # noqa: F401  (registers the system checks)
            state,  # noqa: F401  (forgets its cached state when a change is announced)
        )
