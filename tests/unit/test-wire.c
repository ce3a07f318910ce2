/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bounds-checked reader and writer (core/wire/wire.c). */
#include <string.h>

#include "check.h"
#include "wire/wire.h"

static void test_reader(void)
{
	static const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	struct keel_rd r = keel_rd_init(buf, sizeof(buf));
	CHECK_INT(keel_rd_u8(&r), 0x01);
	CHECK_INT(keel_rd_u16(&r), 0x0203);
	CHECK_INT(keel_rd_u32(&r), 0x04050607);
	CHECK(keel_rd_u64(&r) == 0x08090a0b0c0d0e0fULL);
	CHECK(keel_rd_done(&r));
	/* one more byte: bad, zero, and it stays bad */
	CHECK_INT(keel_rd_u8(&r), 0);
	CHECK(r.bad);
	CHECK(!keel_rd_done(&r));
	CHECK(keel_rd_bytes(&r, 0) == NULL);

	/* a short read does not consume what is there */
	r = keel_rd_init(buf, 3);
	CHECK_INT(keel_rd_u32(&r), 0);
	CHECK(r.bad);
	CHECK_INT(r.left, 0);

	/* sub-readers split exactly */
	r = keel_rd_init(buf, sizeof(buf));
	struct keel_rd sub = keel_rd_sub(&r, 4);
	CHECK(!sub.bad && sub.left == 4 && r.left == sizeof(buf) - 4);
	CHECK_INT(keel_rd_u32(&sub), 0x01020304);
	CHECK(keel_rd_done(&sub));
	sub = keel_rd_sub(&r, 100);
	CHECK(sub.bad && r.bad && sub.left == 0);

	/* huge lengths are compared as sizes and never wrap */
	r = keel_rd_init(buf, sizeof(buf));
	keel_rd_u8(&r);
	CHECK(!keel_rd_skip(&r, SIZE_MAX));
	CHECK(r.bad);

	/* copy leaves dst untouched on failure */
	uint8_t dst[4] = {0xaa, 0xaa, 0xaa, 0xaa};
	r = keel_rd_init(buf, 2);
	CHECK(!keel_rd_copy(&r, dst, 4));
	CHECK(dst[0] == 0xaa && dst[3] == 0xaa);
	r = keel_rd_init(buf, sizeof(buf));
	CHECK(keel_rd_copy(&r, dst, 4));
	CHECK_MEM(dst, 4, buf, 4);
	struct keel_rd rest = keel_rd_rest(&r);
	CHECK_INT(rest.left, sizeof(buf) - 4);
	CHECK_INT(r.left, 0);

	/* an empty reader over NULL */
	r = keel_rd_init(NULL, 10);
	CHECK_INT(r.left, 0);
	CHECK(keel_rd_bytes(&r, 0) != NULL);
	CHECK(!r.bad);
}

static void test_writer(void)
{
	uint8_t buf[16];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	keel_wr_u8(&w, 0x01);
	size_t len_at = keel_wr_pos(&w);
	keel_wr_u16(&w, 0);
	keel_wr_u32(&w, 0x04050607);
	keel_wr_u64(&w, 0x08090a0b0c0d0e0fULL);
	keel_wr_patch16(&w, len_at, 0x0203);
	static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				       0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	CHECK_INT(keel_wr_finish(&w), 15);
	CHECK_MEM(buf, 15, want, sizeof(want));
	keel_wr_u8(&w, 0x10);
	CHECK_INT(keel_wr_finish(&w), 16);
	/* overflow drops the write, sticks, and reports NOBUF once at the end */
	keel_wr_u8(&w, 0x11);
	CHECK(w.overflow);
	CHECK_INT(keel_wr_finish(&w), KEEL_ERR_NOBUF);
	CHECK_INT(w.len, 16);

	w = keel_wr_init(buf, 4);
	keel_wr_bytes(&w, want, 3);
	keel_wr_bytes(&w, want, 3); /* does not fit: nothing partial is written */
	CHECK(w.overflow);
	CHECK_INT(w.len, 3);
	CHECK(keel_wr_reserve(&w, 1) == NULL);

	w = keel_wr_init(buf, sizeof(buf));
	keel_wr_zero(&w, 4);
	keel_wr_patch32(&w, 0, 0xdeadbeef);
	keel_wr_patch32(&w, 2, 0); /* would run past what was written: ignored */
	static const uint8_t want2[] = {0xde, 0xad, 0xbe, 0xef};
	CHECK_MEM(buf, 4, want2, 4);
	CHECK(keel_wr_reserve(&w, SIZE_MAX) == NULL);
	CHECK_INT(keel_wr_finish(&w), KEEL_ERR_NOBUF);
}

static void test_roundtrip(void)
{
	uint8_t buf[64];
	struct keel_wr w = keel_wr_init(buf, sizeof(buf));
	for (uint32_t i = 0; i < 8; i++)
		keel_wr_u32(&w, i * 0x01010101u);
	CHECK_INT(keel_wr_finish(&w), 32);
	struct keel_rd r = keel_rd_init(buf, 32);
	for (uint32_t i = 0; i < 8; i++)
		CHECK(keel_rd_u32(&r) == i * 0x01010101u);
	CHECK(keel_rd_done(&r));
}

int main(void)
{
	test_reader();
	test_writer();
	test_roundtrip();
	CHECK(strcmp(keel_strerror(KEEL_ERR_MALFORMED), "malformed message") == 0);
	CHECK(strcmp(keel_strerror(-1000), "unknown error") == 0);
	return check_done();
}
