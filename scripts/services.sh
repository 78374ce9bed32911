#!/usr/bin/env bash
# Make sure the services the tests talk to answer on 127.0.0.1: Redis (6379) and PostgreSQL (5432).
# Starts them with the machine's own packages if they are down; fails loudly if they cannot be started.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! answers 6379; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! answers 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
for _ in $(seq 1 30); do
  if answers 6379 && answers 5432; then
    exit 0
  fi
  sleep 1
done
echo "Redis or PostgreSQL does not answer on 127.0.0.1" >&2
exit 1
