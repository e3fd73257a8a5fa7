"""Benchmarks of Switchboard and their baselines: `make bench` (bench/run.py) writes bench/RESULTS.md."""
