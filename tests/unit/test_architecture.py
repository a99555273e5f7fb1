"""The import rules of docs/architecture.md, read from the code (``ast``, nothing is imported).

A stage imports only earlier stages and the shared plumbing; the plumbing imports no stage;
the planning and the report import no stage; nothing imports the applications; there are no
import circles. Layers and stage order are written out below exactly as the document states them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

SRC = REPO / "src"

#: The pipeline's stages and the stages each may import (everything earlier in the data flow).
EARLIER = {
    "ingest": set(),
    "qc": {"ingest"},
    "de": {"ingest", "qc"},
    "enrich": {"ingest", "qc", "de"},
    "score": {"ingest", "qc"},
    "axes": {"ingest", "qc", "de", "score"},
    "subtypes": {"ingest", "qc", "de", "enrich", "score", "axes"},
    "catalog": {"ingest", "qc", "de", "score", "axes"},
}
#: Shared plumbing: below every stage, imports no stage and no application.
PLUMBING = {
    "alsig",  # the package itself: __version__, AlsigError
    "blocks",
    "cellmix",
    "counts",
    "deseq",
    "deseq2",
    "distributions",
    "errors",
    "genes",
    "genesets",
    "gsea",
    "io",
    "keys",
    "lazy",
    "linalg",
    "palette",
    "plotting",
    "resources",
    "settings",
    "signatures",
    "sources",
    "tables",
    "toy",
    "validation",
    "version",
    "voom",
}
#: Above the stages: the workflow's plan and glue, the report (reads stage outputs as files).
WORKFLOW = {"planning", "runner", "report", "snakemake_startup"}
#: The applications on top: nothing but the command line imports them.
APPLICATIONS = {"ops", "newsamples", "preflight", "cli", "subtype_model"}
#: Plumbing that imports nothing else of alsig (leaves others build on).
LEAVES = {
    "blocks",
    "distributions",
    "errors",
    "keys",
    "gsea",
    "lazy",
    "linalg",
    "palette",
    "version",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "alsig").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (no runtime tie)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    lines.add(child.lineno)
    return lines


def _function_lines(tree: ast.Module) -> set[int]:
    """Lines of the imports inside functions (they run when the function is called)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    lines.add(child.lineno)
    return lines


def imports_of(module: str, *, runtime_only: bool = False, at_start: bool = False) -> Iterator[str]:
    """The alsig modules ``module`` imports (``from pkg import submodule`` counts as the
    submodule), function-local imports included unless ``at_start`` (only what importing the
    module runs)."""
    tree = ast.parse(MODULES[module].read_text())
    skip = _type_checking_lines(tree) if runtime_only or at_start else set()
    if at_start:
        skip |= _function_lines(tree)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "alsig":
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.split(".")[0] != "alsig":
                continue
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def component(module: str) -> str:
    """``stage:<name>`` for a stage's modules, else the top-level name under ``alsig``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "alsig"
    if parts[1] == "stages":
        return f"stage:{parts[2]}" if len(parts) > 2 else "stages"
    return parts[1]


def component_edges() -> dict[tuple[str, str], list[str]]:
    """``(importer, imported) -> [module -> module, ...]`` between different components."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module in MODULES:
        for target in imports_of(module):
            a, b = component(module), component(target)
            if a != b and b != "stages":
                edges.setdefault((a, b), []).append(f"{module} -> {target}")
    return edges


EDGES = component_edges()


def test_every_component_is_placed():
    placed = {f"stage:{s}" for s in EARLIER} | PLUMBING | WORKFLOW | APPLICATIONS | {"stages"}
    assert {component(m) for m in MODULES} <= placed


@pytest.mark.parametrize("stage", sorted(EARLIER))
def test_a_stage_imports_only_earlier_stages_and_the_plumbing(stage):
    allowed = {f"stage:{s}" for s in EARLIER[stage]} | PLUMBING
    wrong = {
        b: ties for (a, b), ties in EDGES.items() if a == f"stage:{stage}" and b not in allowed
    }
    assert not wrong, wrong


