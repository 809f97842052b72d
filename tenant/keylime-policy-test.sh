#!/bin/sh
# keylime-policy against independent tools: sha256sum for --rootfs digests,
# python3's json module for the output format, and the openssl CLI for the
# DSSE signature (PAE rebuilt here) and the ecdsa key id.
# Usage: keylime-policy-test.sh /path/to/keylime-policy DATA_DIR   (TAP output)
set -u

KP=${1:?usage: $0 KEYLIME_POLICY DATA_DIR}
DATA=${2:?usage: $0 KEYLIME_POLICY DATA_DIR}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keylime-policy-test-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
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
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
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
# json FILE EXPR: python3 evaluates EXPR with p = the parsed policy
json() {
	python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
# upstream's schema, as far as a test can say it in a few lines
schema_ok() {
	json "$1" 'set(p) == {"meta", "release", "digests", "excludes", "keyrings", "ima", "ima-buf", "verification-keys"} and p["meta"]["version"] == 1 and p["meta"]["generator"] == 3 and p["ima"]["dm_policy"] is None and all(v and v == sorted(set(v)) for m in ("digests", "keyrings", "ima-buf") for v in p[m].values())'
}

# create runtime from an IMA log
check_rc 0 "create -m (sha256 log) succeeds" "$KP" create runtime -m "$DATA/ima-log-sha256" -o "$TMP/log.json"
check "the policy has upstream's layout" schema_ok "$TMP/log.json"
check "the log's file digest is listed" json "$TMP/log.json" 'p["digests"]["/data"] == ["96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"]'
check "the boot aggregate is listed" json "$TMP/log.json" 'p["digests"]["boot_aggregate"] == ["f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3"]'
check "log_hash_alg follows the template hash" json "$TMP/log.json" 'p["ima"]["log_hash_alg"] == "sha1"'
check_rc 0 "create -m with unknown algorithms skips lines" "$KP" create runtime -m "$DATA/ima-log-unknown" -o "$TMP/unknown.json"
check "the skipped line numbers are reported" grep -q "line 2: skipped" "$TMP/err"
check "nothing is listed from unknown algorithms" json "$TMP/unknown.json" 'p["digests"] == {}'
check_rc 2 "create -m with a missing file is unusable input" "$KP" create runtime -m "$TMP/missing"
check "the message names the file" grep -q "$TMP/missing" "$TMP/err"

# create runtime from an allowlist and an exclude list
printf '# system files\n\n/tmp/.*\n^/var/log/\n' >"$TMP/excludes"
check_rc 0 "create -a -e succeeds" "$KP" create runtime -a "$DATA/allowlist-sha256" -e "$TMP/excludes" -o "$TMP/al.json"
check "allowlist digests and excludes are in the policy" json "$TMP/al.json" 'p["digests"]["data"] == ["96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"] and p["excludes"] == ["/tmp/.*", "^/var/log/"]'
check_rc 2 "--algo contradicting the allowlist is refused" "$KP" create runtime -a "$DATA/allowlist-sha1" --algo sha256
check_rc 2 "an unknown --algo is a usage error" "$KP" create runtime --algo md5
printf '/ok\n/bad(\n' >"$TMP/bad-excludes"
check_rc 2 "an invalid exclude regex is refused" "$KP" create runtime -e "$TMP/bad-excludes"
check "the message names the line" grep -q "bad-excludes: line 2:" "$TMP/err"
printf '%s /a\nzz /b\n' 009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509 >"$TMP/bad-allowlist"
check_rc 2 "an allowlist with a bad digest is refused" "$KP" create runtime -a "$TMP/bad-allowlist"
check "the message names file and line" grep -q "bad-allowlist: line 2:" "$TMP/err"
printf '{"meta": {"version": 1, "generator": 3}}' >"$TMP/bad-base.json"
check_rc 2 "a broken base policy is refused" "$KP" create runtime -p "$TMP/bad-base.json"
check "the message names the member" grep -q "'release' is missing" "$TMP/err"
check_rc 0 "create -p merges a base policy" "$KP" create runtime -p "$DATA/policy-sha1" -a "$DATA/allowlist-sha1" --ignored-keyrings .evm -o "$TMP/merged.json"
check "merged policy holds both" json "$TMP/merged.json" 'set(p["digests"]) == {"data", "/base_policy_data"} and p["ima"]["ignored_keyrings"] == [".evm"]'

# create runtime --rootfs
R="$TMP/rootfs"
mkdir -p "$R/usr/bin" "$R/etc/skipme" "$R/tmp" "$R/var/lib"
printf 'hello\n' >"$R/usr/bin/hello"
printf 'with space\n' >"$R/usr/bin/a file"
printf 'skip\n' >"$R/etc/skipme/secret"
printf 'tmp\n' >"$R/tmp/t"
printf 'var\n' >"$R/var/lib/v"
ln -s /etc/passwd "$R/usr/bin/link"
if [ "$(id -u)" -eq 0 ]; then
	check_rc 0 "create --rootfs succeeds" "$KP" create runtime --rootfs "$R" -s "$R/etc/skipme" -o "$TMP/rootfs.json"
	want=$(sha256sum "$R/usr/bin/hello" | cut -d' ' -f1)
	check "a file's digest matches sha256sum" json "$TMP/rootfs.json" "p['digests']['/usr/bin/hello'] == ['$want']"
	check "spaces in paths become '_'" json "$TMP/rootfs.json" '"/usr/bin/a_file" in p["digests"]'
	check "symlinks, skipped and base-excluded directories are left out" json "$TMP/rootfs.json" 'set(p["digests"]) == {"/usr/bin/hello", "/usr/bin/a_file"}'
	check_rc 0 "create --rootfs --algo sha1" "$KP" create runtime --rootfs "$R" --algo sha1 -o "$TMP/rootfs1.json"
	want=$(sha1sum "$R/usr/bin/hello" | cut -d' ' -f1)
	check "--algo sets the file digest algorithm" json "$TMP/rootfs1.json" "p['digests']['/usr/bin/hello'] == ['$want']"
else
	skip "create --rootfs" "files must be owned by root"
fi

# convert
check_rc 0 "convert -a -e -o succeeds" "$KP" convert -a "$DATA/allowlist-sha1" -e "$TMP/excludes" -o "$TMP/conv.json"
check "the converted policy has upstream's layout" schema_ok "$TMP/conv.json"
check "the converted policy holds the digest" json "$TMP/conv.json" 'p["digests"]["data"] == ["009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509"]'
check_rc 2 "convert without -a is a usage error" "$KP" convert -e "$TMP/excludes"

# sign runtime and verify runtime (ecdsa)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ec.pem" 2>/dev/null
openssl pkey -in "$TMP/ec.pem" -pubout -out "$TMP/ec.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.pem" 2>/dev/null
openssl pkey -in "$TMP/other.pem" -pubout -out "$TMP/other.pub" 2>/dev/null
check_rc 0 "sign runtime -k succeeds" "$KP" sign runtime -r "$DATA/policy-sha256" -k "$TMP/ec.pem" -o "$TMP/signed.json"
check "the envelope has a payload, its type and one signature" json "$TMP/signed.json" 'p["payloadType"] == "application/vnd.keylime+json" and len(p["signatures"]) == 1'
keyid=$(sha256sum "$TMP/ec.pub" | cut -d' ' -f1)
check "the keyid is SHA-256 of the PEM public key" json "$TMP/signed.json" "p['signatures'][0]['keyid'] == '$keyid'"
python3 -c 'import base64, json, sys
e = json.load(open(sys.argv[1]))
payload = base64.b64decode(e["payload"])
t = e["payloadType"].encode()
open(sys.argv[2], "wb").write(b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload))
open(sys.argv[3], "wb").write(base64.b64decode(e["signatures"][0]["sig"]))
open(sys.argv[4], "wb").write(payload)' "$TMP/signed.json" "$TMP/pae" "$TMP/sig" "$TMP/payload"
check "openssl verifies the signature over the PAE" openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/sig" "$TMP/pae"
check "the payload is the policy as given" cmp "$TMP/payload" "$DATA/policy-sha256"
check_rc 0 "verify runtime with the public key" "$KP" verify runtime -r "$TMP/signed.json" -k "$TMP/ec.pub" -o "$TMP/verified.json"
check "verify writes the payload" cmp "$TMP/verified.json" "$DATA/policy-sha256"
check_rc 1 "verify runtime with another key fails" "$KP" verify runtime -r "$TMP/signed.json" -k "$TMP/other.pub"
check_rc 1 "verify runtime of an unsigned policy fails" "$KP" verify runtime -r "$DATA/policy-sha256" -k "$TMP/ec.pub"
sed 's/"payload": "e/"payload": "f/' "$TMP/signed.json" >"$TMP/tampered.json"
check_rc 1 "verify runtime of a tampered payload fails" "$KP" verify runtime -r "$TMP/tampered.json" -k "$TMP/ec.pub"
check_rc 2 "verify runtime with a missing key file" "$KP" verify runtime -r "$TMP/signed.json" -k "$TMP/none.pub"

