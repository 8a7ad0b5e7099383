"""Developer tools: not part of the engine (they may name methods and benchmarks)."""
