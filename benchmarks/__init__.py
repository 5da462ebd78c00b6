"""Benchmarks of the installed ``carryover`` package. Run them from the repository root as modules,
e.g. ``python -m benchmarks.mirror``; results go to benchmarks/results/."""
