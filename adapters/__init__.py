"""Adapters: pull events from agent systems into the store, carry decisions back.

Nothing here imports Textual.
"""
