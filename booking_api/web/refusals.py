"""Refusals in the reader's language: a booking rule's or a voucher's failure, said in plain words
in Chinese or English from its stable ``code`` and structured ``params`` (``Violation.params``),
one template per code and language. A code without a template (a rule added later) falls back to
the English message the API gives, so nothing is ever left unsaid.

Also the words the booking pages share: service modes, booking statuses and spans of time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instruments.errors import Violation

from .i18n import translations

ZH, EN = "zh-CN", "en"

TEMPLATES: dict[str, dict[str, str]] = {
    # booking rules (scheduler/booking/rules.py)
    "instrument_unavailable.status": {
        ZH: "{instrument}目前{status}，暂不能预约。",
        EN: "{instrument} is {status} and cannot be booked now.",
    },
    "instrument_unavailable.sharing": {
        ZH: "{instrument}不对外部用户开放共享。",
        EN: "{instrument} is not open to external users.",
    },
    "service_mode": {
        ZH: "{instrument}不提供“{mode}”服务；可选的服务方式：{offered}。",
        EN: "{instrument} does not offer {mode}; it offers: {offered}.",
    },
    "enterprise_suspended": {
        ZH: "{enterprise}因信用处理在 {until} 之前不能预约。",
        EN: "{enterprise} may not book until {until} (credit suspension).",
    },
    "in_past": {
        ZH: "预约开始时间 {start} 已经过去。",
        EN: "The booking would start in the past ({start}).",
    },
    "slot_grid": {
        ZH: "{which_word} {time} 不在{instrument}的 {step} 分钟时间格上。",
        EN: "The {which_word} {time} is not on the {step}-minute grid of {instrument}.",
    },
    "length.min": {
        ZH: "{instrument}每次预约至少 {limit}；本次只有 {length}。",
        EN: "Bookings of {instrument} last at least {limit}; this one lasts {length}.",
    },
    "length.max": {
        ZH: "{instrument}每次预约最多 {limit}；本次为 {length}。",
        EN: "Bookings of {instrument} last at most {limit}; this one lasts {length}.",
    },
    "lead_time": {
        ZH: "{instrument}的“{mode}”预约须提前 {lead}提交；现在最早可预约 {earliest} 开始。",
        EN: "{mode} bookings of {instrument} must be made {lead} ahead; the earliest start now is {earliest}.",
    },
    "too_far_ahead": {
        ZH: "{instrument}最多可提前 {days} 天预约（至 {latest}）。",
        EN: "{instrument} can be booked at most {days} days ahead (until {latest}).",
    },
    "outside_opening_hours.open": {
        ZH: "{start}–{end} 不在{instrument}的同一个开放时段内；{day}{holiday}的开放时间：{hours}。",
        EN: "{start}–{end} is not within one opening period of {instrument}; on {day}{holiday} it is open: {hours}.",
    },
    "outside_opening_hours.closed": {
        ZH: "{instrument}在 {day}{holiday}全天不开放。",
        EN: "{instrument} is closed all day on {day}{holiday}.",
    },
    "not_qualified.expired": {
        ZH: "自主操作{instrument}需要培训资格：您的资格已于 {expired_on} 过期。请改选委托测试，或向实验室申请培训。",
        EN: "Self-operated use of {instrument} needs training: your qualification expired on {expired_on}. "
        "Book operator-run testing instead, or ask the lab for training.",
    },
    "not_qualified.none": {
        ZH: "自主操作{instrument}需要培训资格，您尚未取得。请改选委托测试，或向实验室申请培训。",
        EN: "Self-operated use of {instrument} needs training, and you hold no qualification for it. "
        "Book operator-run testing instead, or ask the lab for training.",
    },
    "no_operator": {
        ZH: "{start}–{end} 没有{instrument}的操作员在岗且空闲，请另选时间。",
        EN: "No operator of {instrument} is at work and free {start}–{end}; choose another time.",
    },
    "lab_full": {
        ZH: "{lab}同一时间最多容纳 {capacity} 个预约，{start}–{end} 已满，请另选时间。",
        EN: "{lab} hosts at most {capacity} booking(s) at a time and is full {start}–{end}; choose another time.",
    },
    "too_many_bookings": {
        ZH: "{enterprise}已有 {count} 个{instrument}的未来预约，上限为 {limit} 个。请先取消一个，或等其中一个完成。",
        EN: "{enterprise} already holds {count} future bookings of {instrument}; the limit is {limit}. "
        "Cancel one or wait until one is done.",
    },
    "overlap": {
        ZH: "该时间与另一个预约（{start}–{end}）冲突{buffers}。",
        EN: "The time collides with another booking ({start}–{end}){buffers}.",
    },
    # booking actions (scheduler/booking_actions.py)
    "cancel_cutoff": {
        ZH: "{instrument}的已确认预约须在开始前 {hours} 小时（{until} 之前）取消；现在请联系实验室（{contact}）取消。",
        EN: "Confirmed bookings of {instrument} can be cancelled up to {hours} h before the start (until {until}); "
        "ask the lab ({contact}) to cancel.",
    },
    "move_cutoff": {
        ZH: "{instrument}的预约只能在 {until} 之前由企业自行改期；现在请联系实验室（{contact}）改期。",
        EN: "Bookings of {instrument} can be moved by the enterprise until {until}; ask the lab ({contact}) to move it.",
    },
    # vouchers (scheduler/money/vouchers.py, price_split.py)
    "not_spendable": {ZH: "该创新券已使用或已失效，不能再支付预约。", EN: "This voucher is used or void; it cannot pay for a booking."},
    "expired": {ZH: "该创新券已过期。", EN: "This voucher has expired."},
    "not_holder": {ZH: "创新券只能支付持券企业自己的预约。", EN: "A voucher pays only for its holder's bookings."},
    "related_party": {
        ZH: "贵企业与该仪器的所属单位存在关联关系，创新券不能支付关联方服务。",
        EN: "Your enterprise and the instrument's owner are related parties: vouchers cannot pay for related-party services.",
    },
    "excluded_service": {
        ZH: "该创新券不支付此类仪器或服务方式。",
        EN: "This voucher does not pay for this kind of instrument or service.",
    },
    "expires_first": {
        ZH: "该创新券在预约开始前就到期了。",
        EN: "The voucher expires before the booking starts.",
    },
    "nothing_to_pay": {ZH: "本次预约没有可由创新券支付的费用。", EN: "This booking has no fee for the voucher to pay."},
}
"""``code`` or ``code.variant`` → language → template (``str.format`` over the violation's params)."""

RULE_CODES_OUTSIDE_RULES = ("cancel_cutoff", "move_cutoff")
VOUCHER_CODES = (
    "not_spendable",
    "expired",
    "not_holder",
    "related_party",
    "excluded_service",
    "expires_first",
    "nothing_to_pay",
)


def span(minutes: int, lang: str) -> str:
    """A length of time in words: 2 天 / 2 day(s), 24 小时 / 24 h, 45 分钟 / 45 min."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} 天" if lang == ZH else f"{minutes // 1440} day(s)"
    if minutes % 60 == 0:
        return f"{minutes // 60} 小时" if lang == ZH else f"{minutes // 60} h"
    return f"{minutes} 分钟" if lang == ZH else f"{minutes} min"


def mode_name(mode: str, lang: str) -> str:
    _ = translations(lang).gettext
    names = {
        "self_operated": _("self-operated use"),
        "guided": _("guided use"),
        "operator_run": _("operator-run testing"),
        "remote": _("remote use"),
    }
    return names.get(mode, mode)


def status_name(status: str, lang: str) -> str:
    _ = translations(lang).gettext
    names = {
        "tentative": _("awaiting confirmation"),
        "confirmed": _("confirmed"),
        "checked_in": _("checked in"),
        "completed": _("completed"),
        "cancelled": _("cancelled"),
        "no_show": _("no-show"),
    }
    return names.get(status, status)


def _key(code: str, p: Mapping[str, Any]) -> str:
    if code == "instrument_unavailable":
        return code + (".sharing" if "sharing_mode" in p else ".status")
    if code == "length":
        return f"{code}.{p.get('bound', 'min')}"
    if code == "outside_opening_hours":
        return code + (".open" if p.get("hours") else ".closed")
    if code == "not_qualified":
        return code + (".expired" if p.get("expired_on") else ".none")
    return code


def _words(code: str, p: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The params made ready for the template in ``lang`` (modes named, spans in words, lists joined)."""
    w: dict[str, Any] = dict(p)
    sep = "、" if lang == ZH else ", "
    if "mode" in p:
        w["mode"] = mode_name(str(p["mode"]), lang)
    if "offered" in p:
        w["offered"] = sep.join(mode_name(m, lang) for m in p["offered"]) or ("无" if lang == ZH else "none")
    if "status" in p:
        w["status"] = status_word(str(p["status"]), lang)
    for key, out in (("limit_minutes", "limit"), ("minutes", "length"), ("lead_minutes", "lead")):
        if key in p:
            w[out] = span(int(p[key]), lang)
    if isinstance(p.get("hours"), list):  # opening periods of the day (cut-offs name "hours" as a number)
        w["hours"] = sep.join(p["hours"])
    if "holiday" in p:
        w["holiday"] = (f"（{p['holiday']}）" if lang == ZH else f" ({p['holiday']})") if p["holiday"] else ""
    if "which" in p:
        w["which_word"] = {"start": "开始时间", "end": "结束时间"}.get(p["which"], p["which"]) if lang == ZH else p["which"]
    if "buffers" in p:
        w["buffers"] = ("（含准备和清理时间）" if lang == ZH else ", with set-up/clean-up buffers") if p["buffers"] else ""
    if code in ("cancel_cutoff", "move_cutoff") and not p.get("contact"):
        w["contact"] = "其管理员" if lang == ZH else "its manager"
    return w


def status_word(status: str, lang: str) -> str:
    """An instrument's status (not a booking's) in words."""
    zh = {
        "normal": "正常",
        "standby": "待机",
        "remote_service": "仅远程服务",
        "occasional_fault": "偶有故障",
        "frequent_fault": "故障频繁",
        "awaiting_repair": "待修",
        "awaiting_scrapping": "待报废",
    }
    return zh.get(status, status) if lang == ZH else status.replace("_", " ")


def say(code: str, message: str, params: Mapping[str, Any] | None, lang: str) -> str:
    """One refusal in ``lang``: its template filled with its params, else the English message."""
    template = TEMPLATES.get(_key(code, params or {}), {}).get(lang)
    if template is None:
        return message
    try:
        return template.format(**_words(code, params or {}, lang))
    except (KeyError, IndexError, ValueError):  # params missing (an older caller): the API's words
        return message


def say_violation(v: Violation, lang: str) -> str:
    return say(v.code, v.message, v.params, lang)


def say_all(violations: list[Violation], lang: str) -> list[str]:
    return [say_violation(v, lang) for v in violations]
