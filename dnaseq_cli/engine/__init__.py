"""Training: batches, the training loop, runs and their folders (``run.py``), data-parallel
training, augmentation, losses and schedules."""
