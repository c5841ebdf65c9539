"""The access rules every service shares (titan_common.auth.roles, titan_common.request_guard): pure, no I/O."""

from __future__ import annotations

import pytest

from titan_common.auth.roles import Role, role_for_live
from titan_common.request_guard import is_json_media_type, mutation_refusal, nul_in_json, nul_in_url

HOST = "127.0.0.1:3100"


def refusal(method: str = "POST", **kwargs: object) -> tuple[int, str, str] | None:
    base: dict[str, object] = {"origin": None, "host": HOST, "content_type": "application/json", "has_body": True}
    return mutation_refusal(method, **{**base, **kwargs})  # type: ignore[arg-type]


def test_admin_in_live_for_what_raises_risk() -> None:
    assert role_for_live(live=True, raises_risk=True) is Role.ADMIN
    assert role_for_live(live=True, raises_risk=False) is Role.OPERATOR
    assert role_for_live(live=False, raises_risk=True) is Role.OPERATOR


def test_reads_always_pass() -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        assert refusal(method, origin="http://evil.example", content_type="text/plain") is None


def test_a_foreign_origin_is_refused_and_ours_or_none_passes() -> None:
    foreign = refusal(origin="http://evil.example")
    assert foreign is not None
    assert foreign[:2] == (403, "CSRF_FAILED")
    assert refusal(origin="null") is not None
    assert refusal(origin=f"http://{HOST}") is None
    assert refusal(origin=None) is None


@pytest.mark.parametrize(
    ("content_type", "has_body", "refused"),
    [
        ("application/json", True, False),
        ("application/json; charset=utf-8", True, False),
        ("application/merge-patch+json", True, False),
        (None, False, False),  # curl -X POST without a body
        ("application/json", False, False),
        ("application/x-www-form-urlencoded", True, True),  # a cross-site form
        ("application/x-www-form-urlencoded", False, True),  # an empty form is still a form
        ("text/plain", True, True),
        ("multipart/form-data; boundary=x", True, True),
        (None, True, True),  # a body without a type
    ],
)
def test_only_json_bodies(content_type: str | None, has_body: bool, refused: bool) -> None:
    answer = refusal(content_type=content_type, has_body=has_body)
    assert (answer is not None) is refused
    if refused:
        assert answer is not None
        assert answer[:2] == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert is_json_media_type(content_type) is (content_type is not None and "json" in content_type)


def test_nul_bytes_are_found_in_urls_and_json() -> None:
    assert nul_in_url(b"/trades?x=%00")
    assert nul_in_url(b"/a\x00b")
    assert not nul_in_url(b"/trades?since_ms=100")
    assert nul_in_json(b'{"operator_id": "a\\u0000b"}')
    assert nul_in_json(b'{"operator_id": "a\\U0000b"}')
    assert not nul_in_json(b'{"reason": "100%00 sure"}')  # %00 is only an escape in URLs
