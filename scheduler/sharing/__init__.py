"""Open sharing, measured: usage records separate from bookings (``usage``: check-outs, logs,
CSV imports), the indicators an owner unit is judged by (``indicators``), year-end evaluation and
rewards that sum to the budget (``rewards``), and their CSV/XLSX reports (``reports``).

May import ``instruments``, ``scheduler.shared``, ``scheduler.booking``, ``scheduler.money``."""
