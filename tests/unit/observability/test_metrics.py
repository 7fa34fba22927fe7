"""Prometheus metrics from usage events: exact values, bounded organizations, no content in labels."""

from __future__ import annotations

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from llmaas import __version__
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.observability.metrics import DeploymentSample, PrometheusMetrics
from llmaas.ports.metrics import MetricsRenderer
from llmaas.ports.usage import UsageObserver

CANARY = "canary-7f3a"
CHAT_OK = {"model": "m1", "endpoint": "chat.completions", "outcome": "ok"}
NO_TOKENS = TokenUsage()
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def event(
    organization: str = "acme",
    model: str = "m1",
    *,
    endpoint: str = "chat.completions",
    usage: TokenUsage = NO_TOKENS,
    outcome: Outcome = Outcome.OK,
    latency_ms: float = 100.0,
    ttft_ms: float | None = None,
    cost_micros: int = 0,
    audio_ms: int = 0,
) -> UsageEvent:
    # Every free-form field that is not an operator-configured id carries the canary.
    return UsageEvent(
        request_id=f"{CANARY}-request",
        key_id=f"{CANARY}-key",
        model=model,
        deployment=f"{CANARY}-deployment",
        endpoint=endpoint,
        usage=usage,
        latency_ms=latency_ms,
        outcome=outcome,
        streamed=True,
        organization_id=organization,
        cost_micros=cost_micros,
        time_to_first_token_ms=ttft_ms,
        audio_ms=audio_ms,
    )


def samples(metrics: PrometheusMetrics) -> Samples:
    body, _ = metrics.render()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_a_batch_is_counted_exactly_per_label_set() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(
        [
            event(usage=TokenUsage(10, 7, 3), cost_micros=1_500, ttft_ms=20.0, latency_ms=300.0),
            event(usage=TokenUsage(5, 2, 0), cost_micros=500, ttft_ms=2_000.0, latency_ms=3_000.0),
            event("beta", "m2", endpoint="embeddings", usage=TokenUsage(8), cost_micros=8),
            event("beta", "m2", outcome=Outcome.FAILED, latency_ms=4.0),
            event("acme", "whisper", endpoint="audio.transcriptions", audio_ms=90_500),
        ]
    )
    found = samples(metrics)

    requests = "llmaas_requests_total"
    assert value(found, requests, organization="acme", **CHAT_OK) == 2
    beta = {"organization": "beta", "model": "m2"}
    assert value(found, requests, endpoint="embeddings", outcome="ok", **beta) == 1
    assert value(found, requests, endpoint="chat.completions", outcome="failed", **beta) == 1

    tokens = "llmaas_tokens_total"
    assert value(found, tokens, organization="acme", model="m1", type="input") == 15
    assert value(found, tokens, organization="acme", model="m1", type="output") == 6  # 9 - 3
    assert value(found, tokens, organization="acme", model="m1", type="reasoning") == 3
    assert value(found, tokens, organization="beta", model="m2", type="input") == 8
    assert value(found, tokens, organization="beta", model="m2", type="output") is None

    cost = "llmaas_cost_eur_micros_total"
    assert value(found, cost, organization="acme", model="m1") == 2_000
    assert value(found, cost, organization="beta", model="m2") == 8
    assert value(found, "llmaas_audio_seconds_total", organization="acme", model="whisper") == 90.5


def test_histograms_count_every_outcome_and_first_tokens_only_when_known() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(
        [
            event(latency_ms=300.0, ttft_ms=20.0),
            event(latency_ms=3_000.0, ttft_ms=2_000.0),
            event(latency_ms=4.0, outcome=Outcome.FAILED),
        ]
    )
    found = samples(metrics)

    duration = "llmaas_request_duration_seconds"
    labels = {"model": "m1", "endpoint": "chat.completions"}
    assert value(found, f"{duration}_count", **labels) == 3
    assert value(found, f"{duration}_sum", **labels) == pytest.approx(3.304)
    assert value(found, f"{duration}_bucket", le="0.005", **labels) == 1
    assert value(found, f"{duration}_bucket", le="0.5", **labels) == 2
    assert value(found, f"{duration}_bucket", le="120.0", **labels) == 3
    first = "llmaas_time_to_first_token_seconds"
    assert value(found, f"{first}_count", model="m1") == 2
    assert value(found, f"{first}_bucket", le="0.025", model="m1") == 1
    assert value(found, f"{first}_bucket", le="2.5", model="m1") == 2


