"""PUBLIC_URL lands in PowerShell, shell, systemd and cmd files: only a plain URL is accepted
(security review finding 6: `…/#>;Start-Process calc;<#` and a URL with a newline were accepted)."""

from __future__ import annotations

import pytest

from heartbeat_site.helpers.public_url import check_public_url
from tests.test_settings import run_check

HOSTILE = [
    pytest.param("https://presence.example/#>;Start-Process calc;<#", "'#'", id="powershell-comment-break"),
    pytest.param("https://presence.example/x\ntouch /tmp/pwned", "'\\n'", id="newline"),
    pytest.param("https://presence.example/x\rdel", "'\\r'", id="carriage-return"),
    pytest.param("https://presence.example/a b", "' '", id="space"),
    pytest.param("https://presence.example/$(id)", "'$'", id="shell-substitution"),
    pytest.param('https://presence.example/"&calc&"', "'\"'", id="cmd-quote"),
    pytest.param("https://presence.example/%COMPUTERNAME%", "'%'", id="cmd-percent"),
    pytest.param("https://it's.example", '"\'"', id="single-quote"),
    pytest.param("https://presence.example/`whoami`", "'`'", id="backtick"),
    pytest.param("https://presence.example/?key=1", "'?'", id="query"),
    pytest.param("https://admin:pw@presence.example", "'@'", id="credentials"),
    pytest.param("https://presence.example\u2028/x", "'\\u2028'", id="unicode-line-separator"),
    pytest.param("javascript://presence.example", "http:// or https://", id="scheme"),
    pytest.param("presence.example", "http:// or https://", id="no-scheme"),
    pytest.param("https://", "no host", id="no-host"),
    pytest.param("https://presence.example:99999", "port", id="port-out-of-range"),
    pytest.param("https://presence.example:0", "port", id="port-zero"),
    pytest.param("https://presence..example", "host", id="empty-label"),
    pytest.param("https://-presence.example", "host", id="label-starting-with-a-hyphen"),
    pytest.param("https://presence_hb.example", "host", id="underscore-in-host"),
    pytest.param("https://[fd00::zz]", "host", id="bad-ipv6"),
    pytest.param("https://presence.example/a/../b", "path", id="dot-dot-segment"),
    pytest.param("https://presence.example//b", "path", id="empty-segment"),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE)
def test_it_refuses_anything_but_a_plain_url_and_says_why(url, reason):
    with pytest.raises(ValueError) as refused:
        check_public_url(url)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://presence.corp.example", "https://presence.corp.example"),
        ("https://presence.corp.example/", "https://presence.corp.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://[fd00::5]:8443/presence-hb/", "https://[fd00::5]:8443/presence-hb"),
        ("HTTPS://Presence.Corp.Example/Heart_Beat~1", "HTTPS://Presence.Corp.Example/Heart_Beat~1"),
    ],
)
def test_it_accepts_plain_urls_without_the_trailing_slash(url, kept):
    assert check_public_url(url) == kept


@pytest.mark.parametrize(
    "url",
    [
        "https://presence.example/#>;Start-Process calc;<#",
        "https://presence.example/x\ntouch /tmp/pwned",
        "presence.example.com",
    ],
)
def test_start_up_stops_on_a_public_url_that_could_inject_a_command(url):
    result = run_check({"SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "PUBLIC_URL": url})
    assert result.returncode != 0
    assert "PUBLIC_URL" in result.stderr and "Traceback" not in result.stderr


def test_the_system_check_refuses_a_public_url_set_by_other_means(settings):
    from triggers.checks import check_trigger_settings

    settings.PUBLIC_URL = "https://presence.example/#>;Start-Process calc;<#"
    assert "triggers.E002" in [problem.id for problem in check_trigger_settings(None)]
