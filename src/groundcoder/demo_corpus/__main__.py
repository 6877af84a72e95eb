"""``python -m groundcoder.demo_corpus check FILES`` and ``... build``: tools for the corpus's authors."""

from __future__ import annotations

import sys
from pathlib import Path

from ..paths import demo_corpus_dir


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"check", "build", "panel"}:
        print("usage: python -m groundcoder.demo_corpus check FILE... | build | panel", file=sys.stderr)
        return 2
    authoring = demo_corpus_dir() / "authoring"
    if argv[0] == "panel":
        from .panel import generate_panel

        print(generate_panel(demo_corpus_dir() / "panel", demo_corpus_dir() / "firms.csv"))
        return 0
    if argv[0] == "build":
        from .build import build_corpus

        summary = build_corpus(authoring, demo_corpus_dir())
        print(summary)
        return 0
    from .checks import check_paths

    files = argv[1:] or sorted(str(p) for p in authoring.glob("D*.txt"))
    report = check_paths(files, authoring)
    for problem in report.problems:
        print(problem)
    print(f"\n{len(files)} file(s), {report.n_documents} documents, {report.n_chars} characters, "
          f"{report.n_quotes} quotes, {len(report.concept_counts)} concepts used")
    print("per-concept counts: " + ", ".join(f"{c}={n}" for c, n in sorted(report.concept_counts.items(), key=lambda x: -x[1])))
    print("OK" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