@pytest.mark.parametrize("part", sorted(PLUMBING | {"planning", "report"}))
def test_plumbing_planning_and_report_import_no_stage(part):
    wrong = {b: t for (a, b), t in EDGES.items() if a == part and b.startswith("stage:")}
    assert not wrong, wrong


@pytest.mark.parametrize("part", sorted(PLUMBING))
def test_plumbing_imports_no_workflow_part_or_application(part):
    wrong = {b: t for (a, b), t in EDGES.items() if a == part and b in WORKFLOW | APPLICATIONS}
    assert not wrong, wrong


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_nothing_else_of_alsig(leaf):
    wrong = {b: t for (a, b), t in EDGES.items() if a == leaf}
    assert not wrong, wrong


def test_only_the_command_line_imports_the_applications():
    wrong = {(a, b): t for (a, b), t in EDGES.items() if b in APPLICATIONS and a != "cli"}
    assert not wrong, wrong


def test_no_import_circles():
    """Strongly connected modules (runtime imports; ``TYPE_CHECKING`` imports make no tie)."""
    graph = {m: set(imports_of(m, runtime_only=True)) & set(MODULES) - {m} for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            # a package and the submodules its __init__ imports form no circle unless a
            # submodule imports back through the package's own __init__
            if len(members) > 1:
                circles.append(sorted(members))

    for module in graph:
        if module not in index:
            visit(module)
    assert not circles, circles


def test_the_import_rules_are_the_documents():
    """docs/architecture.md states the same stage order and layers."""
    text = (REPO / "docs" / "architecture.md").read_text()
    for stage in EARLIER:
        assert f"`alsig.stages.{stage}`" in text, stage
    for part in PLUMBING - {"alsig"} | WORKFLOW | APPLICATIONS:
        assert f"`alsig.{part}`" in text, part


#: what the per-subtype DE, enrichment and axis tests run, and the projection does not
SUBTYPE_CARRY_ENGINES = (
    "alsig.stages.de",
    "alsig.stages.axes",
    "alsig.voom",
    "alsig.deseq2",
    "alsig.gsea",
)


@pytest.mark.parametrize(
    "entry,engines",
    [
        ("alsig.stages.score.figures_job", ("alsig.stages.score.scoring", "alsig.cellmix")),
        ("alsig.stages.enrich.report_job", ("alsig.gsea", "alsig.stages.enrich.contrast")),
        (
            "alsig.stages.subtypes.enrich_job",
            ("alsig.stages.de", "alsig.stages.axes", "alsig.voom", "alsig.deseq2"),
        ),
        ("alsig.stages.subtypes.job", SUBTYPE_CARRY_ENGINES),
        ("alsig.stages.subtypes.discovery_job", SUBTYPE_CARRY_ENGINES),
    ],
)
def test_short_jobs_do_not_import_the_engines_they_do_not_run(entry, engines):
    """score_figures, enrich_report, subtypes, subtypes_discovery and subtypes_enrich start in
    a fraction of their stage's import time (what importing the entry module loads; a function
    that fits a mixed model may import the kernels when it is called)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen or module not in MODULES:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]  # its packages' inits run too
        todo += list(imports_of(module, at_start=True))
    loaded = sorted(m for m in seen for e in engines if m == e or m.startswith(f"{e}."))
    assert not loaded, loaded


#: modules allowed to import scipy.stats (QC also loads it through scanpy and scikit-learn)
SCIPY_STATS_ALLOWED = {"alsig.stages.qc.covariates"}


def test_jobs_take_distributions_from_alsig_distributions_not_scipy_stats():
    """Importing scipy.stats costs every job 0.35 s: alsig.distributions has what they call."""
    importers = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{alias.name}" for alias in node.names]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
            if any(n == "scipy.stats" or n.startswith("scipy.stats.") for n in names):
                importers.append(module)
    assert set(importers) <= SCIPY_STATS_ALLOWED, sorted(set(importers) - SCIPY_STATS_ALLOWED)
