#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# platform/xfrm.c against the guest's kernel: tests/kernel/test-xfrm.c.
set -u
# shellcheck source=../../interop/keel-lib.sh
. "$KEEL_SRC/tests/interop/keel-lib.sh"
bin=$KEEL_BUILD/tests/kernel/test-xfrm
keel_guest_require "$bin"
timeout -k 5 180 "$bin"
