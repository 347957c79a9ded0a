"""Your own KD methods, importable by path from a study's params (see kdkit.methods)."""
