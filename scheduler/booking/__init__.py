"""Booking: enterprises and their credit codes, bookings and booking requests, the booking rules
(one class per rule, ``rules``), operators as a second resource, free and bookable time, and the
row locks by which the database referees labs, instruments and operators (``resource_locks``).

May import ``instruments``, ``scheduler.shared``. The workflow that also moves money and meters
usage is ``scheduler.booking_actions``, one level up."""
