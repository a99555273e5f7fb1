"""What a ``snakemake --report`` HTML page is made of: its size by kind of embedded result.

Usage: ``python bench/report_size.py REPORT.html [LABEL]`` prints a Markdown table row set: the
page's total size, the page code (Snakemake's template), and the embedded results grouped by kind
(browse pages, TSV tables, PNG figures) with the largest entries. Used for
``bench/results/report_size.md``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def breakdown(report: Path) -> tuple[int, dict[str, int], list[tuple[int, str]]]:
    page = report.read_text(encoding="utf-8", errors="replace")
    block = re.search(r'<script[^>]*id="results"[^>]*>\s*var results = (\{.*)', page, flags=re.S)
    if block is None:
        sys.exit(f"{report}: no embedded results (is it a snakemake --report HTML page?)")
    results, _ = json.JSONDecoder().raw_decode(block.group(1))
    sizes = sorted(((len(json.dumps(r)), path) for path, r in results.items()), reverse=True)
    kinds: dict[str, int] = {}
    for size, path in sizes:
        kind = "browse pages (html)" if path.endswith(".html") else path.rsplit(".", 1)[-1]
        kinds[kind] = kinds.get(kind, 0) + size
    kinds["page code (template)"] = len(page) - sum(kinds.values())
    return len(page), kinds, sizes


def main() -> None:
    report = Path(sys.argv[1])
    label = sys.argv[2] if len(sys.argv) > 2 else report.name
    total, kinds, sizes = breakdown(report)
    print(f"### {label}: {total / 1e6:.2f} MB ({len(sizes)} results)\n")
    print("| part | MB |\n|---|---|")
    for kind, size in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {size / 1e6:.2f} |")
    print("\nLargest results:\n\n| MB | file |\n|---|---|")
    for size, path in sizes[:8]:
        print(f"| {size / 1e6:.2f} | `{path}` |")


if __name__ == "__main__":
    main()
