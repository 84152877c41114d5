"""Which model providers exist, as platform staff configured them, and their SDK clients.

Three kinds ship, all through the `anthropic` SDK: the Anthropic API (`anthropic.Anthropic`), Claude
on AWS Bedrock (`anthropic.AnthropicBedrock`, SigV4-signed with AWS credentials) and Claude on Google
Vertex AI (`anthropic.AnthropicVertex`, a Google access token), each pinned to one region.

The configuration is JSON, from the environment (`AI_PROVIDERS`) or from a file whose path is in
`AI_PROVIDERS_FILE` (a mounted secret); never from the portal's database:

    {"providers": [
      {"id": "anthropic", "kind": "anthropic", "label": "Anthropic API", "region": "us",
       "api_key_env": "ANTHROPIC_API_KEY",
       "promises": {"retention": "...", "training": "...", "region": "...", "text": "...", "link": "https://..."}},
      {"id": "bedrock-eu", "kind": "bedrock", "label": "Claude on AWS Bedrock (Frankfurt)", "region": "eu-central-1",
       "aws_access_key_env": "BEDROCK_EU_KEY_ID", "aws_secret_key_env": "BEDROCK_EU_SECRET",
       "models": {"claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}},
      {"id": "vertex-eu", "kind": "vertex", "region": "europe-west1", "project_id": "studio-ai",
       "credentials_file": "/run/secrets/vertex.json",
       "models": {"claude-sonnet-4-5": "claude-sonnet-4-5@20250929"}}]}

Every secret (`api_key`, `aws_access_key`, `aws_secret_key`, `aws_session_token`, `access_token`) can
be written inline (in a secrets file), or named: `<field>_env` is an environment variable holding it,
`<field>_file` a file holding it. A Bedrock provider with no AWS credentials uses the usual AWS chain
(`AWS_ACCESS_KEY_ID`..., a profile, an instance role); a Vertex provider with neither `access_token`
nor `credentials_file` uses Google's application default credentials.

`models` maps the model names the tools use (e.g. `claude-sonnet-4-5`) to the provider's own ids
(Bedrock's `eu.anthropic....-v1:0`, Vertex's `...@20250929`); a model not listed is not offered there.
An Anthropic API provider without `models` offers every model in the price table under its own name.

With no configuration at all, an `ANTHROPIC_API_KEY` in the environment stands for one provider,
`anthropic` (the tools' behaviour before providers existed).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio_tools.ai.prices import PRICES

CONFIG_ENV = "AI_PROVIDERS"
CONFIG_FILE_ENV = "AI_PROVIDERS_FILE"
LEGACY_KEY_ENV = "ANTHROPIC_API_KEY"
KINDS = ("anthropic", "bedrock", "vertex")
KIND_LABELS = {"anthropic": "Anthropic API", "bedrock": "Claude on AWS Bedrock", "vertex": "Claude on Google Vertex AI"}
SECRET_FIELDS = ("api_key", "aws_access_key", "aws_secret_key", "aws_session_token", "access_token")
PROMISE_FIELDS = ("retention", "training", "region", "text", "link")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class ProviderConfigError(ValueError):
    """The providers' configuration cannot be used; the message says what is wrong (never a secret)."""


@dataclass(frozen=True)
class Promises:
    """What a provider promises about the material sent to it, as platform staff wrote it down."""

    retention: str = ""
    training: str = ""
    region: str = ""
    text: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in PROMISE_FIELDS}


