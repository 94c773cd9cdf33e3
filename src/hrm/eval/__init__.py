"""Evaluation: metrics, adaptive halting, task-specific scoring (maze paths, ARC voting)."""
