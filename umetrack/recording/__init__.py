"""Recordings and the readers/writers of the public formats."""
