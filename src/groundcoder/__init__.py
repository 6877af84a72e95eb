"""groundcoder: grounded-theory coding of Chinese firm documents at scale."""

__version__ = "0.1.0"
