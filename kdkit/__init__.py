"""kdkit: a research workbench for knowledge distillation studies.

Notebooks in ``notebooks/`` call this package; ``kdkit run`` executes them into ``reports/``.
"""

__version__ = "0.1.0"
