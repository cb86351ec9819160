from __future__ import annotations

import sys
from pathlib import Path

# celery_live (the live-worker harness) lives in tests/.
TESTS = str(Path(__file__).resolve().parent.parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
