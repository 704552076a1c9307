"""Measurements of cgan-digits: scripts run from the repository's root as `python -m benchmarks.NAME` (see each
one's text); their results go to benchmarks/results/."""
