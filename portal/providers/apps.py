from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "portal.providers"
    label = "providers"
    verbose_name = "Model providers"
