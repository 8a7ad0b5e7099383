"""Metrics with named, versioned protocols; every value comes with its signature."""
