"""No app holds more than a third or so of the product: each stays small enough for a
newcomer to walk (docs/architecture.md, "Apps and layers")."""

from django.conf import settings

from tests.processes import ROOT

LIMIT = 0.35


def _product_lines() -> dict[str, int]:
    """Lines of Python outside migrations, per project app (INSTALLED_APPS) and config."""
    apps = [a for a in settings.INSTALLED_APPS if (ROOT / a / "apps.py").is_file()]
    return {
        app: sum(
            len(path.read_text().splitlines())
            for path in (ROOT / app).rglob("*.py")
            if "migrations" not in path.relative_to(ROOT).parts
        )
        for app in [*apps, "config"]
    }


def test_no_app_holds_more_than_35_percent_of_the_product_lines():
    lines = _product_lines()
    total = sum(lines.values())
    table = "\n".join(
        f"{app:<12}{n:>7}{n / total:>8.1%}" for app, n in sorted(lines.items(), key=lambda x: -x[1])
    )
    print(f"product lines per app\n{table}\n{'total':<12}{total:>7}")
    too_big = [app for app, n in lines.items() if n > LIMIT * total]
    assert not too_big, f"over {LIMIT:.0%} of the product lines: {too_big}\n{table}"
