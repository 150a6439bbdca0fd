"""Benchmarks behind `make bench`: each module measures one issue's target, medians of runs."""
