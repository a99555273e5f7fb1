"""Axis tests.

The condition effect on every signature and axis score of a dataset, fitted under the dataset's DE
design (a mixed model with a donor intercept when donors repeat).

Rule entry point :func:`run`; :func:`~alsig.stages.axes.effects.axis_tests` is the same work on
tables in memory.
"""

from alsig.stages.axes.effects import axis_tests
from alsig.stages.axes.job import run

__all__ = ["axis_tests", "run"]
