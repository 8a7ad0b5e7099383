"""Files and the process around them: atomic writes, locks, safe unpickling, archives,
checkpoints, provenance, progress bars and fault injection. The lowest layer: it imports
nothing of the harness but ``harness.errors``."""
