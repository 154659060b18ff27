"""The Textual app: swarm, inbox and workflow panes."""
