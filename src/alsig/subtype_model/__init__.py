"""Building the shipped subtype reference models (offline; no rule runs this package).

``scripts/build_subtype_model.py`` trains the models of ``resources/subtypes/`` on the GSE124439
ALS samples and their published Tam et al. 2019 labels, and the benches judge them:

- :mod:`.reference_data`: the labelled reference (counts by Entrez id, TE counts, donors, batches);
- :mod:`.training`: the whole training procedure, every choice made in a donor-grouped inner CV;
- :mod:`.cross_validation`: nested and batch-held-out validation of that procedure (outer folds
  only), the donor bootstrap and the reported metrics;
- :mod:`.logistic`: the multinomial L2 logistic regression (scikit-learn's to the bit).

The workflow reads the models these write through :mod:`alsig.stages.subtypes.reference_model`
and projects samples with :mod:`alsig.stages.subtypes.projection`; it never imports this package.
"""