# key generation, x509 backend, refused input
check_rc 0 "sign runtime -p writes a new key" "$KP" sign runtime -r "$DATA/policy-sha1" -p "$TMP/new.pem" -o "$TMP/signed2.json"
check "the new key is private to its owner" test "$(stat -c %a "$TMP/new.pem")" = 600
openssl pkey -in "$TMP/new.pem" -pubout -out "$TMP/new.pub" 2>/dev/null
check_rc 0 "its signature verifies with its public key" "$KP" verify runtime -r "$TMP/signed2.json" -k "$TMP/new.pub"
check_rc 0 "sign runtime -b x509 -c writes a certificate" "$KP" sign runtime -r "$DATA/policy-sha1" -k "$TMP/ec.pem" -b x509 -c "$TMP/cert.pem" -o "$TMP/signed3.json"
check "the certificate holds the signing key" sh -c "openssl x509 -in '$TMP/cert.pem' -noout -pubkey | cmp - '$TMP/ec.pub'"
check "the x509 keyid is the base64 certificate" json "$TMP/signed3.json" "__import__('base64').b64decode(p['signatures'][0]['keyid']) == open('$TMP/cert.pem', 'rb').read()"
check_rc 0 "verify runtime with the certificate" "$KP" verify runtime -r "$TMP/signed3.json" -k "$TMP/cert.pem"
check_rc 2 "-b x509 without -c is a usage error" "$KP" sign runtime -r "$DATA/policy-sha1" -k "$TMP/ec.pem" -b x509
check_rc 2 "-k and -p together are a usage error" "$KP" sign runtime -r "$DATA/policy-sha1" -k "$TMP/ec.pem" -p "$TMP/x.pem"
check_rc 2 "an unknown backend is a usage error" "$KP" sign runtime -r "$DATA/policy-sha1" -k "$TMP/ec.pem" -b rsa
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
check_rc 2 "an RSA signing key is refused" "$KP" sign runtime -r "$DATA/policy-sha1" -k "$TMP/rsa.pem"
check_rc 2 "an invalid policy is not signed" "$KP" sign runtime -r "$DATA/allowlist-sha1" -k "$TMP/ec.pem"
check "the message names the file" grep -q "allowlist-sha1" "$TMP/err"

