# Per-sample molecular states (alsig.stages.subtypes): Ox-, Glia- and TE-like state scores from
# the control-referenced axis z scores, a call per sample, the donor view, and the cohort's own
# consensus NMF of the disease samples. Settings: the subtypes: section.


rule subtypes:
    input:
        scores=out("{dataset}/scores/signature_scores.parquet"),
        h5ad=out("{dataset}/qc/filtered.h5ad"),
    output:
        parquet=out("{dataset}/subtypes/subtypes.parquet"),
        tsv=report(
            out("{dataset}/subtypes/subtypes.tsv"),
            caption="../report/subtypes_table.rst",
            category="{dataset}",
            subcategory="Molecular states",
            labels={"dataset": "{dataset}", "table": "states per sample"},
        ),
        states=report(
            out("{dataset}/subtypes/states.png"),
            caption="../report/subtypes_states.rst",
            category="{dataset}",
            subcategory="Molecular states",
            labels={"dataset": "{dataset}", "figure": "states heatmap"},
        ),
        consensus=report(
            out("{dataset}/subtypes/nmf_consensus.png"),
            caption="../report/subtypes_consensus.rst",
            category="{dataset}",
            subcategory="Molecular states",
            labels={"dataset": "{dataset}", "figure": "NMF consensus"},
        ),
    log:
        out("{dataset}/logs/subtypes.log"),
    benchmark:
        out("{dataset}/benchmarks/subtypes.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5
        ),
        runtime=30,
    params:
        settings=lambda wc: stage_params(wc.dataset, "subtypes"),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/subtypes.py"
