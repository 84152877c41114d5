from django.urls import path

from portal.providers import views

app_name = "providers"

urlpatterns = [
    path("s/<slug:studio>/ai-providers/defaults/", views.ToolDefaultView.as_view(), name="tool_default"),
    path("s/<slug:studio>/ai-providers/<slug:provider>/allow/", views.ProviderAllowView.as_view(), name="allow"),
]
