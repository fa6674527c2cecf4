"""siyu (私域): own your customer relationships.

``import siyu; s = siyu.open()`` gives the Python API (see :mod:`siyu.client`).
"""

from siyu.client import Siyu, open

__all__ = ["Siyu", "open"]
__version__ = "0.1.0"
