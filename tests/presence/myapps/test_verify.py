"""The AppLogin digest check against the five official vectors and the non-ASCII/key-order vector.

Each vector goes in as the page would send it: an AppLogin JSON text, decoded with `json.loads`
(as the websocket consumer does), so that the key order and the unescaped characters of `info`
are tested through the same parsing the service uses — not a dict built in the test.
"""

from __future__ import annotations

import json

import pytest

from presence.myapps.verify import MalformedLogin, digest_input, digest_matches, expected_digest, parse_login

VECTOR_4_INFO = (
    '{"appobj":"users","apps":[{"name":"users"},{"name":"profile"}],'
    '"appurl":"https://1.2.3.4/example.com/usersapp/innovaphone-users","unlicensed":true}'
)
NON_ASCII_INFO = (
    '{"appobj":"presets","appdn":"Presets","appurl":"https://svc.example.com/innovaphone/acme-presets",'
    '"pbx":"master","cn":"Jürgen Doe","apps":[{"name":"presets","dn":"Presets"}]}'
)

VECTORS = [
    pytest.param(
        '{"mt":"AppLogin","app":"pbxadminapi"}',
        "0123456789abcdef",
        "pwd",
        "pbxadminapi:::::0123456789abcdef:pwd",
        "a205299ed2ef2786c311e0be1b14db343f2cadd906a6ae7b564eee34bda5e9a1",
        id="official-1-no-info",
    ),
    pytest.param(
        '{"mt":"AppLogin","app":"pbxadminapi","info":{}}',
        "0123456789abcdef",
        "pwd",
        "pbxadminapi:::::{}:0123456789abcdef:pwd",
        "57b23fe824b9222a7ac879597cb509bcdc865a1bfeb057d9d12118cef0c3ba34",
        id="official-2-empty-info-is-not-absent",
    ),
    pytest.param(
        '{"mt":"AppLogin","app":"pbxadminapi","info":{"cn": "Test User"}}',
        "0123456789abcdef",
        "pwd",
        'pbxadminapi:::::{"cn":"Test User"}:0123456789abcdef:pwd',
        "96db3c3f657230c2b68194becc6d2a77f05de9f79f01fc81e9ca0fb196b10d9d",
        id="official-3-info-compacted",
    ),
    pytest.param(
        '{"mt":"AppLogin","app":"innovaphone-users","domain":"example.com","sip":"administrator",'
        '"guid":"0123456789abcdef0123456789abcdef","dn":"Administrator User","info":' + VECTOR_4_INFO + "}",
        "0123456789abcdef",
        "pwd",
        "innovaphone-users:example.com:administrator:0123456789abcdef0123456789abcdef:Administrator User:"
        + VECTOR_4_INFO
        + ":0123456789abcdef:pwd",
        "ef1b811ffaa8f9255c39c653d8fb26b4687b2d8c4d9ac91b4821bff6bae3ff44",
        id="official-4-user-login-app-is-not-appobj",
    ),
    pytest.param(
        '{"mt":"AppLogin","app":"test","domain":"test.com"}',
        "0",
        "secret",
        "test:test.com::::0:secret",
        "66ee3f52256a8eed034603b98cbaf98890bab6f42adb4a34de928e1885d68293",
        id="official-5-rcc-tutorial",
    ),
    pytest.param(
        # \u00fc on the wire is "ü" once decoded, and hashed unescaped; the keys stay in their order.
        '{"mt":"AppLogin","app":"acme-presets","domain":"example.com","sip":"jdoe",'
        '"guid":"0123456789abcdef0123456789abcdef","dn":"J\\u00fcrgen Doe","info":'
        + NON_ASCII_INFO.replace("ü", "\\u00fc")
        + "}",
        "1234567890",
        "secret",
        "acme-presets:example.com:jdoe:0123456789abcdef0123456789abcdef:Jürgen Doe:"
        + NON_ASCII_INFO
        + ":1234567890:secret",
        "933c43fc4cf213ef381836604ee74bcd5fb98df93d9726f1fd4dc9aa7b2ed371",
        id="non-ascii-and-key-order",
    ),
]


