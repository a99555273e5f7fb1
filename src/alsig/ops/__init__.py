"""Operator tools around the workflow: the dataset registry and scheduled reprocessing."""
