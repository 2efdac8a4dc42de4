"""The side-by-side benchmark of benches/bench.py, one module per job: ``matrix`` (what is
measured, the source data), ``backends`` (the libraries), ``worker`` (one process per
library), ``rss`` (peak memory probe), ``limits`` (in-memory decode limit), ``runner``
(orchestration), ``report`` (tables) and ``cli`` (the command line)."""

import os

#: benches/, where results/ is written.
BENCHES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The script the worker and RSS-probe processes run (``--worker`` / ``--rss-probe``).
BENCH_SCRIPT = os.path.join(BENCHES_DIR, "bench.py")
