from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriggersConfig(AppConfig):
    name = "triggers"
    verbose_name = _("Triggers")

    def ready(self) -> None:
        from triggers import checks  # noqa: F401  (registers the system checks)
