"""``python -m stack``: the same command line as ``salinmas``."""

from stack.cli import main

raise SystemExit(main())
