"""Student-teacher training and fine-tuning: data, losses, Torch7's Adam, loop, checkpoints, DDP."""
