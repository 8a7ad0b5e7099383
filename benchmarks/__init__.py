"""Benchmark adapters (one module or package per dataset), pose readers and metrics."""
