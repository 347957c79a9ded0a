"""Data loaders and generators. Every loader raises :class:`DataError` with one clear sentence."""


class DataError(ValueError):
    """Missing or malformed data: the message names what is wrong and what is allowed."""
