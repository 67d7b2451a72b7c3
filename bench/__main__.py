"""Run every benchmark and print two tables: ratios of our figures to baselines measured in
the same run, and our figures against fixed targets. A benchmark that fails (a baseline that
could not be measured included) is named at the end and the run exits 1.
Usage: `make bench` (PostgreSQL + Redis) or `python -m bench NAME`."""

import importlib
import os
import pkgutil
import sys
import time
import traceback

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")


def main(argv: list[str]) -> int:
    import django

    django.setup()
    import bench
    from bench.common import BaselineMissing, Row, Target, scale

    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    lines: list[Row | Target] = []
    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name.removeprefix('bench.')}")
        started = time.monotonic()
        print(f"running {module.__name__} …", flush=True)
        try:
            for line in module.run():
                lines.append(line)
                print(f"  {line.render()}", flush=True)
        except BaselineMissing as exc:
            failed.append(f"{module.__name__}: {exc}")
            print(f"  FAILED: {exc}", flush=True)
        except Exception as exc:
            first_line = (str(exc).splitlines() or [""])[0]
            failed.append(f"{module.__name__}: {type(exc).__name__}: {first_line}")
            traceback.print_exc()
        print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    rows = [line for line in lines if isinstance(line, Row)]
    targets = [line for line in lines if isinstance(line, Target)]
    print()
    print("Against baselines measured in this run (bench/README.md says what each one does):")
    print(f"{'benchmark':<52} {'ours':>14} {'baseline':>14} {'ratio':>7} {'target':>7}")
    for row in rows:
        print(row.render())
    print()
    print("Against fixed targets (numbers written in the benchmark, not measured):")
    print(f"{'benchmark':<52} {'ours':>14} {'target':>16}")
    for target in targets:
        print(target.render())
    if failed:
        print()
        print("FAILED, no figure for:")
        for line in failed:
            print(f"  {line}")
    if scale() == "ci":
        # Sizes too small to mean anything: the run checks that every benchmark still
        # measures, so only a benchmark that raised fails it.
        print("\nBENCH_SCALE=ci: figures at CI sizes, targets not enforced")
        return 0 if not failed else 1
    return 0 if not failed and all(line.ok for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
