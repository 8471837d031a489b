"""Overnight: a desktop queue manager for headless Claude Code sessions."""

__version__ = "0.1.0"
