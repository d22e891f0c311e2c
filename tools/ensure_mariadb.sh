#!/usr/bin/env bash
# Make sure the MariaDB server the database tests use (127.0.0.1:3306, root, no password, db `test`)
# is up: start it with the machine's own command when it is down, then wait for it. Exits non-zero
# when it stays unreachable, so the tests that need it fail instead of skipping.
set -u
ping() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root status >/dev/null 2>&1; }
if ping; then exit 0; fi
if ! command -v mysqladmin >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "ensure_mariadb: MariaDB is not installed (apt-get install -y mariadb-server)" >&2
  exit 1
fi
echo "ensure_mariadb: starting MariaDB" >&2
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
for _ in $(seq 1 60); do
  if ping; then
    mysql --protocol=tcp -h 127.0.0.1 -u root -e 'CREATE DATABASE IF NOT EXISTS test' && exit 0
  fi
  sleep 1
done
echo "ensure_mariadb: MariaDB did not answer on 127.0.0.1:3306 within 60 s" >&2
exit 1
