#!/bin/bash
# The installable files in data/ are what their consumers accept: the D-Bus
# and polkit XML is well formed, systemd-analyze verifies the unit, and the
# names agree across the unit, the activation file, the bus policy and the
# interface XML.  TAP.  $1: the source root, $2: keylime_registrar, $3:
# keylime_agent, $4: keylime_verifier.
set -u
SRC=$1
REGISTRAR=$2
AGENT=$3
VERIFIER=$4
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keylime-test-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

n=0
failed=0
check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@" >"$WORK/out" 2>&1; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' "$WORK/out"
		failed=1
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

echo "1..13"
xml_files=("$SRC/data/dbus/org.keylime.Registrar1.conf" "$SRC/data/polkit/org.keylime.policy"
	"$SRC/engine/dbus/org.keylime.Registrar1.xml" "$SRC/data/dbus/org.keylime.Verifier1.conf"
	"$SRC/engine/dbus/org.keylime.Verifier1.xml")
if command -v xmllint >/dev/null; then
	check "D-Bus policy, polkit policy and interface XML are well formed" \
		xmllint --noout "${xml_files[@]}"
else
	skip "xmllint not installed"
fi

sed "s|@bindir@|$(dirname "$REGISTRAR")|" "$SRC/data/systemd/keylime_registrar.service.in" \
	>"$WORK/keylime_registrar.service"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verifies keylime_registrar.service" \
		systemd-analyze verify --man=no "$WORK/keylime_registrar.service"
else
	skip "systemd-analyze not installed"
fi

sed "s|@bindir@|$(dirname "$AGENT")|" "$SRC/data/systemd/keylime_agent.service.in" \
	>"$WORK/keylime_agent.service"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verifies keylime_agent.service" \
		systemd-analyze verify --man=no "$WORK/keylime_agent.service"
else
	skip "systemd-analyze not installed"
fi

bus_name=$(sed -n 's/^BusName=//p' "$WORK/keylime_registrar.service")
check "the unit's BusName is the activation file's Name" \
	grep -qx "Name=$bus_name" "$SRC/data/dbus/org.keylime.Registrar1.service.in"
check "the activation file delegates to the unit" \
	grep -qx "SystemdService=keylime_registrar.service" \
	"$SRC/data/dbus/org.keylime.Registrar1.service.in"
policy_allows() {
	grep -q "own=\"$bus_name\"" "$SRC/data/dbus/org.keylime.Registrar1.conf" &&
		grep -q 'send_interface="org.keylime.Registrar1.Manager"' \
			"$SRC/data/dbus/org.keylime.Registrar1.conf"
}
check "the bus policy lets the daemon own its name and callers reach the Manager" policy_allows

# keylime_verifier: its unit (data/systemd/keylime_verifier.service.in)
# comes with the program; until then its name is the one the code exports.
verifier_unit="$SRC/data/systemd/keylime_verifier.service.in"
verifier_name=org.keylime.Verifier1
if [ -f "$verifier_unit" ]; then
	verifier_name=$(sed -n 's/^BusName=//p' "$verifier_unit")
fi
check "the verifier's bus name is the activation file's Name and the code's" \
	grep -qx "Name=$verifier_name" "$SRC/data/dbus/org.keylime.Verifier1.service.in"
check "the verifier's activation file delegates to its unit" \
	grep -qx "SystemdService=keylime_verifier.service" \
	"$SRC/data/dbus/org.keylime.Verifier1.service.in"
verifier_policy_allows() {
	local conf="$SRC/data/dbus/org.keylime.Verifier1.conf"
	grep -q "own=\"$verifier_name\"" "$conf" &&
		grep -q "#define KL_VERIFIER_DBUS_NAME[[:space:]]*\"$verifier_name\"" \
			"$SRC/engine/verifier/dbus/kl-verifier-dbus.h" &&
		for iface in org.keylime.Verifier1.Manager org.keylime.Verifier1.Agent \
			org.freedesktop.DBus.ObjectManager org.freedesktop.DBus.Properties; do
			grep -q "send_interface=\"$iface\"" "$conf" || return 1
		done
}
check "the verifier's bus policy lets it own its name and callers reach every interface" \
	verifier_policy_allows
verifier_interfaces_match() {
	for iface in org.keylime.Verifier1.Manager org.keylime.Verifier1.Agent; do
		grep -q "<interface name=\"$iface\">" "$SRC/engine/dbus/org.keylime.Verifier1.xml" ||
			return 1
	done
}
check "the interfaces the bus policy lets through are the ones the XML declares" \
	verifier_interfaces_match
verifier_actions_declared() {
	local action
	for action in $(sed -n 's/^#define KL_VERIFIER_DBUS_ACTION_[A-Z_]*[[:space:]]*"\(.*\)"$/\1/p' \
		"$SRC/engine/verifier/dbus/kl-verifier-dbus.h"); do
		grep -q "<action id=\"$action\">" "$SRC/data/polkit/org.keylime.policy" || {
			echo "$action is not in org.keylime.policy"
			return 1
		}
	done
	[ -n "$action" ]
}
check "every polkit action the verifier checks is declared" verifier_actions_declared

# keylime_verifier's unit: verified, and hardened without losing what the
# engine needs (its state directory for cv_data.sqlite, /dev/shm for the
# agent table the consoles map)
sed "s|@bindir@|$(dirname "$VERIFIER")|" "$verifier_unit" >"$WORK/keylime_verifier.service"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verifies keylime_verifier.service" \
		systemd-analyze verify --man=no "$WORK/keylime_verifier.service"
else
	skip "systemd-analyze not installed"
fi
verifier_unit_fits() {
	local unit="$WORK/keylime_verifier.service"
	grep -qx "Type=dbus" "$unit" &&
		grep -qx "ExecStart=$VERIFIER" "$unit" &&
		grep -qx "ProtectSystem=strict" "$unit" &&
		grep -Eqx "ReadWritePaths=(.* )?/var/lib/keylime( .*)?" "$unit" &&
		grep -Eqx "ReadWritePaths=(.* )?/dev/shm( .*)?" "$unit" &&
		! grep -Eq "^(PrivateIPC=yes|InaccessiblePaths=.*/dev)" "$unit"
}
check "the verifier unit is Type=dbus and may write its state directory and /dev/shm" \
	verifier_unit_fits
exit $failed
