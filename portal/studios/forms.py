from django import forms
from django.utils.translation import gettext_lazy as _

from portal.projects.models import FRAME_RATES, ProjectMembership
from portal.studios.models import StudioMembership

PROJECT_ROLE_CHOICES = [("", _("— no project —"))] + ProjectMembership.Role.choices


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    studio_role = forms.ChoiceField(
        label=_("Studio role"), choices=StudioMembership.Role.choices, initial=StudioMembership.Role.MEMBER
    )
    project = forms.ChoiceField(label=_("Add to project"), required=False)
    project_role = forms.ChoiceField(label=_("Project role"), choices=PROJECT_ROLE_CHOICES, required=False)

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("— none —"))] + [(str(p.pk), f"{p.code} – {p.name}") for p in projects]


class StudioRoleForm(forms.Form):
    role = forms.ChoiceField(choices=StudioMembership.Role.choices)


class StudioSettingsForm(forms.Form):
    require_two_factor = forms.BooleanField(label=_("Require two-factor sign-in for every member"), required=False)
    allow_external_ai = forms.BooleanField(label=_("Allow footage to be sent to an external AI provider"), required=False)
    retention_days = forms.IntegerField(label=_("Data retention (days)"), min_value=1, max_value=3650)


class ProjectForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32, help_text=_("Capital letters, digits and underscores, e.g. HOD_S2"))
    name = forms.CharField(label=_("Name"), max_length=150)
    frame_rate = forms.ChoiceField(label=_("Frame rate"), choices=FRAME_RATES, initial="24/1")


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    frame_rate = forms.ChoiceField(label=_("Frame rate"), choices=FRAME_RATES)


class ProjectMemberAddForm(forms.Form):
    user = forms.ChoiceField(label=_("Studio member"))
    role = forms.ChoiceField(label=_("Role"), choices=ProjectMembership.Role.choices)

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [
            (str(m.user_id), m.user.display_name + (f" <{m.user.email}>" if m.user.full_name else "")) for m in candidates
        ]


class ProjectRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ProjectMembership.Role.choices)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Who"), required=False)
    action = forms.CharField(label=_("What"), required=False)
    project = forms.ChoiceField(label=_("Project"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("All projects"))] + [(str(p.pk), p.code) for p in projects]
