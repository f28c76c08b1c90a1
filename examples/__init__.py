"""Example plug-ins: third-party implementations wrapped as convcheck solvers under test."""
