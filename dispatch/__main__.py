"""`python -m dispatch`: the same as the `dispatch` command."""

from dispatch.cli.main import main

raise SystemExit(main())
