# Axis tests (alsig.stages.axes): the condition effect on every signature and axis score under
# the dataset's DE design (score ~ sex + region + condition; a mixed model with a donor intercept
# when donors repeat), per DE contrast, twice: adjustment none and cell_mix (the cell-type marker
# indices as covariates, with the share of the effect they account for). Settings: the de:
# section (design, contrasts).


rule axis_tests:
    input:
        scores=out("{dataset}/scores/signature_scores.parquet"),
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        # the cell indices without each signature's genes: the cell_mix rows' covariates
        cell_indices=out("{dataset}/scores/cell_indices_by_signature.parquet"),
    output:
        parquet=out("{dataset}/scores/axis_tests.parquet"),
        tsv=report(
            out("{dataset}/scores/axis_tests.tsv"),
            caption="../report/axis_tests_table.rst",
            category="{dataset}",
            subcategory="Axis tests",
            labels={"dataset": "{dataset}", "table": "axis tests"},
        ),
        forest=report(
            out("{dataset}/scores/axis_forest.png"),
            caption="../report/axis_forest.rst",
            category="{dataset}",
            subcategory="Axis tests",
            labels={"dataset": "{dataset}", "figure": "forest plot"},
        ),
    log:
        out("{dataset}/logs/axis_tests.log"),
    benchmark:
        out("{dataset}/benchmarks/axis_tests.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=3
        ),
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        # the DE design and contrasts: each score is fitted as DE fits a gene (only the keys
        # read, so a changed de.alpha or de.engine reruns the DE, not the axis tests)
        settings=lambda wc: SETTINGS.params_of(
            wc.dataset, "de", alsig_settings.AXIS_TEST_DE_KEYS
        ),
        dataset=lambda wc: wc.dataset,
        # a new version of the table (an alsig upgrade) reruns the tests once
        table_version=planning.table_version("axis_tests"),
    script:
        "../scripts/axis_tests.py"
