"""Why a round left a request out, as the enterprise's pages say it (``web.enterprise.reason_text``)."""

from __future__ import annotations

from booking_api.web.enterprise import reason_text
from booking_api.web.i18n import translations


def test_a_suspension_is_said_as_a_suspension_not_as_time_taken():
    reason = {"code": "enterprise_suspended", "instruments": [], "start": None,
              "end": "2027-01-05T00:00:00+08:00", "timezone": "Asia/Shanghai"}  # fmt: skip
    en = reason_text(translations("en").gettext, reason)
    zh = reason_text(translations("zh-CN").gettext, reason)
    assert "suspended" in en and "no longer free" not in en
    assert zh != en and "暂停" in zh
