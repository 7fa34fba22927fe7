"""Readiness: the instance's own dependencies, and at least one servable model."""

from __future__ import annotations

from llmaas.services.health import Probe, Readiness


def answering(value: bool) -> Probe:
    async def probe() -> bool:
        return value

    return probe


async def failing() -> bool:
    raise ConnectionError("down")


async def test_one_dead_model_leaves_the_instance_ready_and_says_which() -> None:
    readiness = Readiness(
        {"database": answering(True), "counters": answering(True)},
        models={"model:a": answering(True), "model:b": failing},
    )
    ready, checks = await readiness.check()
    assert ready
    assert checks == {
        "accepting": True,
        "database": True,
        "counters": True,
        "model:a": True,
        "model:b": False,
    }


async def test_no_servable_model_or_a_dead_dependency_or_a_drain_makes_it_unready() -> None:
    models = {"model:a": answering(False), "model:b": failing}
    assert not (await Readiness({"database": answering(True)}, models=models).check())[0]
    alive = {"model:a": answering(True)}
    assert not (await Readiness({"database": failing}, models=alive).check())[0]
    draining = Readiness({"database": answering(True)}, models=alive)
    assert (await draining.check())[0]
    draining.begin_drain()
    ready, checks = await draining.check()
    assert not ready and checks["accepting"] is False


async def test_a_gateway_without_models_needs_only_its_dependencies() -> None:
    assert (await Readiness({"database": answering(True)}).check())[0]
