"""What ``alsig check-config`` found: problems (the run would stop) and notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Findings:
    """What the pre-flight found.

    Attributes
    ----------
    problems
        Each would stop the run (exit code 2).
    notes
        What the run will say in its logs and carry on.
    n_datasets
        Datasets in the config.
    """

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_datasets: int = 0

    def problem(self, text: str) -> None:
        """Add a problem (once).

        Parameters
        ----------
        text
            One line.
        """
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        """Add a note (once).

        Parameters
        ----------
        text
            One line.
        """
        if text not in self.notes:
            self.notes.append(text)
