"""Pure presentation: models in, display text out (lazygit's ``presentation`` package).

Nothing here imports Textual or touches the store, so each function is unit-tested on
plain values; the widgets and the App only place what these return.
"""
