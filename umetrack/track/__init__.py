"""Tracking: the streaming tracker, hand-scale calibration."""
