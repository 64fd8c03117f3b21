"""Every kind of mail renders in zh-CN and English from its template, with nothing left
untranslated or unrendered, and the SMTP URL forms parse as documented."""

from __future__ import annotations

import re

import pytest

from instruments.errors import InvalidInput
from scheduler.shared.mail_prefs import LANGUAGES, MailKind
from scheduler.shared.mail_templates import SAMPLES, render, span, when, yuan
from scheduler.shared.smtp import SmtpConfig

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("kind", list(MailKind))
def test_every_kind_renders_in_both_languages(kind):
    assert kind in SAMPLES, f"no sample data for {kind}"
    zh, en = (render(kind, lang, SAMPLES[kind]) for lang in LANGUAGES)
    for r in (zh, en):
        assert r.subject and "\n" not in r.subject and r.text
        assert "{{" not in r.text + r.subject and "{%" not in r.text
        assert r.subject in r.html and "<script" not in r.html
    assert CJK.search(zh.subject) and CJK.search(zh.text)  # the Chinese mail is in Chinese …
    assert not CJK.search(en.subject) and not CJK.search(en.text)  # … and the English one has none
    assert zh.subject != en.subject


def test_formats():
    assert yuan(123_456_789) == "¥1,234,567.89" and yuan(5) == "¥0.05" and yuan(-150) == "-¥1.50"
    assert when("2026-12-07T16:30:00+00:00", "Asia/Shanghai") == "2026-12-08 00:30 (Asia/Shanghai)"
    assert span("2026-12-08T01:00:00+00:00", "2026-12-08T03:30:00+00:00", "Asia/Urumqi") == (
        "2026-12-08 07:00–09:30 (Asia/Urumqi)"
    )
    assert span("2026-12-08T14:00:00+00:00", "2026-12-08T17:00:00+00:00", "Asia/Shanghai") == (
        "2026-12-08 22:00–2026-12-09 01:00 (Asia/Shanghai)"
    )


def test_html_part_escapes_what_people_typed():
    data = SAMPLES[MailKind.booking_cancelled] | {"reason": "<b>late</b> & sorry"}
    r = render(MailKind.booking_cancelled, "en", data)
    assert "<b>late</b> & sorry" in r.text and "&lt;b&gt;late&lt;/b&gt; &amp; sorry" in r.html


def test_an_unknown_language_falls_back_to_chinese():
    assert render(MailKind.voucher_issued, "fr", SAMPLES[MailKind.voucher_issued]).subject.startswith("创新券已发放")


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("smtp://127.0.0.1:8025", SmtpConfig("127.0.0.1", 8025)),
        ("smtp://mail.example.cn", SmtpConfig("mail.example.cn", 25)),
        (
            "smtp://u%40x.cn:p%3Aw@mail.example.cn:587?starttls=true",
            SmtpConfig("mail.example.cn", 587, starttls=True, username="u@x.cn", password="p:w"),
        ),
        ("smtps://u:pw@smtp.example.cn", SmtpConfig("smtp.example.cn", 465, tls=True, username="u", password="pw")),
    ],
)
def test_smtp_urls(url, want):
    assert SmtpConfig.from_url(url) == want


@pytest.mark.parametrize("url", ["http://mail.example.cn", "smtp://", "smtp:///nohost"])
def test_bad_smtp_urls_say_what_is_wrong(url):
    with pytest.raises(InvalidInput, match="LABSHARE_SMTP_URL"):
        SmtpConfig.from_url(url)
