from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The inbox calls campaigns only through its hooks (inbox/hooks.py): no upward import.
        from campaigns import hooks  # keep: models must be loaded before the listeners' modules

        hooks.connect()
