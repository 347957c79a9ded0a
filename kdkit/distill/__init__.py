"""Distillation losses, one method per module, each with its formula and paper on top."""
