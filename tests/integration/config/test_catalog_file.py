"""The shipped catalog: it loads, it covers the families clients ask for, and it keeps the policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from llmaas.adapters.catalog_file import load_catalog
from llmaas.adapters.model_config import load_served_catalog
from llmaas.domain.catalog import Catalog
from llmaas.domain.catalog_policy import validate
from llmaas.domain.lifecycle import MINIMUM_NOTICE, Phase, Quarter
from llmaas.domain.models import ENDPOINT_CAPABILITIES, Capability, ServedModel

FAMILIES = {"llama", "qwen", "deepseek", "mistral", "gemma", "cogito", "granite", "gpt-oss"}


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog(None)


def test_the_shipped_catalog_is_large_and_covers_the_main_families(shipped: Catalog) -> None:
    assert len(shipped) >= 45
    assert {model.family for model in shipped} >= FAMILIES
    assert shipped.reviewed_on == date(2026, 10, 1)


def test_the_shipped_catalog_keeps_the_policy(shipped: Catalog) -> None:
    assert validate(shipped) == []


def test_with_the_packaged_deployments_it_still_keeps_the_policy() -> None:
    served = load_served_catalog(None)
    assert validate(served) == []
    assert {m.id for m in served.deployed()} == {
        "qwen2.5-coder:0.5b",
        "smollm2:135m",
        "all-minilm:22m",
        "whisper:base",
        "whisper:tiny-en",
    }


def test_granite_models_are_ip_indemnified_and_no_other(shipped: Catalog) -> None:
    for model in shipped:
        assert model.ip_indemnified is (model.family == "granite"), model.id


def test_every_withdrawn_model_points_at_a_production_successor(shipped: Catalog) -> None:
    day = shipped.reviewed_on
    withdrawn = [m for m in shipped if m.phase_on(day) in (Phase.DEPRECATED, Phase.RETIRED)]
    assert withdrawn
    for model in withdrawn:
        assert model.lifecycle.replacement is not None, model.id
        successor = shipped.get(model.lifecycle.replacement)
        assert successor is not None, model.id
        # Stricter than the policy: nobody is sent to a model that is itself on its way out.
        assert successor.phase_on(day) is Phase.PRODUCTION, model.id
        assert model.capabilities & ENDPOINT_CAPABILITIES <= successor.capabilities, model.id


def test_notices_are_given_at_quarterly_reviews(shipped: Catalog) -> None:
    for model in shipped:
        notice, sunset = model.lifecycle.deprecation_notice, model.lifecycle.sunset
        if sunset is None:
            continue
        assert notice is not None, model.id
        if notice == _created(model):
            continue  # retired too soon after its release for any review to give the notice
        assert (notice.month, notice.day) in {(1, 1), (4, 1), (7, 1), (10, 1)}, model.id
        # The latest review that still gives the full notice: the next one would be too late.
        latest = sunset - MINIMUM_NOTICE
        assert notice <= latest < Quarter.containing(notice).last_day + timedelta(days=1), model.id


def test_no_model_is_deprecated_before_it_exists(shipped: Catalog) -> None:
    for model in shipped:
        notice = model.lifecycle.deprecation_notice
        assert notice is None or notice >= _created(model), model.id


def _created(model: ServedModel) -> date:
    return datetime.fromtimestamp(model.created, UTC).date()


def test_extended_support_keeps_a_successor_for_each_endpoint(shipped: Catalog) -> None:
    extended = {"qwen3.6:35b", "voxtral", "z-image:16b", "granite3-guardian:8b"}
    for model_id in extended:
        model = shipped.get(model_id)
        assert model is not None
        assert model.lifecycle.sunset == date(2027, 6, 30)
        assert model.phase_on(shipped.reviewed_on) is Phase.PRODUCTION
    voxtral, image = shipped.get("voxtral"), shipped.get("z-image:16b")
    assert voxtral is not None and voxtral.supports(Capability.AUDIO)
    assert image is not None and image.supports(Capability.IMAGE_GENERATION)


def test_prices_follow_the_size_tiers(shipped: Catalog) -> None:
    big, small = shipped.get("gpt-oss:120b"), shipped.get("qwen3-2507-think:4b")
    embedder = shipped.get("bge-m3:567m")
    assert big is not None and small is not None and embedder is not None
    assert (big.prices.input_per_million, big.prices.output_per_million) == (900_000, 2_700_000)
    assert small.prices.reasoning_per_million == small.prices.output_per_million == 300_000
    assert (embedder.prices.input_per_million, embedder.prices.output_per_million) == (20_000, 0)
    assert embedder.embedding_dimensions == 1024
