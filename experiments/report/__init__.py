"""The comparison report, read back from MLflow: `tables` does the arithmetic on
a table of runs, `writer` reads the runs and writes Markdown, `plots` draws."""
