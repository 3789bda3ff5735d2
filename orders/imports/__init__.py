"""Bulk intake from files (CSV, XLSX): read, group rows into orders, check, preview, import.

- `columns`: the file vocabulary (the intake vocabulary flattened into one row per cargo line).
- `reading`: bytes to what a file is (format, encoding, delimiter, size), each structural problem one file-level error.
- `rows`: the rows of a file, streamed (CSV here, with its quoting problems; a workbook's through `workbooks`).
- `workbooks`: XLSX: the orders sheet's rows as a person sees them, and the CSV copy every later pass reads.
- `grouping`: rows sharing a customer_reference become one order; errors go back to their rows.
- `service`: the jobs' lifecycle: create, confirm, run, cancel, give up, and the deletion of their files.
- `check`: the check of a file (the preview, a dry run; the import checks again), validating every order.
- `writes`: what a run writes: the check's outcome on the job, and the import's orders.
- `jobs`: what every step shares: the job's rights, its stored upload, its progress.
- `selectors`: reads of jobs, scoped, and a job's errors as a list or as the error file.

The orders themselves are validated by `orders.intake.validate_order` and written by `orders.bulk`,
so a file obeys the same rules and leaves the same history as every other channel.
"""
