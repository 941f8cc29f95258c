"""Readers: what a file is, and the document(s) it holds (one module per format).

``read_document`` (in ``dispatch``) is the one entry point; see its module docstring.
"""

from .dispatch import read_document

__all__ = ["read_document"]
