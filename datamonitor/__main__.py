"""``python -m datamonitor``."""
from .cli import main

raise SystemExit(main())
