"""Salinmas edge: the agent that runs on a scale station's or a bin's Raspberry Pi."""

__version__ = "0.1.0"
