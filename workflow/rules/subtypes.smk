# Subtypes (alsig.stages.subtypes): each sample projected onto the published ALS subtypes of Tam et
# al. 2019 by the frozen reference model (resources/subtypes), the donor view and the controls'
# calls beside the ALS shares; the label-free Ox-/Glia-/TE-like states and their cell mix; what
# each called subtype carries vs the controls (DE, enrichment, axis tests: descriptive, the model's
# own genes flagged); and, with subtypes.discovery, the cohort's own consensus NMF.
# Settings: the subtypes: section (and de:/enrich: for the per-subtype contrasts).


wildcard_constraints:
    subtype="|".join(planning.SUBTYPE_CONTRASTS),


rule subtypes:
    input:
        scores=out("{dataset}/scores/signature_scores.parquet"),
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        # uncollapsed libraries: a collapsed donor of reference libraries gets their outer-fold calls
        counts=out("{dataset}/counts.h5ad"),
    output:
        parquet=out("{dataset}/subtypes/subtypes.parquet"),
        tsv=report(
            out("{dataset}/subtypes/subtypes.tsv"),
            caption="../report/subtypes_table.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "table": "subtype per sample"},
        ),
        donors=report(
            out("{dataset}/subtypes/donors.tsv"),
            caption="../report/subtypes_donors.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "table": "subtype per donor"},
        ),
        shares=report(
            out("{dataset}/subtypes/shares.tsv"),
            caption="../report/subtypes_shares.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "table": "calls by condition"},
        ),
        cellmix=report(
            out("{dataset}/subtypes/state_cellmix.tsv"),
            caption="../report/subtypes_cellmix.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "table": "cell mix of the states"},
        ),
        projection=report(
            out("{dataset}/subtypes/projection.png"),
            caption="../report/subtypes_projection.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "figure": "projection"},
        ),
        states=report(
            out("{dataset}/subtypes/states.png"),
            caption="../report/subtypes_states.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "figure": "label-free states"},
        ),
    log:
        out("{dataset}/logs/subtypes.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes.tsv")
    priority: PRIORITY_LONG
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5
        ),
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        settings=lambda wc: stage_params(wc.dataset, "subtypes"),
        dataset=lambda wc: wc.dataset,
        # the shipped models' sha256: a new model version (an alsig upgrade) reruns the projection
        shipped=lambda wc: alsig_resources.hidden_inputs_digest("subtypes"),
    script:
        "../scripts/subtypes.py"


rule subtypes_discovery:
    input:
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        subtypes=out("{dataset}/subtypes/subtypes.parquet"),
    output:
        tsv=out("{dataset}/subtypes/nmf.tsv"),
        consensus=report(
            out("{dataset}/subtypes/nmf_consensus.png"),
            caption="../report/subtypes_consensus.rst",
            category="{dataset}",
            subcategory="Subtypes",
            labels={"dataset": "{dataset}", "figure": "NMF consensus"},
        ),
    log:
        out("{dataset}/logs/subtypes_discovery.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes_discovery.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5
        ),
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        settings=lambda wc: stage_params(wc.dataset, "subtypes"),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/subtypes_discovery.py"


