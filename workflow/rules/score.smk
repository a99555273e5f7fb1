# Per-sample signature scores (alsig.stages.score): singscore / ssGSEA / composition-adjusted
# singscore of the shipped and user signatures on the QC'd VST, TE signatures as log2 CPM,
# z scores against each sample's reference stratum of controls, and the score overview figures.
# Settings: the score: section. Targets: alsig.planning.dataset_targets.


rule score:
    input:
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        signatures=lambda wc: planning.signature_files(SETTINGS[wc.dataset].score),
    output:
        long=out("{dataset}/scores/signature_scores.parquet"),
        wide=report(
            out("{dataset}/scores/signature_scores_wide.tsv"),
            caption="../report/score_wide.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "scores (wide)"},
        ),
        coverage=report(
            out("{dataset}/scores/signature_coverage.tsv"),
            caption="../report/score_coverage.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "coverage"},
        ),
        references=report(
            out("{dataset}/scores/reference_strata.tsv"),
            caption="../report/score_references.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "control reference strata"},
        ),
        composition=report(
            out("{dataset}/scores/composition.tsv"),
            caption="../report/score_composition.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "composition share"},
        ),
        # QC's cell indices recomputed without each signature's genes (alsig.cellmix): the
        # regressors of singscore_adjusted and composition.tsv, and the axis tests' cell_mix rows
        cell_indices=out("{dataset}/scores/cell_indices_by_signature.parquet"),
        h5ad=out("{dataset}/scores/scores.h5ad"),
    log:
        out("{dataset}/logs/score.log"),
    benchmark:
        out("{dataset}/benchmarks/score.tsv")
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        # scoring holds the VST matrix, one float64 chunk and the output; measured 3.9 x the
        # (compressed) QC h5ad at 2000 x 60k (606 MB -> 2.4 GB)
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5
        ),
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        settings=lambda wc: stage_params(wc.dataset, "score"),
        dataset=lambda wc: wc.dataset,
        # sha256 of the shipped ALS-Ox markers and TE signatures (the signature table is an input)
        shipped=lambda wc: alsig_resources.hidden_inputs_digest("score"),
    script:
        "../scripts/score.py"


rule score_figures:
    input:
        scores=out("{dataset}/scores/signature_scores.parquet"),
        # only its obs is read: the region / sex / batch tracks of the heatmap
        obs=out("{dataset}/scores/scores.h5ad"),
    output:
        heatmap=report(
            out("{dataset}/scores/axis_heatmap.png"),
            caption="../report/score_heatmap.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "figure": "axis heatmap"},
        ),
        distributions=report(
            out("{dataset}/scores/axis_distributions.png"),
            caption="../report/score_distributions.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "figure": "axes by condition"},
        ),
    log:
        out("{dataset}/logs/score_figures.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: planning.job_mem_mb(1000, attempt),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/score_figures.py"
