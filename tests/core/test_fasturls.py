"""reverse_with_id gives exactly what reverse() gives, for every id and the fixed arguments."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.core.fasturls import reverse_with_id


@pytest.mark.parametrize("version_id", [1, 7, 42, 2_147_483_646])
def test_same_as_reverse(version_id):
    where = {"studio": "north-light", "project": "EP_01"}
    assert reverse_with_id("footage:media", "version_id", version_id, what="poster", **where) == reverse(
        "footage:media", kwargs={**where, "version_id": version_id, "what": "poster"}
    )
    assert reverse_with_id("review:review", "version_id", version_id, **where) == reverse(
        "review:review", kwargs={**where, "version_id": version_id}
    )
    assert reverse_with_id("footage:asset", "asset_id", version_id, **where) == reverse(
        "footage:asset", kwargs={**where, "asset_id": version_id}
    )


def test_other_fixed_arguments_get_their_own_url():
    a = reverse_with_id("footage:media", "version_id", 3, studio="a", project="P", what="proxy")
    b = reverse_with_id("footage:media", "version_id", 3, studio="b", project="P", what="poster")
    assert a == reverse("footage:media", kwargs={"studio": "a", "project": "P", "version_id": 3, "what": "proxy"})
    assert a != b
