# -*- coding: utf-8 -*-
"""Make the checkout importable as ``ansible_collections.istiolab.mesh`` for unit tests."""

from __future__ import annotations

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
