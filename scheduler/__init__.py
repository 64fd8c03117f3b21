"""The platform's operations over time, in rooms by domain (lower rooms never import higher ones):

- ``shared``: what every room may use: the notification outbox, safe spreadsheet cells.
- ``booking``: enterprises, bookings, booking requests, the booking rules, operators, free time,
  the row locks that let the database referee shared resources.
- ``money``: innovation voucher programmes and vouchers, the double-entry ledger, redemption,
  revocation, credit (complaints, suspensions, red and black lists).
- ``sharing``: metered usage, open-sharing indicators, year-end rewards and their reports.
- ``allocation``: rows → ``solver.Problem``, allocation rounds, suggestions.
- ``calendars``: calendar feeds (.ics out) and blackout import (.ics in).

Two modules at the top work across rooms: ``booking_actions`` (a booking's life: book, move,
confirm, cancel, check in and out, no-show, which reserve, consume and release vouchers, note
credit events and meter usage) and ``jobs`` (the scheduled jobs and their leader lock).

Allowed imports, room by room, are stated and checked in ``tests/test_architecture.py``.
"""
