"""Prometheus metrics, fed by the usage events that metering already produces.

Why usage events: metering computes every fact once per request (tokens, cost, latency, time to first
token, outcome) and the usage writer hands them over in batches, off the request path. So metrics cost
a request nothing, and they agree with what is billed.

No content can reach a label: ``UsageEvent`` has no field that could hold prompt or output text, and the
only labels used are ids the operator configured (organization, model, endpoint), fixed vocabularies
(outcome, token type) and the build version. Request ids and key ids are never labels: one series per
request or per key would grow Prometheus' memory without bound.

Cardinality: models and endpoints are bounded by configuration, organizations are not (a service may
have thousands), and each organization multiplies the series of four metrics by models x endpoints x
outcomes. So the first ``max_organizations`` organizations this process sees keep their own label value
and later ones share ``"_other"``: totals stay exact, only their split gets coarser. Exact per-organization
figures are the job of usage reports (the database), not of metrics. (An organization whose id is
literally ``other`` would share that series: operators choose ids, so they should not choose that one.)

Money: ``llmaas_cost_eur_micros_total`` counts integer micro-euros, like the rest of llmaas, so the source
adds integers and never accumulates float rounding (a float64 sample is exact up to 2**53 micros, about
9 billion EUR); divide by 1e6 in queries.

Each instance owns its ``CollectorRegistry`` (never the process-global default one), so several apps in
one process, as in tests, never clash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from llmaas import __version__
from llmaas.domain.guardrails import Verdict
from llmaas.domain.usage import UsageEvent

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip
"""Seconds: 5 ms (a small embedding) to 120 s (a long reasoning completion); +Inf takes the rest."""

OTHER_ORGANIZATION = "_other"
"""Not a valid organization id (ids start with a letter or digit), so it cannot collide with one."""
DEFAULT_MAX_ORGANIZATIONS = 200

LabelKey = tuple[str, ...]


class _OrganizationLabels:
    """First come, first labelled: at most ``limit`` distinct values, then ``"_other"``.

    Once an organization has its own series it keeps it for the life of the process, so a series never
    switches between its own name and ``"_other"`` (which would make its rate meaningless).
    """

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("max_organizations must be zero or more")
        self._limit = limit
        self._known: set[str] = set()

    def label(self, organization_id: str) -> str:
        if organization_id in self._known:
            return organization_id
        if len(self._known) < self._limit:
            self._known.add(organization_id)
            return organization_id
        return OTHER_ORGANIZATION


def _sums() -> defaultdict[LabelKey, int]:
    return defaultdict(int)


def _samples() -> defaultdict[LabelKey, list[float]]:
    return defaultdict(list)


@dataclass(slots=True)
class _BatchTotals:
    """A batch summed per label set, so each series' lock is taken once per batch, not per event."""

    requests: defaultdict[LabelKey, int] = field(default_factory=_sums)
    tokens: defaultdict[LabelKey, int] = field(default_factory=_sums)
    cost_micros: defaultdict[LabelKey, int] = field(default_factory=_sums)
    audio_ms: defaultdict[LabelKey, int] = field(default_factory=_sums)
    durations: defaultdict[LabelKey, list[float]] = field(default_factory=_samples)
    first_tokens: defaultdict[LabelKey, list[float]] = field(default_factory=_samples)

    def add(self, event: UsageEvent, organization: str) -> None:
        model, usage, owner = event.model, event.usage, (organization, event.model)
        # The outcome is a StrEnum: its member is already the label value (no ``.value`` lookup).
        self.requests[organization, model, event.endpoint, event.outcome] += 1
        self.tokens[organization, model, "input"] += usage.prompt_tokens
        # OpenAI counts reasoning inside completion_tokens; here each token has exactly one type
        # (and an engine that reports more reasoning than completion never subtracts output).
        output = max(0, usage.completion_tokens - usage.reasoning_tokens)
        self.tokens[organization, model, "output"] += output
        if usage.reasoning_tokens:
            self.tokens[organization, model, "reasoning"] += usage.reasoning_tokens
        self.cost_micros[owner] += event.cost_micros
        if event.audio_ms:
            self.audio_ms[owner] += event.audio_ms
        self.durations[model, event.endpoint].append(event.latency_ms / 1000)
        if event.time_to_first_token_ms is not None:
            self.first_tokens[(model,)].append(event.time_to_first_token_ms / 1000)


def _increment(counter: Counter, amounts: Mapping[LabelKey, float]) -> None:
    for labels, amount in amounts.items():
        # Counters only go up, and a zero would create a series that carries nothing.
        if amount > 0:
            counter.labels(*labels).inc(amount)


def _observe_all(histogram: Histogram, samples: Mapping[LabelKey, list[float]]) -> None:
    for labels, values in samples.items():
        child = histogram.labels(*labels)
        for value in values:
            child.observe(value)


class _UsageBacklog:
    """The usage writer's queue, read at scrape time: always current, and free between scrapes."""

    def __init__(
        self, pending: Callable[[], int] | None, dropped: Callable[[], int] | None
    ) -> None:
        self._pending = pending
        self._dropped = dropped

    def describe(self) -> list[Metric]:
        """Names only, for the registry's clash check: the callables may read an object built later."""
        return self._families(read=False)

    def collect(self) -> list[Metric]:
        return self._families(read=True)

    def _families(self, *, read: bool) -> list[Metric]:
        families: list[Metric] = []
        if self._pending is not None:
            families.append(
                GaugeMetricFamily(
                    "llmaas_usage_records_pending",
                    "Usage records waiting to be written to the database.",
                    value=self._pending() if read else 0,
                )
            )
        if self._dropped is not None:
            families.append(
                CounterMetricFamily(
                    "llmaas_usage_records_dropped",
                    "Usage records dropped because the buffer was full (storage down for long).",
                    value=self._dropped() if read else 0,
                )
            )
        return families


