"""The run page's output-set block (templates/toolruns/_output_set.html)."""

from __future__ import annotations

from django import template

from portal.toolruns import output_sets

register = template.Library()


@register.simple_tag
def run_output_set(run):
    """The run's output set: state, members, last decisions (see output_sets.output_set)."""
    return output_sets.output_set(run)


@register.simple_tag
def run_output_set_blockers(run) -> list[str]:
    """What holds back approving the whole set now, member by member (for producers)."""
    return output_sets.blockers(run)
