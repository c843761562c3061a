"""The learned hand detector that bootstraps tracked crops: network, synthetic training data, training, and
the ``Detector`` for the tracker (``umetrack.detect.bootstrap.HandDetector``)."""
