"""Training: the stage trainer, distributed data parallelism and numeric precision."""
