from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from portal.core import views as core_views

admin.site.site_header = "AI Studio Partner Portal – platform admin"
admin.site.site_title = "Partner Portal admin"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("account/", include("portal.accounts.urls")),
    path("", include("portal.studios.urls")),
    path("", include("portal.projects.urls")),
    path("", include("portal.footage.urls")),
    path("", include("portal.review.urls")),
    path("", include("portal.toolruns.urls")),
    path("", include("portal.characters.urls")),
    path("", include("portal.providers.urls")),
    path("", include("portal.webhooks.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
]

handler403 = "portal.core.views.permission_denied"
