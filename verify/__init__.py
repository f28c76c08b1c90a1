"""convcheck's engine: claim model, instance families, check techniques, search, runner,
results store, command line and pytest plugin."""

__version__ = "0.1.0"
