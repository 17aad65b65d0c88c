"""The command-line layer: a thin Typer layer over the library (see app.py)."""
