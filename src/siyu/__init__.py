"""siyu (私域): own your customer relationships.

``import siyu; s = siyu.open()`` gives the Python API (see :mod:`siyu.client`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siyu.client import Siyu, open

__all__ = ["Siyu", "open"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The client imports every capability (NumPy, SciPy, DuckDB, …: seconds); importing a
    # submodule such as ``siyu.cli.main`` must not pay for it, so it loads on first use.
    if name in __all__:
        from siyu import client

        return getattr(client, name)
    raise AttributeError(f"module 'siyu' has no attribute {name!r}")
