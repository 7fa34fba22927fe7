"""Process settings: the only module that reads the environment.

Every setting has a ``LLMAAS_`` environment variable (``LLMAAS_PORT=9000``); the CLI's flags override
them. Defaults give the single-machine setup: SQLite under ``./.llmaas``, the embedded models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmaas.domain.guardrails import GuardPolicy


def _default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMAAS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".llmaas")
    """Holds the SQLite database and the server secret (created on first start)."""
    database_url: str | None = None
    """Defaults to SQLite in ``data_dir``; ``postgresql+asyncpg://...`` for several instances."""
    models_config: Path | None = None
    """YAML file of models and deployments; the packaged default serves the embedded models."""
    catalog: Path | None = None
    """YAML catalog (models sold, prices, lifecycle); the packaged one is the latest quarterly review."""
    model_cache_dir: Path = Path.home() / ".cache" / "llmaas" / "models"
    """Where weights shipped in several parts are reassembled (once)."""
    engine_threads: int = Field(default_factory=_default_threads, ge=1)
    """CPU threads of each embedded engine."""
    server_secret: SecretStr | None = None
    """Keys API-key hashes (HMAC). Read from ``data_dir/server-secret`` when unset."""
    key_recheck_seconds: float = Field(default=5.0, gt=0)
    """How long a verified key is trusted before its record is read again (revocation bound)."""
    tls_cert: Path | None = None
    """PEM certificate (chain) to serve HTTPS with, TLS 1.3 only; needs ``tls_key``."""
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    """CA bundle for client certificates: optional for the OpenAI API, required for ``/admin/``."""
    tls_self_signed: bool = False
    """Serve HTTPS with a certificate for localhost/127.0.0.1 generated under ``data_dir/tls`` (trials)."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_audio_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    """Largest audio file for ``/v1/audio/*`` (413 beyond): OpenAI's limit. Those routes take bodies
    up to this size plus the form's overhead, whatever ``max_body_bytes`` says."""
    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """Largest decoded image a chat request may carry (413 ``image_too_large`` beyond). A data URL
    also counts against ``max_body_bytes``, which is the lower of the two by default."""
    max_images_per_request: int = Field(default=16, ge=0)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    """Request line and headers together (431 beyond): Node's and h11's default."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request's headers must arrive within this time of the connection opening (first request)
    or of their first byte (later ones); 408 and disconnection otherwise (slow-client defence)."""
    body_timeout_seconds: float = Field(default=20.0, gt=0)
    body_min_bytes_per_second: float = Field(default=1024.0, ge=0)
    """A body gets ``body_timeout_seconds``, plus one second per this many bytes received: a client
    sending slower than that on average gets 408 and is disconnected (0: the whole body must arrive
    within ``body_timeout_seconds``)."""
    send_timeout_seconds: float = Field(default=60.0, gt=0)
    """A client that reads nothing of its response for this long is disconnected (a stream to it
    would otherwise hold its backend slot)."""
    fetch_image_urls: bool = False
    """Fetch ``http(s)`` image URLs on the client's behalf (public addresses only, never private or
    loopback ones) and inline them; off, only ``data:`` URLs are accepted."""
    image_fetch_timeout_seconds: float = Field(default=10.0, gt=0)
    redis_url: str | None = None
    """``redis://host:6379/0``: shares rate limits, budgets and concurrency between instances.
    Unset, counters live in this process's memory (one instance only)."""
    concurrency_lease_seconds: int = Field(default=900, ge=10)
    """A concurrency slot frees itself after this long even if its instance crashed."""
    usage_batch_size: int = Field(default=500, ge=1)
    usage_flush_seconds: float = Field(default=1.0, gt=0)
    """Usage records are written at least this often (and when a batch is full)."""
    health_interval_seconds: float = Field(default=10.0, gt=0)
    """How often every deployment is checked; a deployment back up rejoins within one interval."""
    probe_interval_seconds: float = Field(default=300.0, ge=0)
    """How often a short generation measures each chat deployment's time to first token and
    tokens/s for ``/status`` (0: never)."""
    breaker_failures: int = Field(default=3, ge=1)
    """Consecutive failures (errors, timeouts) that take a deployment out of rotation..."""
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    """...for this long, after which one trial request (or a passing health check) decides."""
    max_attempts: int = Field(default=3, ge=1)
    """Deployments tried for one request before its failure is returned (only before any byte
    reached the client)."""
    location_country: str | None = None
    """Where this gateway, hence its embedded engines, runs (ISO code, ``FR``): checked against
    organizations' sovereignty policies. Unset, embedded engines satisfy no country requirement."""
    location_site: str | None = None
    location_operator: str | None = None
    location_certifications: list[str] = []
    """Certifications of this site (``["SecNumCloud"]``; as JSON in the environment)."""
    guardrail_policy: GuardPolicy = GuardPolicy.BLOCK
    """What the prompt-injection guard does where a key, its organization and its tier set nothing:
    ``block`` (400 ``prompt_injection_detected``), ``flag`` (served, with an ``x-llmaas-guardrail``
    header) or ``off``."""
    guardrail_classifier: bool = True
    """Run the learned classifier after the pattern layers (about 0.2 ms per chat message)."""
    guardrail_repeat_limit: int = Field(default=30, ge=1)
    """Identical prompts one key may send within ``guardrail_repeat_window_seconds`` before the next
    ones are treated as a flood (a ``repeated_prompt`` finding)."""
    guardrail_repeat_window_seconds: float = Field(default=60.0, gt=0)
    public_url: str | None = None
    """The address people and identity providers reach this gateway at (``https://llm.example.fr``),
    when it differs from what requests say (behind a proxy): the console's SSO callback is built on it."""
    oidc_issuer: str | None = None
    """The console's identity provider (``https://login.example.fr/realms/acme``); unset, the console
    offers a local login with an admin API key instead."""
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    """Unset for a public client (PKCE alone)."""
    oidc_scopes: str = "openid profile email"
    oidc_groups_claim: str = "groups"
    """The claim listing the person's groups: ``llmaas:operator`` or ``llmaas:<organization>:<role>``
    (role: ``owner``, ``admin``, ``billing`` or ``viewer``)."""
    oidc_group_prefix: str = Field(default="llmaas", pattern=r"^[^:\s]+$")
    oidc_require_mfa: bool = False
    """Refuse console logins whose ID token does not show a second factor (``amr``, or ``acr`` in
    ``oidc_mfa_acr_values``)."""
    oidc_mfa_acr_values: list[str] = []
    console_idle_minutes: int = Field(default=60, ge=1)
    console_session_hours: int = Field(default=8, ge=1)
    """A console session ends after this long even when used, and the identity provider is asked again."""
    first_start_admin_key: bool = True
    """On a database without any key, ``llmaas serve`` creates an admin key and prints it once (one
    machine). Set false where logs are collected (several instances, Kubernetes): create the first
    admin key with ``llmaas keys create --admin`` from an operator's shell instead."""
    migrate_on_start: bool = True
    """``llmaas serve`` applies pending migrations before serving (one machine). With several
    instances, set it false and run ``llmaas migrate`` once per upgrade (the Helm chart's Job): an
    instance then refuses to start on a database it cannot serve."""
    shutdown_delay_seconds: float = Field(default=0.0, ge=0)
    """At SIGTERM, keep serving this long with ``/readyz`` answering 503, so load balancers stop
    routing here before the listener closes (5 to 10 s behind Kubernetes Services)."""
    drain_seconds: float = Field(default=30.0, gt=0)
    """Then, at most this long for in-flight requests and streams to finish (usage is flushed after)."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics on ``/metrics``."""
    log_level: str = "info"
    log_format: Literal["auto", "json", "text"] = "auto"
    """``json`` (one object a line, for collectors), ``text`` (for people), or ``auto``: text on a
    terminal, JSON otherwise."""

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'llmaas.db').resolve()}"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "server-secret"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"
