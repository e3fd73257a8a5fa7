"""Named extension points: a lower layer declares a hook, a higher one connects to it.

The inbox declares what campaigns may listen to (inbox/hooks.py) and campaigns connects in
its AppConfig.ready(), so no import ever runs upward. Listeners run in the caller's
transaction, in the order they connected.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    def __init__(self, name: str, doc: str = ""):
        self.name, self.__doc__ = name, doc
        self._listeners: list[Callable[..., Any]] = []

    def connect(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def call(self, **kwargs) -> list[Any]:
        """Every listener's answer, in connection order (keyword arguments only)."""
        return [listener(**kwargs) for listener in self._listeners]

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, listeners={len(self._listeners)})"
