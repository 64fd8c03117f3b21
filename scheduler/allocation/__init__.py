"""Allocation: database rows → ``solver.Problem`` (``round_problem``), allocation rounds that place
every open request at once and explain the rest (``rounds``), and suggestions for one request
(``suggestions``). ``solver`` never sees a row; this room translates both ways.

May import ``solver``, ``instruments``, ``scheduler.shared``, ``scheduler.booking``,
``scheduler.money``."""
