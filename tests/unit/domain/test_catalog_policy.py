"""The lifecycle policy: properties over generated catalogs, then one example per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.catalog import Catalog
from llmaas.domain.catalog_policy import diff, retired_but_routed, validate
from llmaas.domain.lifecycle import MINIMUM_NOTICE, Lifecycle, Phase
from llmaas.domain.models import ENDPOINT_CAPABILITIES, Capability, DeploymentSpec, ServedModel
from llmaas.domain.pricing import Prices

REVIEW = date(2026, 10, 1)
LIVE = (Phase.PREVIEW, Phase.PRODUCTION)


def model(
    model_id: str,
    lifecycle: Lifecycle = Lifecycle(),
    capabilities: frozenset[Capability] = frozenset({Capability.CHAT}),
    deployments: tuple[DeploymentSpec, ...] = (),
) -> ServedModel:
    return ServedModel(
        id=model_id,
        owned_by="test",
        created=0,
        context_length=4096,
        capabilities=capabilities,
        deployments=deployments,
        lifecycle=lifecycle,
    )


def with_lifecycle(entry: ServedModel, **changes: Any) -> ServedModel:
    return replace(entry, lifecycle=replace(entry.lifecycle, **changes))


def swap(catalog: Catalog, entry: ServedModel) -> Catalog:
    return catalog.with_models([entry if m.id == entry.id else m for m in catalog])


def ids(violations: object) -> set[str | None]:
    assert isinstance(violations, list)
    return {v.model for v in violations}


# ---- generated catalogs ------------------------------------------------------------------------

days = st.integers


@st.composite
def lifecycles(draw: st.DrawFn, phase: Phase, day: date) -> Lifecycle:
    """Dates that make ``phase`` the truth on ``day`` and keep every promise."""
    if phase in LIVE:
        released = day - timedelta(days=draw(days(0, 2000)))
        if draw(st.booleans()):
            return Lifecycle(phase=phase, released=released)
        notice = day + timedelta(days=draw(days(1, 400)))
        sunset = notice + MINIMUM_NOTICE + timedelta(days=draw(days(0, 400)))
    elif phase is Phase.DEPRECATED:
        notice = day - timedelta(days=draw(days(0, 400)))
        sunset = max(notice + MINIMUM_NOTICE, day + timedelta(days=1))
        sunset += timedelta(days=draw(days(0, 400)))
        released = notice - timedelta(days=draw(days(0, 1000)))
    else:
        sunset = day - timedelta(days=draw(days(0, 1000)))
        notice = sunset - MINIMUM_NOTICE - timedelta(days=draw(days(0, 200)))
        released = notice - timedelta(days=draw(days(0, 1000)))
    known = draw(st.booleans())
    return Lifecycle(phase, released if known else None, notice, sunset)


def _fits(candidate: ServedModel, ended: ServedModel) -> bool:
    sunset, theirs = ended.lifecycle.sunset, candidate.lifecycle.sunset
    needed = ended.capabilities & ENDPOINT_CAPABILITIES
    return needed <= candidate.capabilities and (
        theirs is None or (sunset is not None and theirs > sunset)
    )


@st.composite
def catalogs(draw: st.DrawFn, with_phase: Phase | None = None) -> Catalog:
    """Valid catalogs: live models first, then deprecated and retired ones, each pointed at a live
    model that outlives it and offers its endpoints (an anchor with every endpoint always does)."""
    day = draw(st.dates(date(2025, 1, 1), date(2030, 12, 31)))
    phases = draw(st.lists(st.sampled_from(list(Phase)), min_size=1, max_size=7))
    if with_phase is not None:
        phases.append(with_phase)
    anchor = model("anchor", Lifecycle(released=day - timedelta(days=3000)), ENDPOINT_CAPABILITIES)
    live: list[ServedModel] = [anchor]
    ended: list[ServedModel] = []
    for index, phase in enumerate(phases):
        capabilities = draw(st.frozensets(st.sampled_from(list(Capability)), min_size=1))
        entry = model(f"m{index}", draw(lifecycles(phase, day)), capabilities)
        (live if phase in LIVE else ended).append(entry)
    for index, entry in enumerate(ended):
        successor = draw(st.sampled_from([m for m in live if _fits(m, entry)]))
        ended[index] = with_lifecycle(entry, replacement=successor.id)
    return Catalog(models=tuple(draw(st.permutations([*live, *ended]))), reviewed_on=day)


def with_notice(catalog: Catalog) -> list[ServedModel]:
    return [m for m in catalog if m.lifecycle.sunset is not None]


@given(catalogs())
def test_generated_catalogs_validate_clean(catalog: Catalog) -> None:
    assert validate(catalog) == []


@given(catalogs(with_phase=Phase.RETIRED), st.data())
def test_a_notice_shorter_than_90_days_names_the_model(
    catalog: Catalog, data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from(with_notice(catalog)))
    sunset = victim.lifecycle.sunset
    assert sunset is not None
    short = sunset - timedelta(days=data.draw(days(0, MINIMUM_NOTICE.days - 1)))
    broken = swap(catalog, with_lifecycle(victim, deprecation_notice=short))
    assert victim.id in ids(validate(broken))


@given(catalogs(with_phase=Phase.DEPRECATED), st.data())
def test_a_deprecated_model_without_replacement_is_a_violation(
    catalog: Catalog, data: st.DataObject
) -> None:
    deprecated = [m for m in catalog if m.lifecycle.phase is Phase.DEPRECATED]
    victim = data.draw(st.sampled_from(deprecated))
    broken = swap(catalog, with_lifecycle(victim, replacement=None))
    assert victim.id in ids(validate(broken))


@given(catalogs())
def test_a_catalog_diffed_with_itself_changes_nothing(catalog: Catalog) -> None:
    changes = diff(catalog, catalog)
    assert not changes.has_changes
    assert changes.refusals == []


@given(catalogs(), st.data())
def test_retiring_a_model_never_deprecated_is_refused(
    catalog: Catalog, data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from([m for m in catalog if m.lifecycle.sunset is None]))
    later = catalog.reviewed_on + timedelta(days=data.draw(days(1, 400)))
    sunset = later - timedelta(days=data.draw(days(0, 30)))
    retired = with_lifecycle(
        victim,
        phase=Phase.RETIRED,
        deprecation_notice=sunset - MINIMUM_NOTICE,
        sunset=sunset,
        released=None,
    )
    new = replace(swap(catalog, retired), reviewed_on=later)
    changes = diff(catalog, new)
    assert victim.id in [c.model for c in changes.newly_retired]
    assert victim.id in ids(changes.refusals)


@given(catalogs(with_phase=Phase.RETIRED), st.data())
def test_added_and_removed_models_are_reported(catalog: Catalog, data: st.DataObject) -> None:
    gone = data.draw(st.sampled_from(catalog.in_phase(Phase.RETIRED, catalog.reviewed_on)))
    fresh = model("fresh", Lifecycle(released=catalog.reviewed_on))
    new = catalog.with_models([*(m for m in catalog if m.id != gone.id), fresh])
    changes = diff(catalog, new)
    assert changes.added == ["fresh"]
    assert changes.removed == [gone.id]
    assert changes.refusals == []


# ---- one example per rule ----------------------------------------------------------------------

SUCCESSOR = model("successor", Lifecycle(released=date(2026, 1, 1)))
DEPRECATED = model(
    "old",
    Lifecycle(
        Phase.DEPRECATED,
        released=date(2025, 1, 1),
        deprecation_notice=REVIEW,
        sunset=date(2026, 12, 30),
        replacement="successor",
    ),
)


def catalog_of(*models: ServedModel, reviewed_on: date = REVIEW) -> Catalog:
    return Catalog(models=(SUCCESSOR, *models), reviewed_on=reviewed_on)


def messages(catalog: Catalog) -> str:
    return " | ".join(str(v) for v in validate(catalog))


def test_the_example_catalog_is_valid() -> None:
    assert validate(catalog_of(DEPRECATED)) == []


def test_a_sunset_needs_a_notice_and_a_notice_a_sunset() -> None:
    no_notice = model("a", Lifecycle(sunset=date(2027, 12, 30)))
    no_sunset = model("b", Lifecycle(deprecation_notice=date(2027, 10, 1)))
    found = messages(catalog_of(no_notice, no_sunset))
    assert "a: sunset 2027-12-30 without a deprecation notice" in found
    assert "b: deprecation notice 2027-10-01 without a sunset" in found


def test_89_days_of_notice_break_the_promise_and_90_keep_it() -> None:
    short = with_lifecycle(DEPRECATED, deprecation_notice=date(2026, 10, 2))
    assert "gives 89 days" in messages(catalog_of(short, reviewed_on=date(2026, 10, 2)))
    assert (DEPRECATED.lifecycle.notice_period or timedelta()) == MINIMUM_NOTICE


def test_a_notice_cannot_come_before_the_release() -> None:
    early = with_lifecycle(DEPRECATED, released=date(2026, 11, 1))
    assert "before its release 2026-11-01" in messages(catalog_of(early))


def test_deprecated_needs_notice_sunset_and_replacement() -> None:
    bare = model("bare", Lifecycle(Phase.DEPRECATED))
    found = messages(catalog_of(bare))
    assert "deprecated without a deprecation notice" in found
    assert "deprecated without a sunset" in found
    assert "deprecated on 2026-10-01 without a replacement" in found


def test_the_declared_phase_must_match_the_dates_on_the_review_day() -> None:
    stale = with_lifecycle(DEPRECATED, phase=Phase.PRODUCTION)
    early = with_lifecycle(DEPRECATED, phase=Phase.RETIRED)
    assert "declared production, but its dates make it deprecated" in messages(catalog_of(stale))
    assert "declared retired, but its dates make it deprecated" in messages(catalog_of(early))
    premature = with_lifecycle(DEPRECATED, deprecation_notice=date(2026, 9, 1))
    assert validate(catalog_of(premature)) == []
    unannounced = with_lifecycle(
        DEPRECATED, deprecation_notice=date(2026, 10, 2), sunset=date(2027, 1, 1)
    )
    assert "make it neither deprecated nor retired" in messages(catalog_of(unannounced))


def test_the_replacement_must_exist_and_not_be_itself() -> None:
    missing = with_lifecycle(DEPRECATED, replacement="ghost")
    itself = with_lifecycle(DEPRECATED, replacement="old")
    assert "replacement 'ghost' is not in the catalog" in messages(catalog_of(missing))
    assert "names itself" in messages(catalog_of(itself))


def test_the_replacement_must_be_live_and_outlive_the_model() -> None:
    retired = model(
        "successor",
        Lifecycle(Phase.RETIRED, None, date(2026, 4, 1), date(2026, 6, 30), replacement="x"),
    )
    short_lived = with_lifecycle(
        SUCCESSOR, deprecation_notice=date(2027, 1, 1), sunset=date(2027, 4, 1)
    )
    late = with_lifecycle(DEPRECATED, sunset=date(2027, 6, 30))
    assert "is itself retired on 2026-10-01" in messages(
        Catalog(models=(retired, DEPRECATED), reviewed_on=REVIEW)
    )
    found = messages(Catalog(models=(short_lived, late), reviewed_on=REVIEW))
    assert "old: replacement 'successor' ends (2027-04-01) no later than it does" in found


def test_the_replacement_must_offer_every_endpoint_capability() -> None:
    vision = replace(DEPRECATED, capabilities=frozenset({Capability.CHAT, Capability.VISION}))
    assert "replacement 'successor' lacks vision" in messages(catalog_of(vision))
    # Only endpoints count: a replacement may drop tools or reasoning.
    tools = replace(DEPRECATED, capabilities=frozenset({Capability.CHAT, Capability.TOOLS}))
    assert validate(catalog_of(tools)) == []


def test_a_retired_model_must_not_be_routed() -> None:
    spec = DeploymentSpec(name="gpu-1", engine="vllm")
    routed = replace(
        with_lifecycle(
            DEPRECATED,
            phase=Phase.RETIRED,
            sunset=date(2026, 9, 30),
            deprecation_notice=date(2026, 7, 1),
        ),
        deployments=(spec,),
    )
    assert "retired on 2026-10-01 but still routed (deployments: gpu-1)" in messages(
        catalog_of(routed)
    )
    deprecated = replace(DEPRECATED, deployments=(spec,))
    served = catalog_of(deprecated)
    assert retired_but_routed(served, date(2026, 12, 29)) == []
    assert [m.id for m in retired_but_routed(served, date(2026, 12, 30))] == ["old"]


def test_redirects_only_for_withdrawn_models_with_a_replacement() -> None:
    catalog = replace(
        catalog_of(DEPRECATED), redirect_retired=frozenset({"old", "successor", "ghost"})
    )
    found = {(v.model, v.message) for v in validate(catalog)}
    assert found == {
        ("successor", "redirect_retired names a model that is production"),
        ("ghost", "redirect_retired names a model that is not in the catalog"),
    }


# ---- diff examples -----------------------------------------------------------------------------

PRODUCTION = model("current", Lifecycle(released=date(2025, 1, 1)))


def test_diff_reports_deprecations_sunsets_and_prices() -> None:
    old = catalog_of(
        with_lifecycle(DEPRECATED, phase=Phase.PRODUCTION), reviewed_on=date(2026, 7, 1)
    )
    dearer = replace(DEPRECATED, prices=replace(DEPRECATED.prices, input_per_million=2_000_000))
    changes = diff(old, catalog_of(dearer))
    assert [c.model for c in changes.newly_deprecated] == ["old"]
    assert changes.newly_deprecated[0].replacement == "successor"
    assert [(c.model, c.field, c.old, c.new) for c in changes.price_changes] == [
        ("old", "input_per_million", Prices().input_per_million, 2_000_000)
    ]
    assert changes.refusals == []


def test_diff_refuses_removing_a_model_still_sold() -> None:
    changes = diff(catalog_of(PRODUCTION), catalog_of())
    assert changes.removed == ["current"]
    assert [str(v) for v in changes.refusals] == [
        "current: removed while production: retire it first"
    ]


def test_diff_refuses_a_sunset_pulled_closer_than_the_notice_period() -> None:
    old = catalog_of(with_lifecycle(DEPRECATED, sunset=date(2027, 6, 30)))
    new = catalog_of(DEPRECATED, reviewed_on=date(2026, 10, 15))
    changes = diff(old, new)
    assert [(c.old, c.new) for c in changes.sunset_changes] == [
        (date(2027, 6, 30), date(2026, 12, 30))
    ]
    assert "sunset moved earlier" in " ".join(str(v) for v in changes.refusals)
    # Moved earlier but still 90 days away from the review: allowed.
    far = catalog_of(with_lifecycle(DEPRECATED, sunset=date(2027, 9, 30)))
    assert (
        diff(far, catalog_of(with_lifecycle(DEPRECATED, sunset=date(2027, 6, 30)))).refusals == []
    )


def test_diff_refuses_a_backdated_notice() -> None:
    old = catalog_of(PRODUCTION, reviewed_on=date(2026, 7, 1))
    backdated = with_lifecycle(
        PRODUCTION,
        phase=Phase.DEPRECATED,
        deprecation_notice=date(2026, 6, 1),
        sunset=date(2026, 12, 30),
        replacement="successor",
    )
    changes = diff(old, catalog_of(backdated))
    assert [v.model for v in changes.refusals] == ["current"]
    assert "backdated" in changes.refusals[0].message


def test_diff_refuses_a_retirement_the_old_catalog_did_not_announce() -> None:
    old = catalog_of(PRODUCTION, reviewed_on=date(2026, 7, 1))
    retired = with_lifecycle(
        PRODUCTION,
        phase=Phase.RETIRED,
        deprecation_notice=date(2026, 7, 1),
        sunset=date(2026, 9, 30),
        replacement="successor",
    )
    changes = diff(old, catalog_of(retired))
    assert [c.model for c in changes.newly_retired] == ["current"]
    assert any("gave no notice" in v.message for v in changes.refusals)


def test_diff_refuses_an_older_review() -> None:
    changes = diff(catalog_of(), catalog_of(reviewed_on=date(2026, 7, 1)))
    assert [v.model for v in changes.refusals] == [None]
    assert "before the current catalog" in str(changes.refusals[0])
