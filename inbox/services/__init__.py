"""The inbox write path: the only code that changes inbox state and emits its events."""
