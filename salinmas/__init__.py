"""Salinmas: the command line and the settings machinery every process shares."""

__version__ = "0.1.0"
