"""Sweeps: grids of cells submitted through submitit, and the cluster profiles."""
