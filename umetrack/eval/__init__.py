"""Evaluation: the sharded eval runner and baselines."""
