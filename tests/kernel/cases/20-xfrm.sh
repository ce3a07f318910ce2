#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# platform/xfrm.c against the guest's kernel: tests/kernel/test-xfrm.c.
set -u
bin=$KEEL_BUILD/tests/kernel/test-xfrm
if [ ! -x "$bin" ]; then
	echo "SKIP: $bin is not built"
	exit 77
fi
# ASan needs its shadow memory where user-mode-linux maps shared libraries
# (from 0x40000000): a sanitized build cannot run here. The plain build does.
if grep -qa __asan_init "$bin"; then
	echo "SKIP: test-xfrm is built with AddressSanitizer, which cannot run in a user-mode-linux guest"
	exit 77
fi
timeout -k 5 180 "$bin"
