"""Bulk intake from files (CSV, XLSX): read, group rows into orders, check, preview, import.

- `columns`: the file vocabulary (the intake vocabulary flattened into one row per cargo line).
- `reading`: bytes to rows, with every structural problem as one file-level error.
- `grouping`: rows sharing a customer_reference become one order; errors go back to their rows.
- `service`: the jobs: create, check (the preview, a dry run), confirm, run, cancel, error file.

The orders themselves are validated by `orders.intake.validate_order` and written by `orders.bulk`,
so a file obeys the same rules and leaves the same history as every other channel.
"""
