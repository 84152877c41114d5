from django.urls import path

from portal.characters import views

app_name = "characters"

_BASE = "s/<slug:studio>/p/<str:project>/characters/"
_ONE = _BASE + "<int:character_id>/"

urlpatterns = [
    path(_BASE, views.CharacterListView.as_view(), name="list"),
    path(_BASE + "add/", views.CharacterAddView.as_view(), name="add"),
    path(_ONE + "edit/", views.CharacterEditView.as_view(), name="edit"),
    path(_ONE + "delete/", views.CharacterDeleteView.as_view(), name="delete"),
    path(_ONE + "references/add/", views.ReferenceAddView.as_view(), name="reference_add"),
    path(_ONE + "references/<int:reference_id>/edit/", views.ReferenceEditView.as_view(), name="reference_edit"),
    path(_ONE + "references/<int:reference_id>/delete/", views.ReferenceDeleteView.as_view(), name="reference_delete"),
]
