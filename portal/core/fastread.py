"""Output serializers for long lists: the same JSON as DRF's, without most of its per-field cost.

DRF's `Serializer.to_representation` goes, for every field of every row, through the field's generic
`get_attribute` (a walk over the dotted source with its Mapping, callable and missing-value cases)
before the field's own `to_representation`; for a page of 50 assets with their versions, or 50 notes,
that was about a third of the request's CPU. `FastReadMixin` decides once per serializer instance
(a list's child is one instance for all its rows) how each field is read:

- a plain field with a one-step source (IntegerField, CharField, EmailField, and the value fields
  below): `getattr` on the row, then the field's own `to_representation` (int/str for the first three);
- a `SerializerMethodField`: its method, bound once;
- anything else (dotted sources, relations, nested serializers, a value that is missing or callable):
  DRF's own way, field by field.

None stays None, as DRF has it. `FAST_READ = False` turns the shortcut off (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

FAST_READ = True

_CASTS = {drf_fields.IntegerField: int, drf_fields.CharField: str, drf_fields.EmailField: str}
_VALUE_FIELDS = (
    drf_fields.BooleanField,
    drf_fields.ChoiceField,
    drf_fields.DateTimeField,
    drf_fields.DateField,
    drf_fields.FloatField,
    drf_fields.JSONField,
    drf_fields.UUIDField,
)
_MISSING = object()
_GENERIC, _METHOD, _VALUE = 0, 1, 2


class FastReadMixin:
    def _read_plan(self) -> list[tuple]:
        plan = self.__dict__.get("_fast_read_plan")
        if plan is None:
            plan = []
            for field in self._readable_fields:
                single = len(field.source_attrs) == 1
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append((field.field_name, _METHOD, None, getattr(self, field.method_name), field))
                elif single and type(field) in _CASTS:
                    plan.append((field.field_name, _VALUE, field.source_attrs[0], _CASTS[type(field)], field))
                elif single and type(field) in _VALUE_FIELDS:
                    plan.append((field.field_name, _VALUE, field.source_attrs[0], field.to_representation, field))
                else:
                    plan.append((field.field_name, _GENERIC, None, None, field))
            self.__dict__["_fast_read_plan"] = plan
        return plan

    def to_representation(self, instance):
        if not FAST_READ or isinstance(instance, Mapping):
            return super().to_representation(instance)
        ret = {}
        for name, how, attr, convert, field in self._read_plan():
            if how == _METHOD:
                ret[name] = convert(instance)
                continue
            if how == _VALUE:
                try:
                    value = getattr(instance, attr)
                except (AttributeError, ObjectDoesNotExist):
                    value = _MISSING
                if value is not _MISSING and not callable(value):
                    ret[name] = None if value is None else convert(value)
                    continue
            # DRF's own reading (Serializer.to_representation), for this field
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check_for_none is None else field.to_representation(attribute)
        return ret
