"""``python -m convcheck`` runs the command line."""

from convcheck.verify.cli import main

raise SystemExit(main())
