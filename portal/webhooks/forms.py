from django import forms
from django.utils.translation import gettext_lazy as _

from portal.webhooks.models import Event
from portal.webhooks.services import DESCRIPTION_MAX


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://pipeline.example.com/portal-webhooks", "autocomplete": "off"}),
    )
    description = forms.CharField(label=_("Description"), max_length=DESCRIPTION_MAX, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(Event.values),
        error_messages={"required": _("Choose at least one event to send.")},
    )
