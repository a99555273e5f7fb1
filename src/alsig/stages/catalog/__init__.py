"""Cross-dataset outputs of a run: the score catalog and the comparison of cohorts."""
