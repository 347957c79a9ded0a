"""Study orchestration: the experiment loops a notebook calls (one module per study)."""
