"""`python -m dispatch`: the same as the `dispatch` command."""

from dispatch.cli import main

raise SystemExit(main())
