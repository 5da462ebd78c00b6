"""Events to episodes to memories: capture, segmentation and distillation."""
