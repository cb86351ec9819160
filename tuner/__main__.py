from __future__ import annotations

from tuner.main import main

raise SystemExit(main())
