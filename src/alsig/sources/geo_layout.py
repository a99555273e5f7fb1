"""Where GEO keeps the files alsig downloads, and where alsig caches them.

NCBI computes raw counts for human RNA-seq series (``GSE…_raw_counts_GRCh38.p13_NCBI.tsv.gz``,
one shared gene annotation ``Human.GRCh38.p13.annot.tsv.gz``) and serves them from the GEO
download endpoint; series matrices live under ``GSEnnn/<GSE>/matrix/``: one
``<GSE>_series_matrix.txt.gz``, or, for a series with samples on several platforms (mixed
organisms, an array and an RNA-seq SubSeries), one ``<GSE>-<GPL>_series_matrix.txt.gz`` per
platform and no file without the platform. A dataset's ``platform`` (``GPLnnn``) names the one
to use. The workflow's rules, its planning and ``alsig reprocess`` all take these names from
here. Standard library only.
"""

from __future__ import annotations

ANNOTATION_FILE = "Human.GRCh38.p13.annot.tsv.gz"


def counts_file(accession: str) -> str:
    """Return the file name of the NCBI-computed raw counts of a series.

    Parameters
    ----------
    accession
        The series (``GSE124439``).

    Returns
    -------
    str
        ``<accession>_raw_counts_GRCh38.p13_NCBI.tsv.gz``.
    """
    return f"{accession}_raw_counts_GRCh38.p13_NCBI.tsv.gz"


def series_matrix_file(accession: str, platform: str = "") -> str:
    """Return the file name of a series matrix.

    Parameters
    ----------
    accession
        The series.
    platform
        For a series on several platforms, the platform whose matrix is meant (``GPL16791``);
        empty for a series on one platform.

    Returns
    -------
    str
        ``<accession>_series_matrix.txt.gz``, or ``<accession>-<platform>_series_matrix.txt.gz``.
    """
    return f"{accession}{'-' + platform if platform else ''}_series_matrix.txt.gz"


def series_matrix_url(series_base_url: str, accession: str, platform: str = "") -> str:
    """Return the URL of a series matrix.

    Parameters
    ----------
    series_base_url
        ``geo.series_base_url``.
    accession
        The series.
    platform
        As for :func:`series_matrix_file`.

    Returns
    -------
    str
        ``<base>/GSE124nnn/GSE124439/matrix/GSE124439_series_matrix.txt.gz`` (with a platform:
        ``.../GSE33356/matrix/GSE33356-GPL570_series_matrix.txt.gz``).
    """
    folder = accession[:-3] + "nnn" if len(accession) > 6 else "GSEnnn"
    name = series_matrix_file(accession, platform)
    return f"{series_base_url.rstrip('/')}/{folder}/{accession}/matrix/{name}"


def download_url(download_base_url: str, file: str, accession: str | None = None) -> str:
    """Return the URL of an NCBI-computed file.

    Parameters
    ----------
    download_base_url
        ``geo.download_base_url``.
    file
        The file name (:func:`counts_file`, or :data:`ANNOTATION_FILE`).
    accession
        The series of a counts file; None for the shared annotation.

    Returns
    -------
    str
        The download endpoint's URL of the file.
    """
    acc = f"&acc={accession}" if accession else ""
    return f"{download_base_url}?type=rnaseq_counts{acc}&format=file&file={file}"


def cache_files(cache_dir: str, accession: str, platform: str = "") -> dict[str, str]:
    """Return where the cached files a GEO dataset's ingest reads live.

    Parameters
    ----------
    cache_dir
        ``geo.cache_dir``.
    accession
        The series.
    platform
        The dataset's ``platform`` (which series matrix), as for :func:`series_matrix_file`.

    Returns
    -------
    dict of str to str
        ``counts``, ``series_matrix`` (per series) and ``annotation`` (shared) -> path.
    """
    return {
        "counts": f"{cache_dir}/{accession}/{counts_file(accession)}",
        "series_matrix": f"{cache_dir}/{accession}/{series_matrix_file(accession, platform)}",
        "annotation": f"{cache_dir}/{ANNOTATION_FILE}",
    }