def test_organizations_past_the_cap_share_other() -> None:
    metrics = PrometheusMetrics()
    metrics.observe([event(f"org-{n}") for n in range(200)])
    metrics.observe([event("org-200"), event("org-201"), event("org-0")])
    found = samples(metrics)

    organizations = {
        dict(labels)["organization"] for name, labels in found if name == "llmaas_requests_total"
    }
    assert len(organizations) == 201
    assert "org-199" in organizations
    assert "org-200" not in organizations
    assert value(found, "llmaas_requests_total", organization="_other", **CHAT_OK) == 2
    assert value(found, "llmaas_requests_total", organization="org-0", **CHAT_OK) == 2


def test_the_cap_is_configurable() -> None:
    metrics = PrometheusMetrics(max_organizations=1)
    metrics.observe([event("a"), event("b")])
    organizations = {dict(labels).get("organization") for _, labels in samples(metrics)}
    assert organizations >= {"a", "_other"}
    assert "b" not in organizations


def test_two_instances_share_nothing() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.observe([event()])
    assert value(samples(first), "llmaas_requests_total", organization="acme", **CHAT_OK) == 1
    assert not [name for name, _ in samples(second) if name == "llmaas_requests_total"]


def test_no_label_carries_anything_but_configured_ids_and_fixed_vocabularies() -> None:
    metrics = PrometheusMetrics(version="9.9.9")
    metrics.observe([event(usage=TokenUsage(10, 7, 3), ttft_ms=5.0, audio_ms=10, cost_micros=1)])
    body, _ = metrics.render()
    assert CANARY not in body.decode()

    label_values = {
        (label, label_value)
        for _, labels in samples(metrics)
        for label, label_value in labels
        if label != "le"
    }
    assert label_values == {
        ("organization", "acme"),
        ("model", "m1"),
        ("endpoint", "chat.completions"),
        ("outcome", "ok"),
        ("type", "input"),
        ("type", "output"),
        ("type", "reasoning"),
        ("version", "9.9.9"),
    }


def test_backlog_is_read_at_scrape_time_only() -> None:
    reads: list[str] = []

    def pending() -> int:
        reads.append("pending")
        return 7

    def dropped() -> int:
        reads.append("dropped")
        return 2

    metrics = PrometheusMetrics(pending=pending, dropped=dropped)
    assert reads == []
    found = samples(metrics)
    assert value(found, "llmaas_usage_records_pending") == 7
    assert value(found, "llmaas_usage_records_dropped_total") == 2
    assert value(found, "llmaas_build_info", version=__version__) == 1


def test_render_is_the_text_format_without_created_series() -> None:
    metrics = PrometheusMetrics()
    metrics.observe([event(usage=TokenUsage(1, 1))])
    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE_LATEST
    assert b"_created" not in body
    assert b"llmaas_usage_records_pending" not in body  # no backlog callables, no backlog series


def test_reasoning_beyond_completion_never_subtracts_output() -> None:
    metrics = PrometheusMetrics()
    metrics.observe([event(usage=TokenUsage(1, 2, 0)), event(usage=TokenUsage(1, 1, 3))])
    found = samples(metrics)
    tokens = {"organization": "acme", "model": "m1"}
    assert value(found, "llmaas_tokens_total", type="output", **tokens) == 2
    assert value(found, "llmaas_tokens_total", type="reasoning", **tokens) == 3


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="max_organizations"):
        PrometheusMetrics(max_organizations=-1)


def test_it_is_the_usage_observer_and_the_renderer() -> None:
    # The assignments are the check (mypy): the composition root passes one object as both.
    metrics = PrometheusMetrics()
    observer: UsageObserver = metrics
    renderer: MetricsRenderer = metrics
    observer.observe([])
    assert renderer.render()[0].startswith(b"# HELP")


def test_deployment_state_is_read_at_scrape_time() -> None:
    state = [
        DeploymentSample("gpu-1", "m", up=True, draining=False, circuit_open=False, outstanding=2)
    ]
    metrics = PrometheusMetrics(deployments=lambda: state)
    state = [
        DeploymentSample("gpu-1", "m", up=False, draining=True, circuit_open=True, outstanding=0)
    ]
    families = {f.name: f for f in text_string_to_metric_families(metrics.render()[0].decode())}
    values = {
        name: [(s.labels, s.value) for s in families[name].samples]
        for name in (
            "llmaas_deployment_up",
            "llmaas_deployment_draining",
            "llmaas_deployment_circuit_open",
            "llmaas_deployment_outstanding_requests",
        )
    }
    labels = {"deployment": "gpu-1", "model": "m"}
    assert values == {
        "llmaas_deployment_up": [(labels, 0.0)],
        "llmaas_deployment_draining": [(labels, 1.0)],
        "llmaas_deployment_circuit_open": [(labels, 1.0)],
        "llmaas_deployment_outstanding_requests": [(labels, 0.0)],
    }
