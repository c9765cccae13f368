#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Companion needs, or says which command to run.
#   scripts/system-deps.sh run   -> PortAudio (speaker output)
#   scripts/system-deps.sh test  -> PortAudio, a JACK server (jackd2), Chromium for the browser test and
#                                   strace (the power-loss test reads the order of writes and fsyncs) and
#                                   PostgreSQL (the record suite runs on it too; the fixture starts it),
#                                   a D-Bus daemon and GNOME Keyring (a real Secret Service for the OS
#                                   keyring tests of `companion encrypt --keyring`; the fixture starts them)
# Why a script: `make run` and `make test` must each do all set-up on a fresh machine, and only root
# may install system packages, so without root we print the exact command instead of failing later.
set -euo pipefail
purpose=${1:-run}
packages=(libportaudio2)
if [ "$purpose" = test ]; then
    packages+=(jackd2 chromium strace postgresql dbus-daemon gnome-keyring)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not a Debian/Ubuntu system; install these yourself (see README): ${missing[*]}" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Companion needs system packages that are not installed. Run once:" >&2
    echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    [ "$purpose" = test ] && exit 1
    exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# JACK asks about realtime priority during install; answer it so the install never waits for a tty.
echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
