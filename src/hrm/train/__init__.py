"""Training: optimizers, schedule, EMA, checkpoints, the loop, distributed setup."""
