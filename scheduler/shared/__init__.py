"""What every room of ``scheduler`` may use: the notification outbox (``notifications``) and
spreadsheet-safe CSV/XLSX cells (``spreadsheet_cells``). Imports nothing else of ``scheduler``."""
