"""Data: the prepared pose store, the benchmark interface that opens it, and the loader
that makes batches from it."""
