"""The headers that tell clients about deprecations and what served them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from llmaas.api.response_headers import deprecation_headers
from llmaas.domain.lifecycle import Lifecycle, Phase
from llmaas.domain.models import Capability, ServedModel


def model(**lifecycle: object) -> ServedModel:
    return ServedModel(
        id="old:7b",
        owned_by="t",
        created=0,
        context_length=10,
        capabilities=frozenset({Capability.CHAT}),
        deployments=(),
        lifecycle=Lifecycle(phase=Phase.DEPRECATED, **lifecycle),  # type: ignore[arg-type]
    )


def test_deprecation_sunset_and_links_follow_the_rfcs() -> None:
    headers = deprecation_headers(
        model(
            deprecation_notice=date(2026, 10, 1),
            sunset=date(2026, 12, 30),
            replacement="new:8b",
        )
    )
    notice = datetime(2026, 10, 1, tzinfo=UTC)
    assert headers["Deprecation"] == f"@{int(notice.timestamp())}"  # RFC 9745 structured date
    assert parsedate_to_datetime(headers["Sunset"]) == datetime(2026, 12, 30, tzinfo=UTC)
    assert headers["Sunset"] == "Wed, 30 Dec 2026 00:00:00 GMT"  # RFC 8594: an HTTP-date
    assert headers["Link"].startswith('</v1/models/new:8b>; rel="successor-version", ')
    assert '</lifecycle>; rel="deprecation"' in headers["Link"]


def test_a_deprecation_without_dates_is_still_announced() -> None:
    headers = deprecation_headers(model())
    assert headers["Deprecation"] == "?1"
    assert "Sunset" not in headers
    assert "successor-version" not in headers["Link"]
