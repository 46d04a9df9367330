import sys

from salinmas.cli import main

sys.exit(main())
