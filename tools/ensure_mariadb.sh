#!/usr/bin/env bash
# `make db-up`: make sure the MariaDB server the database tests and `make bench` use is up on
# 127.0.0.1:3306 with user root and an empty password (database `test` exists).
#   1. installs Debian's mariadb-server when it is missing (apt-get; sudo when not root);
#   2. starts it when it is down (its init script; no systemd needed);
#   3. lets root log in over TCP without a password (Debian's root uses unix_socket only).
# Exits non-zero when the server stays unreachable, so the tests that need it fail, never skip.
set -u
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
ping() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root status >/dev/null 2>&1; }

if ping; then exit 0; fi

if [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
  echo "ensure_mariadb: installing Debian's mariadb-server" >&2
  # Lock timeout: other installs (tesseract, ...) may hold dpkg's lock for a while.
  apt=(apt-get -o DPkg::Lock::Timeout=900)
  $SUDO "${apt[@]}" update -qq || exit 1
  # policy-rc.d-less containers may or may not start it here; step 2 starts it either way.
  $SUDO env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq mariadb-server mariadb-client >/dev/null || exit 1
fi

start() {
  if [ -x /etc/init.d/mariadb ]; then
    $SUDO /etc/init.d/mariadb start >&2
  else  # no init script: run the daemon directly, as the mysql user
    $SUDO install -d -o mysql -g mysql /run/mysqld
    $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  fi
}

# The server answers on its local socket first; TCP root login may still need step 3.
local_sql() { $SUDO mariadb --protocol=socket -u root "$@"; }
if ! local_sql -e 'SELECT 1' >/dev/null 2>&1; then
  echo "ensure_mariadb: starting MariaDB" >&2
  start
fi
for _ in $(seq 1 60); do
  local_sql -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 1
done

if ! ping; then
  echo "ensure_mariadb: giving root an empty password over TCP (127.0.0.1:3306)" >&2
  local_sql <<'SQL' || exit 1
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
fi
if ping; then
  mysql --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test' && exit 0
fi
echo "ensure_mariadb: MariaDB did not answer on 127.0.0.1:3306 as root without a password" >&2
exit 1
