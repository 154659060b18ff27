"""swarmdeck: a terminal command center for swarms of AI agents."""

__version__ = "0.1.0"
