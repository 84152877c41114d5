"""The one way a tool talks to a model: open a session on a provider, then `complete()` each request.

    session = open_session(params.ai_provider, model=params.model, default_model="claude-sonnet-4-6")
    answer = complete(session, system=..., messages=[...], max_tokens=1024, output_config=...)
    answer.text, answer.call  # the text, and its provenance: provider, region, model, request id, tokens, cost

Whoever runs the tool decides which providers it may reach with `policy(allowed=..., default=...)`
around the run (the portal does, with the studio's choices). `open_session` refuses a provider
outside the policy with `AIRefused` (a BadInput: the run fails with that message) before any
client is built, so no byte leaves; with no provider allowed at all, or none configured, or no
credentials, it raises `AIUnavailable` and the tool keeps to its local path and says why. Outside
any policy (the command line) every configured provider may be used.

API errors are the SDK's own exceptions (`anthropic.APIStatusError`, `anthropic.APIError`): the SDK
retries 429s and 5xx with backoff (honouring retry-after) `max_retries` times; what still fails is
recorded in the session's calls (status, request id) and raised for the tool to report.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from studio_tools.ai.prices import cost_usd
from studio_tools.ai.providers import KIND_LABELS, Provider, ProviderConfigError, load_providers
from studio_tools.core.errors import BadInput

REQUEST_ID_HEADERS = ("request-id", "x-amzn-requestid", "x-request-id")


class AIRefused(BadInput):
    """The run asked for a provider (or model) it may not use; nothing was sent."""


class AIUnavailable(Exception):
    """No model can be asked from here (none allowed, none configured, no credentials); the tool stays local."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    allowed: frozenset[str]
    default: str | None = None
    owner: str = "this studio"


_policy: contextvars.ContextVar[Policy | None] = contextvars.ContextVar("studio_tools_ai_policy", default=None)


@contextmanager
def policy(allowed, default: str | None = None, owner: str = "this studio") -> Iterator[Policy]:
    """Within the block, only providers in `allowed` may be reached (`default` when the run names none)."""
    current = Policy(frozenset(allowed), default, owner)
    token = _policy.set(current)
    try:
        yield current
    finally:
        _policy.reset(token)


def current_policy() -> Policy | None:
    return _policy.get()


@dataclass
class CallRecord:
    """Provenance of one request."""

    provider: str
    kind: str
    region: str
    model: str
    provider_model: str
    status: str = "ok"  # "ok" or "error"
    http_status: int | None = None
    request_id: str | None = None
    message_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float | None = 0.0
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    text: str
    stop_reason: str | None
    call: CallRecord
    message: Any = None


@dataclass
class Session:
    provider: Provider
    model: str
    client: Any
    calls: list[CallRecord] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    _owns_client: bool = True

    def close(self) -> None:
        if self._owns_client and hasattr(self.client, "close"):
            self.client.close()

    def summary(self) -> dict[str, Any]:
        """The run's AI provenance: where every request went, their ids, tokens and cost."""
        costs = [c.cost_usd for c in self.calls]
        return {
            "provider": self.provider.id,
            "kind": self.provider.kind,
            "label": self.provider.label,
            "region": self.provider.region,
            "model": self.model,
            "provider_model": self.provider.model_id(self.model) or self.model,
            "requests": len(self.calls),
            "failed_requests": sum(1 for c in self.calls if c.status != "ok"),
            "request_ids": [c.request_id for c in self.calls if c.request_id],
            "input_tokens": sum(c.input_tokens for c in self.calls),
            "output_tokens": sum(c.output_tokens for c in self.calls),
            "cache_write_tokens": sum(c.cache_write_tokens for c in self.calls),
            "cache_read_tokens": sum(c.cache_read_tokens for c in self.calls),
            "cost_usd": None if any(c is None for c in costs) else round(sum(costs), 6),  # type: ignore[arg-type]
        }


# Tests hand the SDK a mock transport here (a callable returning an httpx2.Client); None: the SDK's own.
http_client_factory: Any = None