@dataclass(frozen=True)
class Provider:
    id: str
    kind: str
    region: str
    label: str
    models: dict[str, str] = field(default_factory=dict)  # tool model name -> provider model id
    default_model: str | None = None
    price_factor: float = 1.0
    promises: Promises = field(default_factory=Promises)
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # project_id, base_url, aws_profile...
    _secrets: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def offered_models(self) -> list[str]:
        if self.models:
            return sorted(self.models)
        return sorted(PRICES) if self.kind == "anthropic" else []

    def model_id(self, model: str) -> str | None:
        """The provider's id for a tool model name, or None when that model is not offered here."""
        if self.models:
            return self.models.get(model)
        return model if self.kind == "anthropic" else None

    def public(self) -> dict[str, Any]:
        """Everything a page may show: no secret, no secret's name."""
        return {
            "id": self.id,
            "kind": self.kind,
            "kind_label": KIND_LABELS[self.kind],
            "label": self.label,
            "region": self.region,
            "models": self.offered_models(),
            "default_model": self.default_model,
            "promises": self.promises.to_dict(),
        }

    def missing_credentials(self, environ: Mapping[str, str]) -> str | None:
        """Why this provider cannot be called from here, or None when it can (as far as can be told without a call)."""
        if self.kind == "anthropic" and not self._secrets.get("api_key"):
            where = self.options.get("api_key_env") or LEGACY_KEY_ENV
            return f"no API key is set ({where})"
        if self.kind == "vertex" and not (self.options.get("project_id") or environ.get("ANTHROPIC_VERTEX_PROJECT_ID")):
            return "no Google Cloud project is configured (project_id)"
        return None

    def build_client(self, *, http_client: Any = None, max_retries: int = 3, timeout: float = 120.0) -> Any:
        """The SDK client for this provider, pinned to its region."""
        import anthropic  # only a run that may call out pays for the import

        common: dict[str, Any] = {"http_client": http_client, "max_retries": max_retries, "timeout": timeout}
        if self.options.get("base_url"):
            common["base_url"] = self.options["base_url"]
        secret = self._secrets.get
        if self.kind == "anthropic":
            return anthropic.Anthropic(api_key=secret("api_key"), **common)
        if self.kind == "bedrock":
            return anthropic.AnthropicBedrock(
                aws_region=self.region,
                aws_access_key=secret("aws_access_key"),
                aws_secret_key=secret("aws_secret_key"),
                aws_session_token=secret("aws_session_token"),
                aws_profile=self.options.get("aws_profile"),
                **common,
            )
        credentials = None
        if not secret("access_token") and self.options.get("credentials_file"):
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(
                self.options["credentials_file"], scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        vertex: dict[str, Any] = {"region": self.region, "access_token": secret("access_token"), "credentials": credentials}
        if self.options.get("project_id"):
            vertex["project_id"] = self.options["project_id"]
        return anthropic.AnthropicVertex(**vertex, **common)


def load_providers(environ: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """The configured providers by id (in configuration order); raises ProviderConfigError on a bad configuration."""
    environ = os.environ if environ is None else environ
    raw = _raw_config(environ)
    if raw is None:
        if (environ.get(LEGACY_KEY_ENV) or "").strip():
            raw = {"providers": [{"id": "anthropic", "kind": "anthropic", "label": "Anthropic API", "region": "global"}]}
        else:
            return {}
    items = raw.get("providers") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ProviderConfigError('the providers configuration must be {"providers": [...]}')
    found: dict[str, Provider] = {}
    for index, item in enumerate(items):
        provider = _provider(item, index, environ)
        if provider.id in found:
            raise ProviderConfigError(f"provider id {provider.id!r} is given twice")
        found[provider.id] = provider
    return found


def _raw_config(environ: Mapping[str, str]) -> Any:
    path = (environ.get(CONFIG_FILE_ENV) or "").strip()
    text = (environ.get(CONFIG_ENV) or "").strip()
    source = CONFIG_ENV
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProviderConfigError(f"{CONFIG_FILE_ENV} cannot be read ({exc.strerror})") from None
        source = CONFIG_FILE_ENV
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderConfigError(f"{source} is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _provider(item: Any, index: int, environ: Mapping[str, str]) -> Provider:
    if not isinstance(item, dict):
        raise ProviderConfigError(f"provider {index + 1} is not an object")
    pid = str(item.get("id", ""))
    where = f"provider {pid or index + 1}"
    if not _ID.match(pid):
        raise ProviderConfigError(f"{where}: id must be lower-case letters, digits and dashes (at most 40)")
    kind = item.get("kind")
    if kind not in KINDS:
        raise ProviderConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
    region = str(item.get("region") or "")
    if not _REGION.match(region):
        raise ProviderConfigError(f"{where}: region is required (e.g. eu-central-1, europe-west1, us)")
    models = item.get("models") or {}
    if not isinstance(models, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in models.items()):
        raise ProviderConfigError(f"{where}: models must map model names to the provider's model ids")
    if kind != "anthropic" and not models:
        raise ProviderConfigError(f"{where}: a {kind} provider must list its models (name -> {kind} model id)")
    promises = item.get("promises") or {}
    if not isinstance(promises, dict):
        raise ProviderConfigError(f"{where}: promises must be an object")
    link = str(promises.get("link") or "")
    if link and not link.startswith(("https://", "http://")):
        raise ProviderConfigError(f"{where}: the promises' link must be an http(s) address")
    try:
        price_factor = float(item.get("price_factor", 1.0))
    except (TypeError, ValueError):
        raise ProviderConfigError(f"{where}: price_factor must be a number") from None
    default_model = item.get("default_model")
    if default_model is not None and default_model not in (models or ({} if kind != "anthropic" else PRICES)):
        raise ProviderConfigError(f"{where}: default_model {default_model!r} is not one of its models")
    secrets: dict[str, str | None] = {}
    for name in SECRET_FIELDS:
        secrets[name] = _secret(item, name, environ, where)
    if kind == "anthropic" and not secrets["api_key"] and "api_key_env" not in item and "api_key_file" not in item:
        secrets["api_key"] = (environ.get(LEGACY_KEY_ENV) or "").strip() or None
    options = {k: item[k] for k in ("project_id", "base_url", "aws_profile", "credentials_file", "api_key_env") if item.get(k)}
    return Provider(
        id=pid,
        kind=kind,
        region=region,
        label=str(item.get("label") or f"{KIND_LABELS[kind]} ({region})")[:120],
        models=dict(models),
        default_model=default_model,
        price_factor=price_factor,
        promises=Promises(**{name: str(promises.get(name) or "")[:2000] for name in PROMISE_FIELDS}),
        options=options,
        _secrets=secrets,
    )


def _secret(item: dict, name: str, environ: Mapping[str, str], where: str) -> str | None:
    if item.get(name):
        return str(item[name])
    if item.get(f"{name}_env"):
        return (environ.get(str(item[f"{name}_env"])) or "").strip() or None
    if item.get(f"{name}_file"):
        try:
            return Path(str(item[f"{name}_file"])).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ProviderConfigError(f"{where}: {name}_file cannot be read ({exc.strerror})") from None
    return None
