#!/usr/bin/env bash
# What the test suite needs on this machine, installed and started: PostgreSQL and Redis on
# 127.0.0.1 (trust auth over TCP, user postgres), Chromium for the browser tests, and
# Python's venv module. `make test`, `make bench` and .ci/run all call this one script.
# As root on Debian it apt-installs what is missing; otherwise it prints exactly what to
# install and stops (Chromium alone is optional: without it the browser tests are skipped).
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

need=()
command -v pg_ctlcluster >/dev/null || pg_up || need+=(postgresql)
command -v redis-server >/dev/null || redis_up || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
command -v make >/dev/null || need+=(make)
optional=()
command -v chromium >/dev/null || optional+=(chromium)

missing=("${need[@]}" "${optional[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif [ ${#need[@]} -gt 0 ]; then
    echo "Missing: ${need[*]} ${optional[*]}" >&2
    echo "Install them (Debian/Ubuntu), then run this again:" >&2
    echo "  sudo apt-get install -y ${need[*]} ${optional[*]}" >&2
    exit 1
  else
    echo "chromium is not installed: the browser tests will be skipped" \
      "(sudo apt-get install -y chromium)." >&2
  fi
fi

pg_trusts() { psql -h 127.0.0.1 -U postgres -d postgres -w -tAc "select 1" >/dev/null 2>&1; }

# A fresh Debian cluster allows local trust only over the socket; the suite uses TCP. A
# server that already lets the suite in is left as it is.
if [ "$(id -u)" = 0 ] && [ -d /etc/postgresql ] && ! { pg_up && pg_trusts; }; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "dmengine-ci" "$hba"; then
    printf '%s\n' "# dmengine-ci" "host all all 127.0.0.1/32 trust" "host all all ::1/128 trust" \
      | cat - "$hba" > /tmp/pg_hba && cp /tmp/pg_hba "$hba"
    if pg_up; then pg_ctlcluster --skip-systemctl-redirect "$version" main reload; fi
  fi
fi

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL is not running on 127.0.0.1:5432 (see README, Quick start)" >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/dmengine-redis.log
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
  redis_up || { echo "Redis is not running on 127.0.0.1:6379 (see README, Quick start)" >&2; exit 1; }
fi