rule subtypes_de:
    input:
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        subtypes=out("{dataset}/subtypes/subtypes.parquet"),
    # one fit for the three subtypes' contrasts (they share the design and the samples)
    output:
        parquet=[
            out(f"{{dataset}}/subtypes/de/{subtype}.parquet")
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
        tsv=[
            report(
                out(f"{{dataset}}/subtypes/de/{subtype}.tsv"),
                caption="../report/subtypes_de.rst",
                category="{dataset}",
                subcategory="Subtypes: what each carries",
                labels={
                    "dataset": "{dataset}",
                    "subtype": subtype,
                    "table": "DE vs controls",
                },
            )
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
        summary=[
            out(f"{{dataset}}/subtypes/de/{subtype}.summary.tsv")
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
    log:
        out("{dataset}/logs/subtypes/de.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes/de.tsv")
    priority: PRIORITY_LONG  # the last links of a dataset's longest chain
    conda:
        "../envs/alsig.yaml"
    # as the DE job: 4 from 10 M samples x genes, else 1
    threads: matrix_threads(planning.DE_MOST_THREADS, planning.DE_PARALLEL_CELLS)
    resources:
        # one fit under the dataset's DE model (the mixed model when donors repeat)
        mem_mb=lambda wc, input, attempt: planning.de_mem_mb(
            input.h5ad, attempt, SETTINGS[wc.dataset].de
        ),
        # one fit, no permutation null (its minutes are the DE job's)
        runtime=lambda wc, input, attempt: attempt
        * planning.de_runtime_min(
            input.h5ad,
            alsig_settings.de_settings_without_null(
                SETTINGS.de_params_without_null(wc.dataset)
            ),
        ),
    params:
        # the dataset's DE design and model, with condition replaced by subtype_call (no
        # permutation null: de.null_permutations and de.seed are left out, alsig.settings)
        settings=lambda wc: SETTINGS.de_params_without_null(wc.dataset),
        subtypes=lambda wc: stage_params(wc.dataset, "subtypes"),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/subtypes_de.py"


rule subtypes_enrich:
    input:
        de=[
            out(f"{{dataset}}/subtypes/de/{subtype}.parquet")
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
        subtypes=out("{dataset}/subtypes/subtypes.parquet"),
        # camera's residuals: the samples and design of the subtypes' DE fit
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        gmt=lambda wc: list(
            planning.subtype_collection_files(
                SETTINGS[wc.dataset].enrich,
                SETTINGS[wc.dataset].subtypes.enrich_collections,
            ).values()
        ),
    # one job per dataset: every subtype x collection of subtypes.enrich_collections (small jobs
    # of ~1 s each, most of it starting Python), one table per subtype
    output:
        parquet=[
            out(f"{{dataset}}/subtypes/enrich/{subtype}.parquet")
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
        tsv=[
            report(
                out(f"{{dataset}}/subtypes/enrich/{subtype}.tsv"),
                caption="../report/subtypes_enrich.rst",
                category="{dataset}",
                subcategory="Subtypes: what each carries",
                labels={
                    "dataset": "{dataset}",
                    "subtype": subtype,
                    "table": "enrichment",
                },
            )
            for subtype in planning.SUBTYPE_CONTRASTS
        ],
    log:
        out("{dataset}/logs/subtypes/enrich.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes/enrich.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        # one collection at a time: the largest one's memory, the sum of their runtimes
        mem_mb=lambda wc, input, attempt: planning.subtype_enrich_mem_mb(
            SETTINGS[wc.dataset], attempt, input.de[0], input.h5ad
        ),
        runtime=lambda wc, input, attempt: attempt
        * planning.subtype_enrich_runtime_min(SETTINGS[wc.dataset], input.de[0]),
    params:
        settings=lambda wc: stage_params(wc.dataset, "enrich"),
        subtypes=lambda wc: stage_params(wc.dataset, "subtypes"),
        de=lambda wc: SETTINGS.de_params_without_null(wc.dataset),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/subtypes_enrich.py"


rule subtypes_axis_tests:
    input:
        scores=out("{dataset}/scores/signature_scores.parquet"),
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        subtypes=out("{dataset}/subtypes/subtypes.parquet"),
    output:
        parquet=out("{dataset}/subtypes/axis_tests.parquet"),
        tsv=report(
            out("{dataset}/subtypes/axis_tests.tsv"),
            caption="../report/subtypes_axis_tests.rst",
            category="{dataset}",
            subcategory="Subtypes: what each carries",
            labels={"dataset": "{dataset}", "table": "axis tests per subtype"},
        ),
        forest=report(
            out("{dataset}/subtypes/axis_forest.png"),
            caption="../report/subtypes_axis_tests.rst",
            category="{dataset}",
            subcategory="Subtypes: what each carries",
            labels={"dataset": "{dataset}", "figure": "axis effects per subtype"},
        ),
    log:
        out("{dataset}/logs/subtypes_axis_tests.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes_axis_tests.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=3
        ),
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        # the de: keys the axis tests read (alsig.settings.AXIS_TEST_DE_KEYS)
        settings=lambda wc: SETTINGS.params_of(
            wc.dataset, "de", alsig_settings.AXIS_TEST_DE_KEYS
        ),
        subtypes=lambda wc: stage_params(wc.dataset, "subtypes"),
        dataset=lambda wc: wc.dataset,
        # a new version of the table (an alsig upgrade) reruns the tests once
        table_version=planning.table_version("axis_tests"),
    script:
        "../scripts/subtypes_axis_tests.py"
