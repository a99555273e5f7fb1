# Downloads retry inside alsig.sources.download.fetch (geo.retries, with backoff); no rule-level
# retries on top, which would multiply the requests to NCBI.
localrules:
    download_geo_annotation,
    download_geo_counts,
    download_geo_series_matrix,
    download_geo_platform_series_matrix,


rule download_geo_annotation:
    output:
        f"{GEO_CACHE}/Human.GRCh38.p13.annot.tsv.gz",
    log:
        out("logs/download_geo_annotation.log"),
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        settings=GEO,
        urls=[
            geo_layout.download_url(
                GEO["download_base_url"], geo_layout.ANNOTATION_FILE
            )
        ],
        # the outputs are unnamed, so the job gets them as a list
        files=lambda wc, output: list(output),
    script:
        "../scripts/download_geo.py"


rule download_geo_counts:
    output:
        f"{GEO_CACHE}/{{accession}}/{{accession}}_raw_counts_GRCh38.p13_NCBI.tsv.gz",
    log:
        out("logs/download_geo_counts/{accession}.log"),
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        settings=GEO,
        urls=lambda wc: [
            geo_layout.download_url(
                GEO["download_base_url"],
                geo_layout.counts_file(wc.accession),
                wc.accession,
            )
        ],
        # the outputs are unnamed, so the job gets them as a list
        files=lambda wc, output: list(output),
    script:
        "../scripts/download_geo.py"


rule download_geo_series_matrix:
    output:
        f"{GEO_CACHE}/{{accession}}/{{accession}}_series_matrix.txt.gz",
    log:
        out("logs/download_geo_series_matrix/{accession}.log"),
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        settings=GEO,
        urls=lambda wc: [
            geo_layout.series_matrix_url(GEO["series_base_url"], wc.accession)
        ],
        # the outputs are unnamed, so the job gets them as a list
        files=lambda wc, output: list(output),
    script:
        "../scripts/download_geo.py"


# A series with samples on several platforms: GEO writes one matrix per platform (datasets.<id>.platform)
rule download_geo_platform_series_matrix:
    output:
        f"{GEO_CACHE}/{{accession}}/{{accession}}-{{platform}}_series_matrix.txt.gz",
    log:
        out("logs/download_geo_series_matrix/{accession}-{platform}.log"),
    wildcard_constraints:
        platform=r"GPL\d+",
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        settings=GEO,
        urls=lambda wc: [
            geo_layout.series_matrix_url(
                GEO["series_base_url"], wc.accession, wc.platform
            )
        ],
        # the outputs are unnamed, so the job gets them as a list
        files=lambda wc, output: list(output),
    script:
        "../scripts/download_geo.py"


rule ingest:
    input:
        unpack(lambda wc: planning.ingest_inputs(config, wc.dataset)),
    output:
        h5ad=out("{dataset}/counts.h5ad"),
    log:
        out("{dataset}/logs/ingest.log"),
    benchmark:
        out("{dataset}/benchmarks/ingest.tsv")
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        # measured: 73 x a gzipped TSV (GSE124439: 6 MB -> 440 MB), 4.3 x an h5ad (483 MB -> 2.1 GB)
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5, gzip_factor=80
        ),
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        settings=lambda wc: SETTINGS.source_params(wc.dataset),
        dataset=lambda wc: wc.dataset,
        # sha256 of the shipped gene-identifier map: an upgrade with another map reruns ingest
        shipped=lambda wc: alsig_resources.hidden_inputs_digest("ingest"),
    script:
        "../scripts/ingest.py"