@dataclass(frozen=True, slots=True)
class DeploymentSample:
    """One deployment's live state at scrape time (labels are bounded: they come from config)."""

    deployment: str
    model: str
    up: bool
    draining: bool
    circuit_open: bool
    outstanding: int


class _Deployments:
    """The router's view of each deployment, read at scrape time."""

    _GAUGES = (
        ("llmaas_deployment_up", "1 when the last health check passed.", "up"),
        ("llmaas_deployment_draining", "1 while the deployment takes no new requests.", "draining"),
        ("llmaas_deployment_circuit_open", "1 while its circuit breaker is open.", "circuit_open"),
        (
            "llmaas_deployment_outstanding_requests",
            "Requests in flight on this instance.",
            "outstanding",
        ),
    )

    def __init__(self, read: Callable[[], Sequence[DeploymentSample]]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return [
            GaugeMetricFamily(name, text, labels=("deployment", "model"))
            for name, text, _ in self._GAUGES
        ]

    def collect(self) -> list[Metric]:
        samples = self._read()
        families: list[Metric] = []
        for name, text, attribute in self._GAUGES:
            family = GaugeMetricFamily(name, text, labels=("deployment", "model"))
            for sample in samples:
                family.add_metric(
                    (sample.deployment, sample.model), float(getattr(sample, attribute))
                )
            families.append(family)
        return families


class _WithoutCreated:
    """The registry minus the ``_created`` samples that prometheus_client adds to every counter and
    histogram series: in the text format each one is a gauge series of its own, doubling the series
    count of the counters for a timestamp Prometheus does not use. (The library's switch for this is
    process-global; this view is per instance.)"""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            created = family.name + "_created"
            family.samples = [sample for sample in family.samples if sample.name != created]
            yield family


class PrometheusMetrics:
    """A ``UsageObserver`` that keeps Prometheus series, and the renderer ``/metrics`` serves."""

    def __init__(
        self,
        *,
        version: str = __version__,
        max_organizations: int = DEFAULT_MAX_ORGANIZATIONS,
        pending: Callable[[], int] | None = None,
        dropped: Callable[[], int] | None = None,
        deployments: Callable[[], Sequence[DeploymentSample]] | None = None,
    ) -> None:
        """``pending`` and ``dropped`` are read at scrape time only (never here), so they may refer
        to a usage writer that the composition root builds after this object."""
        self._organizations = _OrganizationLabels(max_organizations)
        registry = CollectorRegistry()
        self._exposed = _WithoutCreated(registry)
        self._requests = Counter(
            "llmaas_requests",
            "Finished requests; outcome is ok, client_disconnected or failed.",
            ("organization", "model", "endpoint", "outcome"),
            registry=registry,
        )
        self._tokens = Counter(
            "llmaas_tokens",
            "Tokens by type: input, output (reasoning excluded) and reasoning.",
            ("organization", "model", "type"),
            registry=registry,
        )
        self._cost = Counter(
            "llmaas_cost_eur_micros",
            "Cost charged, in micro-euros (1e-6 EUR).",
            ("organization", "model"),
            registry=registry,
        )
        self._audio = Counter(
            "llmaas_audio_seconds",
            "Seconds of audio processed.",
            ("organization", "model"),
            registry=registry,
        )
        self._duration = Histogram(
            "llmaas_request_duration_seconds",
            "Time from admission to the end of the response, every outcome included.",
            ("model", "endpoint"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._first_token = Histogram(
            "llmaas_time_to_first_token_seconds",
            "Time from admission to the first output, for requests that produced output.",
            ("model",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._guardrail = Counter(
            "llmaas_guardrail_detections",
            "Requests in which the prompt-injection guard found a threat, by threat and by what the "
            "caller's policy did (flag or block).",
            ("threat", "action"),
            registry=registry,
        )
        build = Gauge(
            "llmaas_build_info", "The running llmaas version.", ("version",), registry=registry
        )
        build.labels(version).set(1)
        if pending is not None or dropped is not None:
            registry.register(_UsageBacklog(pending, dropped))
        if deployments is not None:
            registry.register(_Deployments(deployments))

    def observe(self, events: Sequence[UsageEvent]) -> None:
        """Adds one written batch to the series (called by the usage writer, off the request path)."""
        totals = _BatchTotals()
        label = self._organizations.label
        for event in events:
            totals.add(event, label(event.organization_id))
        _increment(self._requests, totals.requests)
        _increment(self._tokens, totals.tokens)
        _increment(self._cost, totals.cost_micros)
        _increment(self._audio, {key: ms / 1000 for key, ms in totals.audio_ms.items()})
        _observe_all(self._duration, totals.durations)
        _observe_all(self._first_token, totals.first_tokens)

    def guard_verdict(self, verdict: Verdict) -> None:
        """Counts one request's findings: threat names only, never where or what."""
        for threat in verdict.threats:
            self._guardrail.labels(threat.value, verdict.policy.value).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self._exposed), CONTENT_TYPE_LATEST
