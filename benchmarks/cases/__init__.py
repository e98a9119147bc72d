"""One module per benchmark case; each has `CASE` (its label) and `run(ctx) -> figures`."""