def received(text: str, digest: str) -> dict:
    message = json.loads(text)
    message["digest"] = digest
    return message


@pytest.mark.parametrize(("wire", "challenge", "password", "hashed", "digest"), VECTORS)
def test_it_accepts_the_vector_and_hashes_exactly_the_documented_text(wire, challenge, password, hashed, digest):
    login = parse_login(received(wire, digest))
    assert digest_input(login, challenge, password) == hashed
    assert expected_digest(login, challenge, password) == digest
    assert digest_matches(login, challenge, password)


@pytest.mark.parametrize(("wire", "challenge", "password", "hashed", "digest"), VECTORS)
def test_it_refuses_the_vector_with_another_password_or_challenge(wire, challenge, password, hashed, digest):
    login = parse_login(received(wire, digest))
    assert not digest_matches(login, challenge, password + "x")
    assert not digest_matches(login, challenge + "1", password)


def test_it_accepts_a_digest_in_capitals_like_in_lower_case():
    wire, challenge, password, _, digest = VECTORS[4].values
    assert digest_matches(parse_login(received(wire, digest.upper())), challenge, password)


def test_it_hashes_info_sent_as_a_string_exactly_as_received():
    # The HTTP variant of innovaphone's samples sends info as the JSON string it got: hash it as is,
    # even with the spaces a re-encoding would drop.
    info = '{"cn": "Test User"}'
    digest = "a" * 64
    login = parse_login({"app": "pbxadminapi", "info": info, "digest": digest})
    assert digest_input(login, "c", "p") == 'pbxadminapi:::::{"cn": "Test User"}:c:p'
    assert login.info == {"cn": "Test User"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"info": {"cn": "Mallory"}}, "info", id="tampered-info"),
        pytest.param({"info": dict(reversed(list(json.loads(VECTOR_4_INFO).items())))}, "info", id="info-reordered"),
        pytest.param({"guid": "f" * 32}, "guid", id="tampered-guid"),
        pytest.param({"sip": "mallory"}, "sip", id="tampered-sip"),
        pytest.param({"info": None}, "info", id="info-dropped"),
    ],
)
def test_it_refuses_a_login_changed_on_the_way(changes, field):
    wire, challenge, password, _, digest = VECTORS[3].values
    message = received(wire, digest) | changes
    assert not digest_matches(parse_login(message), challenge, password), field


def test_the_app_object_is_read_from_the_signed_info_never_from_pbxobj():
    message = {"app": "x", "pbxObj": "presence-heartbeat-admin", "info": {"appobj": "users"}, "digest": "0" * 64}
    login = parse_login(message)
    assert login.app_object == "users"
    assert parse_login({"app": "x", "pbxObj": "users", "digest": "0" * 64}).app_object == ""


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"app": "x"}, id="no-digest"),
        pytest.param({"app": "x", "digest": "xyz"}, id="digest-not-hex"),
        pytest.param({"app": "x", "digest": "0" * 63}, id="digest-too-short"),
        pytest.param({"app": ["x"], "digest": "0" * 64}, id="app-not-text"),
        pytest.param({"app": "x", "sip": "a" * 2000, "digest": "0" * 64}, id="field-too-long"),
        pytest.param({"app": "x", "info": [1], "digest": "0" * 64}, id="info-a-list"),
        pytest.param({"app": "x", "info": "{not json", "digest": "0" * 64}, id="info-string-not-json"),
        pytest.param({"app": "x", "info": {"cn": "x" * 20000}, "digest": "0" * 64}, id="info-too-long"),
    ],
)
def test_it_calls_a_message_not_shaped_like_an_applogin_malformed(message):
    with pytest.raises(MalformedLogin):
        parse_login(message)
