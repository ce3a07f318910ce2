#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The 'kernel' suite (meson test --suite kernel): boots one user-mode-linux
# guest and runs every tests/kernel/cases/*.sh in it (guest-tests.sh), then
# prints what the guest wrote and exits with its status (0, 1, or 77 when
# everything skipped). Build first: the guest sees the host's files as they
# are, and nothing on the host changes while it runs.
#
# usage: kernel-tests.sh BUILDDIR   (meson passes tests/kernel in the build tree)
#
# KEEL_KERNEL_KEEP=1 keeps the output directory (logs of every case).
# KEEL_KERNEL_CASES="20-xfrm ..." runs only those cases.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: kernel-tests.sh BUILDDIR}
build=$(cd "$build" && pwd)

out=$(mktemp -d "${TMPDIR:-/tmp}/keel-kernel.XXXXXX") || exit 1
chmod 755 "$out"
cleanup() {
	if [ -n "${KEEL_KERNEL_KEEP:-}" ]; then
		echo "kernel-tests: kept $out" >&2
	else
		rm -rf "$out"
	fi
}
trap cleanup EXIT

start=$(date +%s%N)
cases=${KEEL_KERNEL_CASES:-all}
"$here/uml-run" -t 600 "$out" "$here/guest-tests.sh" "$build" "${cases// /,}"
rc=$?
end=$(date +%s%N)
[ -f "$out/guest.log" ] && cat "$out/guest.log"
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
	for f in "$out"/case-*.log; do
		[ -f "$f" ] || continue
		grep -q '^FAIL' "$f" 2>/dev/null || continue
		echo "--- $(basename "$f") (last 80 lines)"
		tail -n 80 "$f"
	done
fi
echo "kernel-tests: $(((end - start) / 1000000)) ms in all, status $rc"
exit "$rc"
