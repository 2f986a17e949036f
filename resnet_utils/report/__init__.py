"""What a notebook prints and draws: verdicts with margins, tables, plots, widgets."""
