"""``python -m salinmas``: the command line (the roof, :mod:`stack.cli`).

This one module sits on the roof's floor although it lives in the ground package's
namespace (``scripts/import_graph.py`` says so): nothing imports it, it only starts the
command line, so ``python -m salinmas ...`` keeps working wherever ``salinmas ...`` does.
"""

from stack.cli import main

raise SystemExit(main())
