"""pydeseq2 plumbing shared by QC (VST) and DE: a warning-safe import and worker cleanup.

pydeseq2 silences ``FutureWarning`` process-wide when imported and leaves joblib (loky) worker
processes behind; both would leak into the rest of a job.
"""

from __future__ import annotations

import logging
import warnings

log = logging.getLogger(__name__)


def pydeseq2():
    """Return pydeseq2's ``(DeseqDataSet, DeseqStats, DefaultInference)``.

    Imported inside ``catch_warnings``, so that pydeseq2's import does not change the process's
    warning filters.
    """
    with warnings.catch_warnings():
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats
    return DeseqDataSet, DeseqStats, DefaultInference


def shutdown_workers() -> None:
    """Stop the joblib (loky) worker processes pydeseq2 leaves behind."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort cleanup
        log.debug("could not shut down joblib workers", exc_info=True)
