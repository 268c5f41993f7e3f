from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations.config_history import register_models
        from integrations.permissions import sync_permissions_and_groups

        register_models()
        post_migrate.connect(sync_permissions_and_groups, sender=self)
