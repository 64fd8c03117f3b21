"""An instrument's facts in a person's words and language: service modes, statuses, categories,
lengths of time, its booking policy as sentences, and the reasons time is closed or a person is
refused. Wording only: the numbers come from the policy and the reasons from the booking rules
(``scheduler.booking.bookable``), so the pages say what the rules do."""

from __future__ import annotations

from collections.abc import Callable

from instruments.categories import category_of
from instruments.errors import Violation
from instruments.inventory import Instrument
from instruments.policy import BookingPolicy, lead_minutes_for

from .i18n import translations

Gettext = Callable[[str], str]


def gettext(lang: str) -> Gettext:
    return translations(lang).gettext


def service_mode_name(mode: str, _: Gettext) -> str:
    return {
        "self_operated": _("Self-operated"),
        "guided": _("Guided operation"),
        "operator_run": _("Operator-run (sample submission)"),
        "remote": _("Remote"),
    }.get(mode, mode)


def status_name(status: str, _: Gettext) -> str:
    return {
        "normal": _("In service"),
        "standby": _("Standby"),
        "remote_service": _("Remote service"),
        "occasional_fault": _("Occasional faults"),
        "frequent_fault": _("Frequent faults"),
        "awaiting_repair": _("Awaiting repair"),
        "awaiting_scrapping": _("Awaiting scrapping"),
    }.get(status, status)


def category_name(category: str, lang: str) -> str:
    """The category's name in the page's language (its own name when the table lacks it)."""
    known = category_of(category)
    if known is None:
        return category
    return known.name_zh if lang == "zh-CN" else known.name_en


def span(minutes: int, _: Gettext) -> str:
    """A length of time in whole days, hours and minutes: 90 → "1 hour 30 min" / "1 小时 30 分钟"."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("{n} day(s)").format(n=days))
    if hours:
        parts.append(_("{n} hour(s)").format(n=hours))
    if mins or not parts:
        parts.append(_("{n} min").format(n=mins))
    return " ".join(parts)


def policy_sentences(inst: Instrument, policy: BookingPolicy, _: Gettext) -> list[str]:
    """The booking policy of ``inst`` as plain sentences, in the order a person books."""
    out = []
    for mode in inst.service_modes:
        lead = lead_minutes_for(policy, mode)
        name = service_mode_name(mode, _)
        if lead:
            out.append(_("{mode}: book at least {lead} ahead.").format(mode=name, lead=span(lead, _)))
        else:
            out.append(_("{mode}: no notice needed; book up to the start.").format(mode=name))
    if "self_operated" in inst.service_modes:
        out.append(_("Self-operated use needs the lab's training: a valid qualification for this instrument."))
    if any(m in inst.service_modes for m in ("operator_run", "guided")):
        out.append(_("Operator-run and guided bookings need one of the lab's operators at work."))
    out.append(
        _("A booking lasts from {min} to {max}, starting and ending on the {step}-minute grid.").format(
            min=span(policy.min_minutes, _), max=span(policy.max_minutes, _), step=policy.slot_minutes
        )
    )
    out.append(_("One sample takes {t} of instrument time.").format(t=span(policy.minutes_per_sample, _)))
    out.append(_("You can book at most {n} days ahead.").format(n=policy.max_advance_days))
    if policy.cancel_cutoff_minutes:
        out.append(_("Cancel at least {t} before the start.").format(t=span(policy.cancel_cutoff_minutes, _)))
    else:
        out.append(_("You can cancel up to the start."))
    if policy.setup_minutes or policy.cleanup_minutes:
        out.append(
            _("The instrument is held {setup} before and {cleanup} after each booking for set-up and clean-up.").format(
                setup=span(policy.setup_minutes, _), cleanup=span(policy.cleanup_minutes, _)
            )
        )
    out.append(
        _("An enterprise holds at most {n} future bookings of this instrument.").format(n=policy.max_future_bookings)
    )
    out.append(_("Bookings are confirmed at once.") if policy.auto_confirm else _("The lab confirms each booking."))
    out.append(
        _("Not started {t} after its start, a booking counts as a no-show.").format(
            t=span(policy.no_show_grace_minutes, _)
        )
    )
    return out


def closed_label(reason: str, detail: str, _: Gettext, note: str | None = None) -> str:
    """Why no booking may start in a stretch of time, in a few words. A blackout with a title
    (``note`` is then its reason, '' when it says no more) reads "Closed: <title> (<reason>)";
    one without (``note`` None) "Maintenance: <reason>"."""
    if reason == "holiday":
        return _("Public holiday: {name}").format(name=detail) if detail else _("Public holiday")
    if reason == "blackout":
        if note is not None:
            if note:
                return _("Closed: {title} ({reason})").format(title=detail, reason=note)
            return _("Closed: {title}").format(title=detail)
        return _("Maintenance: {title}").format(title=detail) if detail else _("Maintenance")
    labels = {
        "outside_opening_hours": _("Outside opening hours"),
        "booked": _("Booked"),
        "lead_time": _("Within the notice period"),
        "too_far_ahead": _("Too far ahead to book"),
        "in_past": _("Past"),
        "no_operator": _("No operator free"),
        "lab_full": _("Lab full"),
        "not_qualified": _("Needs a qualification"),
        "too_short": _("Closes before a booking of this length could end"),
        "slot_grid": _("Not on the slot grid"),
    }
    return labels.get(reason, reason.replace("_", " "))


def refusal(v: Violation, policy: BookingPolicy, _: Gettext) -> str:
    """A refusal that applies to every slot (``BookableTime.blocked``) in plain words."""
    words = {
        "not_qualified": _(
            "Self-operated use needs the lab's training, and you hold no valid qualification for this instrument. "
            "Choose operator-run (sample submission), or ask the lab for training."
        ),
        "enterprise_suspended": _("Your enterprise may not book for now: its booking is suspended (credit rules)."),
        "too_many_bookings": _(
            "Your enterprise already holds {n} future bookings of this instrument, the most allowed. "
            "Cancel one or wait until one is done."
        ).format(n=policy.max_future_bookings),
        "length": _("A booking of this instrument lasts from {min} to {max}.").format(
            min=span(policy.min_minutes, _), max=span(policy.max_minutes, _)
        ),
        "service_mode": _("This instrument does not offer this service mode."),
        "instrument_unavailable": _("This instrument cannot be booked now (its status or sharing mode)."),
        "slot_grid": _("Choose a length that is a multiple of {n} minutes.").format(n=policy.slot_minutes),
    }
    return words.get(v.code, v.message)
