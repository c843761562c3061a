"""Human annotation of recordings: pinch intervals per hand, their files, and review against predictions."""
