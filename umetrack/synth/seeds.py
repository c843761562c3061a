"""Which synthetic-world seeds each use owns, so no model is ever evaluated on what it trained on.

A seed fixes a whole ``generate_sequence`` recording (subject, motion, head path), whatever its
length, so a training set that merely *contains* an evaluation seed has seen the evaluation motion.

* ``EVALUATION_RECORDING_SEEDS``: the held-out recordings of the README's accuracy tables
  (``umetrack synth --seed S --frames 500``, 4 views, 2 hands).
* ``VALIDATION_RECORDING_SEEDS``: recordings for choosing settings (the tracker's drift check, ...)
  before they are reported on the evaluation set, so that set is never tuned on (block 3).
* ``DETECTOR_TRAINING_SEED_START``: the hand detector's training sequences, ``start + 1000 k + i``
  (block 2: its backgrounds are environment block 2).
* ``DETECTOR_HELD_OUT_SEED_START``: the detector benchmark's held-out sequences (block 9).
* The network's training data (``umetrack.train.synthetic_data``) derives 32-bit sequence seeds
  from ``SeedSequence([run seed, index])``; the chance that one equals a seed above is ~1e-9 per draw.
"""

from __future__ import annotations

SEED_BLOCK = 100_000
EVALUATION_RECORDING_SEEDS = (100_001, 100_002, 100_003, 100_004)
VALIDATION_RECORDING_SEEDS = tuple(range(300_001, 300_009))
DETECTOR_TRAINING_SEED_START = 2 * SEED_BLOCK
DETECTOR_HELD_OUT_SEED_START = 9 * SEED_BLOCK
