from django.urls import path

from portal.webhooks import views

app_name = "webhooks"

_P = "s/<slug:studio>/p/<str:project>/webhooks/"

urlpatterns = [
    path(_P + "add/", views.WebhookCreateView.as_view(), name="create"),
    path(_P + "<int:endpoint_id>/update/", views.WebhookUpdateView.as_view(), name="update"),
    path(_P + "<int:endpoint_id>/rotate/", views.WebhookRotateView.as_view(), name="rotate"),
    path(_P + "<int:endpoint_id>/delete/", views.WebhookDeleteView.as_view(), name="delete"),
    path(_P + "<int:endpoint_id>/test/", views.WebhookTestView.as_view(), name="test"),
    path(_P + "<int:endpoint_id>/deliveries/", views.WebhookDeliveriesView.as_view(), name="deliveries"),
    path(
        _P + "<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        views.DeliveryRedeliverView.as_view(),
        name="redeliver",
    ),
]
