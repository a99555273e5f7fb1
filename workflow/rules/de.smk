# Differential expression (alsig.stages.de): one job per dataset fits each design once and writes
# every contrast of de.contrasts and every test of de.tests (one fit per design and sample set:
# contrasts read their test from it, a likelihood-ratio test fits only its reduced design). The
# model: DESeq2 (de.engine: alsig | pydeseq2), or voom + a random intercept per subject (dream)
# when subjects repeat (de.repeated_subjects). Samples QC excluded (qc_exclusion) are left out and
# counted in the DE summary. A dataset's contrasts and tests are config values, so each dataset
# gets its own rule, de_<dataset> (file names from alsig.planning.de_files).

# `report(` cannot start a line of a .smk file (it is a keyword there)
from snakemake.io import report as report_entry


def de_outputs(dataset):
    """The DE job's files (alsig.planning.de_files): each contrast's and test's table, summary
    and figures as report entries (caption by file kind), then the Parquet tables."""
    files = planning.de_files(OUTPUT_DIR, dataset, SETTINGS[dataset].de)
    captions = {
        "tsv": "table",
        "summary.tsv": "summary",
        "volcano.png": "volcano",
        "ma.png": "ma",
    }
    entries = []
    for kind in ("table", "summary", "figure"):
        for path in files[kind]:
            # contrast and test names have no dot: <name>.<kind of file>
            name, _, suffix = Path(path).name.partition(".")
            entries.append(
                report_entry(
                    path,
                    caption=f"../report/de_{captions[suffix]}.rst",
                    category=dataset,
                    subcategory="Differential expression",
                    labels={
                        "dataset": dataset,
                        "contrast or test": name,
                        "file": suffix,
                    },
                )
            )
    return [*entries, *files["other"]]


def de_resources(dataset):
    """Memory and runtime of a dataset's DE job (alsig.planning's models of the fits it makes)."""
    de = SETTINGS[dataset].de
    return {
        "mem_mb": lambda wc, input, attempt: planning.de_mem_mb(
            input.h5ad, attempt, de
        ),
        "runtime": lambda wc, input, attempt: attempt
        * planning.de_runtime_min(input.h5ad, de),
    }


for de_dataset in DATASETS:

    rule:
        name:
            f"de_{de_dataset}"
        input:
            h5ad=out(f"{de_dataset}/qc/filtered.h5ad"),
        output:
            *de_outputs(de_dataset),
            summary=report(
                out(f"{de_dataset}/de/summary.tsv"),
                caption="../report/de_summary.rst",
                category=de_dataset,
                subcategory="Differential expression",
                labels={
                    "dataset": de_dataset,
                    "contrast or test": "all",
                    "file": "summary.tsv",
                },
            ),
        log:
            out(f"{de_dataset}/logs/de/de.log"),
        benchmark:
            out(f"{de_dataset}/benchmarks/de/de.tsv")
        priority: PRIORITY_DE
        conda:
            "../envs/alsig.yaml"
        # 4 from 10 M samples x genes (planning.DE_PARALLEL_CELLS), else 1
        threads: matrix_threads(planning.DE_MOST_THREADS, planning.DE_PARALLEL_CELLS)
        resources:
            **de_resources(de_dataset),
        params:
            settings=stage_params(de_dataset, "de"),
            dataset=de_dataset,
        script:
            "../scripts/de.py"
