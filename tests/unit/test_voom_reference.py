"""alsig.voom against R on committed fixtures (no R needed): limma 3.54 voom, lmFit, eBayes and
duplicateCorrelation, and lme4 + lmerTest per gene (scripts/build_voom_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import uses_voom_kernels
from tests.unit import voom_reference as checks

pytestmark = uses_voom_kernels

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "voom"


@pytest.fixture(scope="module")
def ref() -> checks.Reference:
    return checks.Reference(FIXTURES)


def test_median_ratio_size_factors_equal_deseq2(ref):
    checks.check_size_factors(ref)


def test_voom_values_and_weights_equal_limma(ref):
    checks.check_voom(ref)


def test_lmfit_ebayes_and_f_equal_limma(ref):
    checks.check_lm_ebayes(ref)


def test_duplicate_correlation_and_gls_agree_with_limma(ref):
    checks.check_dupcor(ref)


def test_mixed_model_and_satterthwaite_agree_with_lmertest(ref):
    checks.check_mixed(ref)
