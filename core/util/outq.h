/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The output queue of an SA, shared by the IKEv2 and IKEv1 engines:
 * datagrams, CHILD SA operations, network configuration, state changes and
 * log lines, popped oldest first by the caller.
 *
 * Each queued item is one allocation: the public struct keel_out plus the
 * bytes its pointers refer to. Items holding key material are wiped on free.
 */
#ifndef KEEL_UTIL_OUTQ_H
#define KEEL_UTIL_OUTQ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/ike.h>

#define KEEL_OUTQ_LINE_MAX 512 /* bytes of one log or state line, NUL included */

struct keel_outq_item;

/* Embedded in an SA; all zero is an empty queue. */
struct keel_outq {
	struct keel_outq_item *head, *tail;
	struct keel_outq_item *popped; /* borrowed by the caller until the next pop */
	bool nomem;                    /* an output could not be queued */
};

/*
 * Appends an output with data_len bytes of storage (*data) for what its
 * pointers refer to; secret storage is wiped when freed. NULL on ENOMEM
 * (q->nomem is then set).
 */
struct keel_out *keel_outq_push(struct keel_outq *q, enum keel_out_kind kind, size_t data_len,
                                bool secret, uint8_t **data);
/*
 * Appends the network configuration nc, with copies of what its dns and
 * routes point to (borrowed for the call). false on ENOMEM.
 */
bool keel_outq_push_netcfg(struct keel_outq *q, const struct keel_out_netcfg *nc);
/* Frees the output handed out by the last pop. */
void keel_outq_release(struct keel_outq *q);
/* Frees every output, popped or not. */
void keel_outq_clear(struct keel_outq *q);
/* The oldest output into *out; its pointers are borrowed until the next call. */
bool keel_outq_pop(struct keel_outq *q, struct keel_out *out);
/* A log line at level, queued only when level is within max. */
void keel_outq_vlog(struct keel_outq *q, enum keel_log_level max, enum keel_log_level level,
                    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
/* *cur becomes state and the change is queued with its text; nothing if unchanged. */
void keel_outq_vset_state(struct keel_outq *q, enum keel_state *cur, enum keel_state state,
                          enum keel_reason reason, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

#endif
