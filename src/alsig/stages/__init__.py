"""The pipeline's stages, in the order data flows: ingest -> qc -> de -> enrich.

Score reads QC's output; axes fits the scores under the DE design; subtypes reads the scores;
catalog compares datasets. Stages hand data on as files and read each other's AnnData through
:mod:`alsig.keys`; a stage imports only earlier stages (docs/architecture.md).
"""
