# Per-sample resistance-signature scores (issue 6): singscore / ssGSEA / composition-adjusted
# singscore of resources/signatures (+ score.extra_signatures) on the QC'd variance-stabilised
# expression, and the catalog of every dataset of the run. Targets for `rule all`:
# score_targets(dataset) for each dataset, and CATALOG_MANIFEST once.
from alsig.scoring import with_defaults as score_with_defaults

CATALOG_DIR = "results/catalog/signature_scores.parquet"
CATALOG_MANIFEST = "results/catalog/signature_scores.manifest.tsv"
SIGNATURE_TABLE = str(
    Path(workflow.basedir) / "resources/signatures/alsig_signatures.tsv"
)


def score_settings(dataset):
    try:
        return score_with_defaults(stage_settings(dataset, "score"))
    except AlsigError as error:
        sys.exit(f"alsig config error (dataset {dataset}): {error}")


def score_signature_files(dataset):
    """The signature files a dataset is scored with (inputs, so editing one reruns scoring)."""
    settings = score_settings(dataset)
    files = [] if settings["replace_signatures"] else [SIGNATURE_TABLE]
    for entry in settings["extra_signatures"]:
        files.append(entry["path"] if isinstance(entry, dict) else entry)
    return files


def score_targets(dataset):
    folder = f"results/{dataset}/scores"
    return [
        f"{folder}/signature_scores.parquet",
        f"{folder}/signature_scores_wide.tsv",
        f"{folder}/signature_coverage.tsv",
        f"{folder}/scores.h5ad",
    ]


rule score:
    input:
        h5ad="results/{dataset}/qc/filtered.h5ad",
        signatures=lambda wc: score_signature_files(wc.dataset),
    output:
        long="results/{dataset}/scores/signature_scores.parquet",
        wide=report(
            "results/{dataset}/scores/signature_scores_wide.tsv",
            caption="../report/score_wide.rst",
            category="Signature scores",
            labels={"dataset": "{dataset}", "table": "scores (wide)"},
        ),
        coverage=report(
            "results/{dataset}/scores/signature_coverage.tsv",
            caption="../report/score_coverage.rst",
            category="Signature scores",
            labels={"dataset": "{dataset}", "table": "coverage"},
        ),
        h5ad="results/{dataset}/scores/scores.h5ad",
    log:
        "results/{dataset}/logs/score.log",
    benchmark:
        "results/{dataset}/benchmarks/score.tsv"
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        # the h5ad is gzip-compressed; scoring holds the matrix, one float64 chunk and the output
        mem_mb=mem_mb_for_inputs(12, floor_mb=2000),
        runtime=30,
    params:
        settings=lambda wc: score_settings(wc.dataset),
    script:
        "../../scripts/score.py"


rule catalog:
    input:
        tables=expand(
            "results/{dataset}/scores/signature_scores.parquet", dataset=DATASETS
        ),
    output:
        # The partitioned catalog folder is written as a side effect (each partition replaced
        # atomically); declaring it as output would let Snakemake delete it before the job.
        manifest=CATALOG_MANIFEST,
    log:
        "results/catalog/logs/catalog.log",
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb_for_inputs(20, floor_mb=1000),
        runtime=10,
    params:
        catalog=CATALOG_DIR,
    script:
        "../../scripts/catalog.py"
