"""Money: innovation voucher programmes and their rules (``voucher_rules``: policy as data),
vouchers (``vouchers``), the double-entry ledger every movement goes through (``ledger``),
providers' quarterly redemption (``redemption``), voiding vouchers (``revocation``), programme
statistics (``voucher_stats``), and credit: complaints, suspensions, red and black lists
(``credit``). Amounts are integer fen.

May import ``instruments``, ``scheduler.shared``, ``scheduler.booking``. Inside the room:
``ledger`` and ``voucher_rules`` < ``vouchers`` < ``redemption`` < ``revocation``."""
