"""Presenters: the finding catalogue (every language) and the output formats built on it."""
