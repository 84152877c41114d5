"""The provider seam: every model request of every tool goes through here (rule 7 of the house plan).

- `providers`: which providers exist (Anthropic API, Claude on AWS Bedrock, Claude on Vertex AI, each
  with its region), configured by platform staff in the environment or a secrets file, and their
  SDK clients;
- `call`: `open_session` (refuses a provider the run may not use before any byte leaves) and
  `complete` (one request; the text plus its provenance: provider, region, model, request id,
  tokens, cost);
- `prices`: the price table per model.
"""

from studio_tools.ai.call import (
    AIRefused,
    AIUnavailable,
    CallRecord,
    Completion,
    Policy,
    Session,
    complete,
    current_policy,
    open_session,
    policy,
    session_for_client,
)
from studio_tools.ai.prices import PRICES, cost_usd
from studio_tools.ai.providers import Promises, Provider, ProviderConfigError, load_providers

__all__ = [
    "PRICES",
    "AIRefused",
    "AIUnavailable",
    "CallRecord",
    "Completion",
    "Policy",
    "Promises",
    "Provider",
    "ProviderConfigError",
    "Session",
    "complete",
    "cost_usd",
    "current_policy",
    "load_providers",
    "open_session",
    "policy",
    "session_for_client",
]
