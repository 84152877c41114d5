from django.apps import AppConfig
from django.db.models.signals import post_save


def _disabled_user_loses_sockets(sender, instance, **kwargs):
    """However an account is disabled (admin, shell, a service), its open sockets re-check and close."""
    if not instance.is_active and instance.pk:
        from portal.live.services import user_sockets_recheck_on_commit

        user_sockets_recheck_on_commit(instance.pk)


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"

    def ready(self):
        from portal.accounts import schema  # noqa: F401  registers the OpenAPI auth extension

        post_save.connect(_disabled_user_loses_sockets, sender=self.get_model("User"), dispatch_uid="accounts.disabled_sockets")
