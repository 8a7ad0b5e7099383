"""The engine of the SLU benchmark harness: CLI, registries, config, data, training, records.

It knows no method and no benchmark by name; those live in ``methods`` and ``benchmarks``.
"""

__version__ = "0.1.0"
