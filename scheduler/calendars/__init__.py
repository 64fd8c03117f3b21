"""Calendars: per-subscriber calendar feeds (``calendar_feeds``, .ics out, one secret key per
subscription) and bounded .ics blackout import (``ics_import``).

May import ``instruments``, ``scheduler.shared``, ``scheduler.booking``."""
