/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder: filled in by its module */
#include <keel/err.h>
