"""The AppLogin digest against the official test vectors (reference §2.3) and our own examples (§7.2)."""

from __future__ import annotations

import pytest

from presence.pbx.digest import compact_json, login_digest, session_key

VECTOR_4_INFO = {
    "appobj": "users",
    "apps": [{"name": "users"}, {"name": "profile"}],
    "appurl": "https://1.2.3.4/example.com/usersapp/innovaphone-users",
    "unlicensed": True,
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"app": "pbxadminapi", "challenge": "0123456789abcdef", "password": "pwd"},
            "a205299ed2ef2786c311e0be1b14db343f2cadd906a6ae7b564eee34bda5e9a1",
            id="doc-1-no-info",
        ),
        pytest.param(
            {"app": "pbxadminapi", "challenge": "0123456789abcdef", "password": "pwd", "info": {}},
            "57b23fe824b9222a7ac879597cb509bcdc865a1bfeb057d9d12118cef0c3ba34",
            id="doc-2-empty-info-is-not-absent",
        ),
        pytest.param(
            {"app": "pbxadminapi", "challenge": "0123456789abcdef", "password": "pwd", "info": {"cn": "Test User"}},
            "96db3c3f657230c2b68194becc6d2a77f05de9f79f01fc81e9ca0fb196b10d9d",
            id="doc-3-info-with-space",
        ),
        pytest.param(
            {
                "app": "innovaphone-users",
                "domain": "example.com",
                "sip": "administrator",
                "guid": "0123456789abcdef0123456789abcdef",
                "dn": "Administrator User",
                "info": VECTOR_4_INFO,
                "challenge": "0123456789abcdef",
                "password": "pwd",
            },
            "ef1b811ffaa8f9255c39c653d8fb26b4687b2d8c4d9ac91b4821bff6bae3ff44",
            id="doc-4-all-fields-nested-info-in-key-order",
        ),
        pytest.param(
            {"app": "test", "domain": "test.com", "challenge": "0", "password": "secret"},
            "66ee3f52256a8eed034603b98cbaf98890bab6f42adb4a34de928e1885d68293",
            id="doc-5-rcc-tutorial",
        ),
        pytest.param(
            {"app": "presencebridge", "challenge": "5729163403145832", "password": "s3cr3t"},
            "0dd89613416ded88e91c07ab1b949f15a857331c8b87b2100fc0a26441904733",
            id="illus-presencebridge",
        ),
        pytest.param(
            {"app": "presencebridge", "challenge": "5729163403145832", "password": "s3cr3t", "info": {}},
            "9fd5bc47a7b932638a78f54c791164d83a902572b405495c9c522eca921cc598",
            id="illus-presencebridge-empty-info",
        ),
    ],
)
def test_it_computes_the_documented_digest(fields: dict, expected: str) -> None:
    assert login_digest(**fields) == expected


def test_it_derives_the_documented_session_key() -> None:
    assert session_key(challenge="5729163403145832", password="s3cr3t") == (
        "861e34d9ffa00e28d1bb737f47c6394f10392027e1c1ceb90ba535cc4637294d"
    )


@pytest.mark.parametrize(
    ("obj", "text"),
    [
        pytest.param({"cn": "Test User"}, '{"cn":"Test User"}', id="no-whitespace"),
        pytest.param({"b": 1, "a": 2}, '{"b":1,"a":2}', id="insertion-order"),
        pytest.param({"cn": "Zoë Ärger"}, '{"cn":"Zoë Ärger"}', id="no-unicode-escapes"),
        pytest.param({"url": "https://x/y"}, '{"url":"https://x/y"}', id="slashes-unescaped"),
        pytest.param({}, "{}", id="empty-object"),
    ],
)
def test_compact_json_matches_js_json_stringify(obj: dict, text: str) -> None:
    assert compact_json(obj) == text
