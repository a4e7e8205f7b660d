"""One module per command; cli/app.py registers them in the order `--help` lists them."""
