#!/bin/sh
# keylime_ca against independent tools: the openssl CLI verifies the
# certificates and the CRL, unzip reads the package, stat checks modes.
# Usage: keylime-ca-test.sh /path/to/keylime_ca   (TAP output)
set -u

CA=${1:?usage: $0 KEYLIME_CA}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keylime-ca-test-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
D="$TMP/ca"
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1"
}
check() {
	desc=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$TMP/out"; fi
}
# check_rc EXPECTED DESC CMD...: the command exits with EXPECTED
check_rc() {
	want=$1
	desc=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		not_ok "$desc (exit $rc, want $want)"
		sed 's/^/# /' "$TMP/out" "$TMP/err"
	fi
}
mode() { stat -c %a "$1"; }

cat >"$TMP/ca.conf" <<'EOF'
[ca]
version = 2.0
cert_organization = KlTestOrg
cert_ca_name = Kl Test CA
cert_bits = 2048
EOF
export KEYLIME_CA_CONFIG="$TMP/ca.conf"



# init
check_rc 0 "init succeeds" "$CA" -d "$D" -c init
for f in cacert.crt ca-private.pem ca-public.pem cacrl.der cacrl.pem \
	RevocationNotifier-cert.crt RevocationNotifier-private.pem RevocationNotifier-public.pem; do
	[ -s "$D/$f" ] || { echo "# missing $f"; missing=1; }
done
if [ -z "${missing:-}" ]; then ok "init writes the CA, CRL and RevocationNotifier files"; else not_ok "init writes the CA, CRL and RevocationNotifier files"; fi
check "ca-private.pem is 0600" test "$(mode "$D/ca-private.pem")" = 600
check "RevocationNotifier-private.pem is 0600" test "$(mode "$D/RevocationNotifier-private.pem")" = 600
check "CA subject comes from ca.conf" \
	sh -c "openssl x509 -in '$D/cacert.crt' -noout -subject | grep -q 'CN = Kl Test CA.*O = KlTestOrg\|O = KlTestOrg.*CN = Kl Test CA'"
check "CA is a CA" sh -c "openssl x509 -in '$D/cacert.crt' -noout -text | grep -q 'CA:TRUE'"
check "CA serial is 1" sh -c "openssl x509 -in '$D/cacert.crt' -noout -serial | grep -qx 'serial=01'"
check "RevocationNotifier verifies" openssl verify -CAfile "$D/cacert.crt" "$D/RevocationNotifier-cert.crt"
check "empty CRL parses" openssl crl -in "$D/cacrl.der" -inform DER -noout
check "CRL PEM equals DER" sh -c "openssl crl -in '$D/cacrl.der' -inform DER | cmp -s - '$D/cacrl.pem'"
check_rc 1 "init refuses an initialized directory" "$CA" -d "$D" -c init

# create
check_rc 0 "create localhost" "$CA" -d "$D" -c create -n localhost
check "localhost cert verifies" openssl verify -CAfile "$D/cacert.crt" "$D/localhost-cert.crt"
check "localhost cert has DNS and IP SANs" \
	sh -c "openssl x509 -in '$D/localhost-cert.crt' -noout -ext subjectAltName | grep -q 'DNS:localhost' &&
	       openssl x509 -in '$D/localhost-cert.crt' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'"
check "localhost cert is for TLS server and client" \
	sh -c "openssl x509 -in '$D/localhost-cert.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication'"
check "localhost key matches cert" \
	sh -c "[ \"\$(openssl x509 -in '$D/localhost-cert.crt' -noout -pubkey)\" = \"\$(openssl pkey -in '$D/localhost-private.pem' -pubout)\" ]"
check "localhost-public.pem is the public key" \
	sh -c "openssl pkey -pubin -in '$D/localhost-public.pem' -noout"
check "localhost-private.pem is 0600" test "$(mode "$D/localhost-private.pem")" = 600
check_rc 0 "create client" "$CA" -d "$D" -c create -n client
check "serials increase: client is 4" sh -c "openssl x509 -in '$D/client-cert.crt' -noout -serial | grep -qx 'serial=04'"
check_rc 1 "create refuses an existing name" "$CA" -d "$D" -c create -n client

# pkg
check_rc 0 "pkg client" "$CA" -d "$D" -c pkg -n client
check "package lists exactly the six files" sh -c "unzip -Z1 '$D/client-pkg.zip' | sort | tr '\n' ' ' | grep -qx 'cacert.crt cacrl.der cacrl.pem client-cert.crt client-private.pem client-public.pem '"
check "package is stored and tests clean" sh -c "unzip -tq '$D/client-pkg.zip' &&
	[ \$(unzip -Zv '$D/client-pkg.zip' | grep -c 'compression method: *none (stored)') -eq 6 ]"
check "package private key entry is 0600" sh -c "unzip -Z '$D/client-pkg.zip' client-private.pem | grep -q '^-rw-------'"
check "package holds the same private key" sh -c "unzip -p '$D/client-pkg.zip' client-private.pem | cmp -s - '$D/client-private.pem'"
check "package file is 0600" test "$(mode "$D/client-pkg.zip")" = 600

# revoke and CRLs
check "client passes the CRL check before revocation" \
	openssl verify -crl_check -CAfile "$D/cacert.crt" -CRLfile "$D/cacrl.pem" "$D/client-cert.crt"
check_rc 0 "revoke client" "$CA" -d "$D" -c revoke -n client
openssl verify -crl_check -CAfile "$D/cacert.crt" -CRLfile "$D/cacrl.pem" "$D/client-cert.crt" >"$TMP/out" 2>&1
if grep -q "certificate revoked" "$TMP/out"; then ok "revoked client fails the CRL check"; else not_ok "revoked client fails the CRL check"; sed 's/^/# /' "$TMP/out"; fi
check_rc 0 "crl regenerates" "$CA" -d "$D" -c crl
check "CRL keeps the revoked serial and localhost passes" sh -c "
	openssl crl -in '$D/cacrl.pem' -noout -text | grep -q 'Serial Number: 04' &&
	openssl verify -crl_check -CAfile '$D/cacert.crt' -CRLfile '$D/cacrl.pem' '$D/localhost-cert.crt'"

# usage errors and failures
usage_ok=1
for args in "" "-c" "-c bogus" "-c create -d $D" "-c pkg -d $D" "-c revoke -d $D" \
	"-c listen -d $D" "-c create -n ../x -d $D" "-c crl -d $D extra" "--no-such-option"; do
	# shellcheck disable=SC2086
	"$CA" $args >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || { echo "# '$args' exited $rc"; usage_ok=0; }
done
if [ "$usage_ok" -eq 1 ]; then ok "bad usage exits 2"; else not_ok "bad usage exits 2"; fi
"$CA" -d "$TMP/empty" -c create -n x >/dev/null 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "cacert.crt" "$TMP/err"; then ok "uninitialized directory fails naming the file"; else not_ok "uninitialized directory fails naming the file (exit $rc)"; sed 's/^/# /' "$TMP/err"; fi
check_rc 0 "default directory is \$KEYLIME_DIR/ca" env KEYLIME_DIR="$TMP/kd" "$CA" -c init
check "default directory holds the CA" test -s "$TMP/kd/ca/cacert.crt"

echo "1..$n"
exit $failed
