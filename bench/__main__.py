"""Run every benchmark and print one table: our figure, the baseline measured in the same
run, and the ratio. Usage: `make bench` (PostgreSQL + Redis) or `python -m bench NAME`."""

import importlib
import os
import pkgutil
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")


def main(argv: list[str]) -> int:
    import django

    django.setup()
    import bench

    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    rows = []
    for name in names:
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        started = time.monotonic()
        print(f"running {module.__name__} …", flush=True)
        for row in module.run():
            rows.append(row)
            print(f"  {row.render()}", flush=True)
        print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    print()
    print(f"{'benchmark':<44} {'ours':>14} {'baseline':>14} {'ratio':>7} {'target':>7}")
    for row in rows:
        print(row.render())
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
