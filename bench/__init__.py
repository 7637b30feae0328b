"""Benchmarks: run by ``bench/run``; each prints one JSON object per measurement and a table at the end."""
