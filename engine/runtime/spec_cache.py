"""Parsed specs per process-definition version, parsed once per process and kept (LRU)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import Any

from engine.runtime.parser import loads_sources, parse_bundle

MAX_VERSIONS = 256


class SpecCache:
    def __init__(self, size: int = MAX_VERSIONS) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str], tuple[Any, dict[str, Any]]] = OrderedDict()
        self._lock = Lock()
        self.parses = 0

    def get(
        self, version: tuple[int, str], key: str, load_sources: Callable[[], list[dict[str, str]]]
    ) -> tuple[Any, dict[str, Any]]:
        """(spec, subprocess specs) of one immutable version, named by (definition id, sha256) so a
        reused id in another database never hits; sources are loaded and parsed on a miss only."""
        with self._lock:
            if version in self._items:
                self._items.move_to_end(version)
                return self._items[version]
        specs = parse_bundle(loads_sources(load_sources())).spec_and_subprocesses(key)
        with self._lock:
            self.parses += 1
            self._items[version] = specs
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return specs

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


spec_cache = SpecCache()
