#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs inside the user-mode-linux guest (see uml-run): every
# tests/kernel/cases/NN-name.sh in order, each as its own bash, with
#   KEEL_SRC    the source tree      KEEL_BUILD  the build tree (top)
#   KEEL_OUT    the output directory (the only host directory it may write)
# A case exits 0 (pass), 1 (fail) or 77 (skip) and writes what it does to
# stdout; that goes to $KEEL_OUT/case-NAME.log. Prints one line per case and
# a summary; exits 1 if any failed, 77 if all skipped, else 0.
#
# usage: guest-tests.sh BUILDDIR/tests/kernel [CASE,CASE...|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
export KEEL_SRC
KEEL_SRC=$(cd "$here/../.." && pwd)
export KEEL_BUILD
KEEL_BUILD=$(cd "${1:?usage: guest-tests.sh BUILDDIR [CASES]}/../.." && pwd)
export KEEL_OUT
only=${2:-all}

pass=0 fail=0 skip=0
for c in "$here"/cases/*.sh; do
	name=$(basename "$c" .sh)
	if [ "$only" != all ] && [[ ",$only," != *",$name,"* ]]; then
		continue
	fi
	t0=$(date +%s%N)
	bash "$c" >"$KEEL_OUT/case-$name.log" 2>&1 </dev/null
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	case $rc in
	0)
		pass=$((pass + 1))
		echo "PASS: $name ($ms ms)"
		;;
	77)
		skip=$((skip + 1))
		echo "SKIP: $name: $(grep -m1 '^SKIP' "$KEEL_OUT/case-$name.log" | sed 's/^SKIP: *//')"
		;;
	*)
		fail=$((fail + 1))
		echo "FAIL: $name (status $rc, $ms ms)"
		sed -i '1i FAIL' "$KEEL_OUT/case-$name.log"
		;;
	esac
	grep -E '^(ok|FAIL|PASS|SKIP)[: ]' "$KEEL_OUT/case-$name.log" | sed 's/^/    /'
done
echo "guest: $pass passed, $fail failed, $skip skipped"
[ "$fail" -gt 0 ] && exit 1
[ "$pass" -eq 0 ] && exit 77
exit 0
