"""Built-in themes as data files (TOML), loaded by the TUI."""