# usage
# create measured-boot: the reference state in upstream's layout
LOGS="$DATA/../eventlogs"
check_rc 0 "create measured-boot from the Secure Boot log" "$KP" create measured-boot -e "$LOGS/binary_bios_measurements-secureboot" -o "$TMP/mb.json"
check "the reference state has upstream's keys" json "$TMP/mb.json" 'set(p) == {"has_secureboot", "scrtm_and_bios", "pk", "kek", "db", "dbx", "vendor_db", "mokdig", "mokxdig", "kernels"} and p["has_secureboot"] is True'
check "kernel digests are 0x-prefixed hex" json "$TMP/mb.json" 'all(p["kernels"][0][k].startswith("0x") and len(p["kernels"][0][k]) == 66 for k in ("shim_authcode_sha256", "grub_authcode_sha256", "kernel_authcode_sha256", "initrd_plain_sha256"))'
check "the shim digest is the log's" json "$TMP/mb.json" 'p["kernels"][0]["shim_authcode_sha256"] == "0x27b12463e599b3147635f272e3722960e443def60fef088eba600697017529f2"'
check "the S-CRTM and firmware digests are there" json "$TMP/mb.json" 'p["scrtm_and_bios"][0]["scrtm"]["sha256"].startswith("0x") and len(p["scrtm_and_bios"][0]["platform_firmware"]) == 2'
check "the kernel command line is re.escape()d" python3 -c 'import json, re, sys
p = json.load(open(sys.argv[1]))
cmd = p["kernels"][0]["kernel_cmdline"]
raw = re.sub(r"\\(.)", r"\1", cmd)
sys.exit(0 if re.escape(raw) == cmd and re.fullmatch(cmd, raw) else 1)' "$TMP/mb.json"
check "keys are 0x-prefixed with their owner" json "$TMP/mb.json" 'len(p["dbx"]) > 0 and all(k["SignatureData"].startswith("0x") and len(k["SignatureOwner"]) == 36 for k in p["pk"] + p["kek"] + p["db"] + p["dbx"])'
check_rc 0 "-i with Secure Boot enabled still succeeds" "$KP" create measured-boot -i -e "$LOGS/binary_bios_measurements-secureboot" -o "$TMP/mb-i.json"
check "and warns" grep -q "warning: .*Secure Boot enabled" "$TMP/err"
check "and keeps Secure Boot" json "$TMP/mb-i.json" 'p["has_secureboot"] is True'
check_rc 2 "a log with Secure Boot off needs -i" "$KP" create measured-boot -e "$LOGS/binary_bios_measurements" -o "$TMP/mb-off.json"
check "the message says so" grep -q "Secure Boot disabled" "$TMP/err"
check "and nothing is written" test ! -e "$TMP/mb-off.json"
check_rc 2 "a garbage log is unusable input" "$KP" create measured-boot -e "$LOGS/binary_bios_measurements-bogus"
check_rc 2 "an empty log is unusable input" "$KP" create measured-boot -e "$LOGS/binary_bios_measurements-empty"
check_rc 2 "create measured-boot without -e is a usage error" "$KP" create measured-boot
check_rc 0 "the reference state goes to standard output by default" "$KP" create measured-boot -e "$LOGS/binary_bios_measurements-secureboot"
cp "$TMP/out" "$TMP/mb-stdout.json"
check "standard output holds the same document" python3 -c 'import json, sys
sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' "$TMP/mb-stdout.json" "$TMP/mb.json"

check_rc 2 "no command is a usage error" "$KP"
check_rc 2 "an unknown command is a usage error" "$KP" frobnicate
check_rc 2 "create with an unknown policy type is a usage error" "$KP" create bootloader
check_rc 2 "an unknown option is a usage error" "$KP" create runtime --bogus
check_rc 0 "--help succeeds" "$KP" --help

echo "1..$n"
exit $failed
