"""Brain throughput: decisions per second sustained with every risk check and the
persistence (signal upsert, decision, intent, all committed; intents XADDed).

One command for issue 8's figure; the measurement itself is the pipeline burst of
bench/brain_evaluate.py (a real brain process on real Redis and Postgres, --burst signals
XADDed at once, decisions/s until all are on record), run here with a short core and
latency phase. Its row lands in the brain's table of docs/benchmarks.md, beside the core's
rate measured in the same run.

Usage: python bench/brain_throughput.py [--burst 5000]   (DATABASE_URL/REDIS_URL or TEST_*)
Goal: >= 5,000 decisions/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import brain_evaluate

if __name__ == "__main__":
    burst = sys.argv[sys.argv.index("--burst") + 1] if "--burst" in sys.argv else "5000"
    sys.argv = [sys.argv[0], "--core-seconds", "0.5", "--seconds", "2", "--burst", burst]
    brain_evaluate.main()
