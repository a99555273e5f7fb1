"""The pipeline's stages, in the order data flows: ingest -> qc -> de -> enrich.

Score and subtypes read QC's output; catalog compares datasets.
"""
