#!/usr/bin/env bash
# Installs the Debian packages Campus ID needs for the demo and the tests, and starts the
# PostgreSQL and Redis servers the tests use when they are not running. Safe to run again.
set -euo pipefail

packages=(
  slapd ldap-utils libldap2-dev libsasl2-dev gcc make
  python3 python3-venv python3-dev
  postgresql redis-server
  nodejs npm wrk
  chromium chromium-driver fonts-liberation
  samba-ad-dc samba-ad-provision
  nginx
  apache2 libapache2-mod-auth-openidc
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from outside Debian's packages; a working `node` and `npm` is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  # slapd must not create a system directory: the demo and tests run their own instances.
  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Keep a system slapd off port 389 where daemons do auto-start.
[ -d /etc/ldap ] && touch /etc/ldap/noslapd || true
# The tests provision their own Samba AD domain controller (Active Directory's nested groups):
# when this run installed Samba, keep the daemons its package starts off.
if [[ " ${missing[*]} " == *" samba-ad-dc "* ]] && command -v systemctl >/dev/null \
    && [ -d /run/systemd/system ]; then
  systemctl disable --now samba-ad-dc smbd nmbd >/dev/null 2>&1 || true
fi
# Likewise nginx: the slow-client test runs its own, on a port of its own.
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null \
    && [ -d /run/systemd/system ]; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi
# And Apache: the mod_auth_openidc interop test runs its own, with its own configuration.
if [[ " ${missing[*]} " == *" apache2 "* ]] && command -v systemctl >/dev/null \
    && [ -d /run/systemd/system ]; then
  systemctl disable --now apache2 apache-htcacheclean >/dev/null 2>&1 || true
fi

# promtool checks deploy/prometheus/ in the tests. It is taken alone from Debian's prometheus
# package: installing the package would add a Prometheus server (started where daemons start).
if ! command -v promtool >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "installing promtool"
  unpacked=$(mktemp -d)
  (cd "$unpacked" && { apt-get download prometheus >/dev/null 2>&1 \
     || { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; } \
     && dpkg-deb -x prometheus_*.deb root)
  install -m 0755 "$unpacked/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$unpacked"
fi

if ! pg_isready -q -h 127.0.0.1; then
  echo "starting PostgreSQL"
  cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no
fi