def open_session(
    provider: str | None = None,
    *,
    model: str | None = None,
    default_model: str = "claude-sonnet-4-6",
    environ: Mapping[str, str] | None = None,
    http_client: Any = None,
    max_retries: int = 3,
    timeout: float = 120.0,
) -> Session:
    """A session on `provider` (or the policy's default, or the only/first configured one) for `model`."""
    environ = os.environ if environ is None else environ
    rules = current_policy()
    if rules is not None:
        if provider is not None and provider not in rules.allowed:
            raise AIRefused(
                f"The model provider “{provider}” is not allowed for {rules.owner}; nothing was sent. "
                "Choose an allowed provider, or ask a studio admin to allow it in the studio settings."
            )
        if not rules.allowed:
            raise AIUnavailable(f"no model provider is allowed for {rules.owner}, so the local path ran")
    try:
        configured = load_providers(environ)
    except ProviderConfigError as exc:
        raise AIUnavailable(f"the model providers' configuration is unusable: {exc}") from None
    if provider is None:
        candidates = [p for p in configured if rules is None or p in rules.allowed]
        provider = rules.default if rules is not None and rules.default in candidates else next(iter(candidates), None)
        if provider is None:
            raise AIUnavailable("no model provider is configured on this worker (AI_PROVIDERS, or ANTHROPIC_API_KEY)")
    found = configured.get(provider)
    if found is None:
        raise AIRefused(f"There is no model provider “{provider}” on this portal; nothing was sent.")
    chosen = (model or found.default_model or default_model).strip()
    if found.model_id(chosen) is None:
        offered = ", ".join(found.offered_models()) or "none"
        raise AIRefused(f"{found.label} does not offer the model {chosen} (it offers: {offered}); nothing was sent.")
    missing = found.missing_credentials(environ)
    if missing:
        raise AIUnavailable(f"{found.label}: {missing}")
    if http_client is None and http_client_factory is not None:
        http_client = http_client_factory()
    client = found.build_client(http_client=http_client, max_retries=max_retries, timeout=timeout)
    return Session(found, chosen, client, environ=environ)


def session_for_client(client: Any, model: str, environ: Mapping[str, str] | None = None) -> Session:
    """A session around an SDK client built elsewhere (tests, or a caller with its own client)."""
    name = type(client).__name__
    if "Bedrock" in name:
        kind, region = "bedrock", str(getattr(client, "aws_region", "") or "unknown")
    elif "Vertex" in name:
        kind, region = "vertex", str(getattr(client, "region", "") or "unknown")
    else:
        kind, region = "anthropic", "global"
    provider = Provider(id=kind, kind=kind, region=region, label=KIND_LABELS[kind], models={model: model})
    return Session(provider, model, client, environ=environ, _owns_client=False)


def complete(
    session: Session | Any,
    *,
    system: Any,
    messages: list[dict[str, Any]],
    max_tokens: int,
    model: str | None = None,
    output_config: dict[str, Any] | None = None,
) -> Completion:
    """Send one Messages request through the session's provider; returns the text and its provenance."""
    if not isinstance(session, Session):
        session = session_for_client(session, model or "claude-sonnet-4-6")
    chosen = model or session.model
    provider_model = session.provider.model_id(chosen) or chosen
    record = CallRecord(session.provider.id, session.provider.kind, session.provider.region, chosen, provider_model)
    session.calls.append(record)
    request: dict[str, Any] = {"model": provider_model, "max_tokens": max_tokens, "system": system, "messages": messages}
    if output_config is not None:
        request["output_config"] = output_config
    t0 = time.monotonic()
    try:
        raw = session.client.messages.with_raw_response.create(**request)
        message = _parse(raw)
    except Exception as exc:
        record.status = "error"
        record.http_status = getattr(exc, "status_code", None)
        record.request_id = _request_id(getattr(getattr(exc, "response", None), "headers", None))
        record.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        record.cost_usd = 0.0
        raise
    finally:
        record.seconds = round(time.monotonic() - t0, 3)
    record.http_status = raw.status_code
    record.request_id = _request_id(raw.headers) or getattr(message, "_request_id", None)
    record.message_id = getattr(message, "id", None)
    usage = getattr(message, "usage", None)
    record.input_tokens = int(getattr(usage, "input_tokens", 0) or 0)
    record.output_tokens = int(getattr(usage, "output_tokens", 0) or 0)
    record.cache_write_tokens = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
    record.cache_read_tokens = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
    record.cost_usd = cost_usd(
        chosen,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_write_tokens=record.cache_write_tokens,
        cache_read_tokens=record.cache_read_tokens,
        factor=session.provider.price_factor,
        environ=session.environ,
    )
    text = "".join(getattr(b, "text", "") for b in (message.content or []) if getattr(b, "type", None) == "text")
    return Completion(text, getattr(message, "stop_reason", None), record, message)


def _parse(raw: Any) -> Any:
    """The Message in a 2xx answer; a body that is not one (not JSON, no content list) is the SDK's
    APIResponseValidationError, an APIError like every other failure of the API."""
    import anthropic

    try:
        message = raw.parse()
    except anthropic.APIError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the body broke in the parser
        raise anthropic.APIResponseValidationError(
            raw.http_response, None, message=f"the provider's answer is not a message ({type(exc).__name__})"
        ) from exc
    if not isinstance(getattr(message, "content", None), list):
        raise anthropic.APIResponseValidationError(raw.http_response, None, message="the provider's answer has no content")
    return message


def _request_id(headers: Any) -> str | None:
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)[:200]
    return None
