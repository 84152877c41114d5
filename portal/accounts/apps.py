from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"

    def ready(self):
        from portal.accounts import schema  # noqa: F401  registers the OpenAPI auth extension
