"""A module a newcomer can read in one sitting: no Python module of the project (apps, tests,
benchmarks, scripts; migrations are generated history and left out) is over 700 lines, and
`onboarding` (the request, staff statuses, the §5.1 checklist) stays under 2,500 lines
without its migrations. A module that grows past the limit is split by topic, as
`families/services/` and `accounts/services/` are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_LIMIT = 700
ONBOARDING_LIMIT = 2_500
# Not the project's code: the virtualenv, runtime data, caches and build output.
LEFT_OUT = {".venv", "var", "build", "test-artifacts", "node_modules", "__pycache__"}


def modules(root: Path):
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if "migrations" in parts or LEFT_OUT & set(parts) or parts[0].startswith("."):
            continue
        yield path


def lines(path: Path) -> int:
    with path.open(encoding="utf-8") as file:
        return sum(1 for _ in file)


def too_long(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): count
        for path in modules(root)
        if (count := lines(path)) > MODULE_LIMIT
    }


def test_no_module_is_over_700_lines():
    assert too_long(ROOT) == {}


def test_onboarding_is_under_2500_lines_without_migrations():
    total = sum(lines(path) for path in modules(ROOT / "onboarding"))
    assert total < ONBOARDING_LIMIT, total


def test_the_count_finds_a_long_module_and_leaves_out_migrations_and_the_venv(tmp_path):
    for name in ("app/long.py", "app/migrations/0001_initial.py", ".venv/lib/site.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n" * (MODULE_LIMIT + 1), encoding="utf-8")
    (tmp_path / "app/short.py").write_text("x = 1\n" * MODULE_LIMIT, encoding="utf-8")
    assert too_long(tmp_path) == {"app/long.py": MODULE_LIMIT + 1}
    assert [p.name for p in modules(tmp_path)] == ["long.py", "short.py"]
