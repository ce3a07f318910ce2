/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * platform/xfrm.c on the machine the tests run on, not in the guest: the
 * probe, the checks made before the kernel is asked, and what works on a
 * kernel with XFRM but without ESP (the project's machines).
 *
 * The probe's answer is compared with iproute2's: in a network namespace of
 * its own (nothing on the host is touched), `ip xfrm state add` tries the
 * same kind of SA. Where iproute2 cannot add it, the probe must say no, and
 * why; where it can, the probe must say yes. Without CAP_NET_ADMIN the
 * probe must say so (checked as the user nobody). Stale cleanup is checked
 * with policies, which need no ESP: Keel-marked policies of an instance
 * nobody holds go, a running instance's and another program's stay.
 * Not root: only the parts that need no privilege run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <keel-platform/xfrm.h>

#include "check.h"

static int sh_quiet(const char *cmd)
{
	char line[768];
	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	int st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct keel_addr addr4(const char *text, uint16_t port)
{
	struct keel_addr a = {.family = KEEL_AF_INET, .port = port};
	if (inet_pton(AF_INET, text, a.bytes) != 1)
		abort();
	return a;
}

static const uint8_t key[64];
static struct keel_ts ts_any = {
    .family = KEEL_AF_INET, .port_end = 0xffff, .end = {255, 255, 255, 255}};

static struct keel_out_child_install valid_install(void)
{
	return (struct keel_out_child_install){
	    .child_id = 1,
	    .reqid = 1,
	    .protocol = KEEL_PROTO_ESP,
	    .spi_in = 0xc0000a01,
	    .spi_out = 0xc0000b01,
	    .encr = 20,
	    .encr_key_bits = 256,
	    .encr_key_in = key,
	    .encr_key_out = key,
	    .encr_key_len = 36,
	    .local = addr4("192.0.2.2", 4500),
	    .remote = addr4("192.0.2.1", 4500),
	    .ts_local = &ts_any,
	    .n_ts_local = 1,
	    .ts_remote = &ts_any,
	    .n_ts_remote = 1,
	};
}

/* What install refuses before the kernel is asked. */
static void check_validation(void)
{
	struct keel_xfrm *x = NULL;
	char why[256] = "";

	CHECK_INT(keel_xfrm_open(&x, why, sizeof(why)), 0);
	if (!x) {
		printf("keel_xfrm_open: %s\n", why);
		return;
	}
	CHECK(keel_xfrm_instance(x) >= 1 && keel_xfrm_instance(x) <= KEEL_XFRM_INSTANCE_MAX);
	CHECK_INT(strlen(keel_xfrm_error(x)), 0);

	struct keel_out_child_install c = valid_install();
	c.spi_in = 255; /* RFC 4303 §2.1: reserved */
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "reserved") != NULL);
	c = valid_install();
	c.reqid = KEEL_XFRM_CHILD_REQID_MAX + 1;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "reqid") != NULL);
	c = valid_install();
	c.encr_key_len = 32; /* AES-GCM-256 needs 32 + 4 bytes of salt */
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "key of 32 bytes") != NULL);
	c = valid_install();
	c.integ = 12;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "AEAD") != NULL);
	c = valid_install();
	c.encr = 12;
	c.encr_key_len = 32;
	c.integ = 12;
	c.integ_key_len = 20; /* HMAC-SHA2-256 keys are 32 bytes */
	c.integ_key_in = c.integ_key_out = key;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "hmac(sha256) key of 20 bytes") != NULL);
	c = valid_install();
	c.encr = 3; /* 3DES: not on the kernel path */
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	c = valid_install();
	c.encap = true;
	c.remote = addr4("192.0.2.1", 0);
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "without ports") != NULL);
	c = valid_install();
	c.protocol = 50; /* neither ESP nor AH */
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "neither ESP nor AH") != NULL);
	/* AH (RFC 4302): no cipher, and never in UDP */
	c = valid_install();
	c.protocol = KEEL_PROTO_AH;
	c.encap = true;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "AH cannot be encapsulated in UDP") != NULL);
	c.encap = false;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "AH with encryption transform 20") != NULL);
	c.encr = 0;
	c.encr_key_bits = 0;
	c.encr_key_len = 0;
	c.encr_key_in = c.encr_key_out = NULL;
	c.integ = 12;
	c.integ_key_len = 20;
	c.integ_key_in = c.integ_key_out = key;
	CHECK_INT(keel_xfrm_install(x, &c), -EINVAL);
	CHECK(strstr(keel_xfrm_error(x), "hmac(sha256) key of 20 bytes") != NULL);

	struct keel_out_child_remove r = {.child_id = 5, .reqid = 1, .protocol = KEEL_PROTO_ESP};
	CHECK_INT(keel_xfrm_remove(x, &r), -ENOENT);
	CHECK(strstr(keel_xfrm_error(x), "child 5 is not installed") != NULL);
	struct keel_xfrm_stats st;
	CHECK_INT(keel_xfrm_stats(x, 5, &st), -ENOENT);
	CHECK_INT(keel_xfrm_pairs(x), 0);
	CHECK_INT(keel_xfrm_remove_all(x), 0);
	keel_xfrm_free(x);
	keel_xfrm_free(NULL);
}

/* The probe as the user nobody, in a child: must be -EPERM naming the capability. */
static void check_unprivileged(const struct keel_xfrm_algs *a)
{
	char why[256] = "";
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 &&
		    (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
			_exit(3);
		int rc = keel_xfrm_probe(a, why, sizeof(why));
		printf("probe without CAP_NET_ADMIN: %d: %s\n", rc, why);
		fflush(stdout);
		_exit(rc == -EPERM && strstr(why, "CAP_NET_ADMIN") ? 0 : 1);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A Keel install on a kernel without ESP: refused with the reason, nothing left. */
static void check_install_without_esp(void)
{
	struct keel_xfrm *x = NULL;
	char why[256];

	CHECK_INT(keel_xfrm_open(&x, why, sizeof(why)), 0);
	if (!x)
		return;
	struct keel_out_child_install c = valid_install();
	CHECK_INT(keel_xfrm_install(x, &c), -EPROTONOSUPPORT);
	printf("install without ESP: %s\n", keel_xfrm_error(x));
	CHECK(strstr(keel_xfrm_error(x),
	             "adding the inbound SA 0xc0000a01 (192.0.2.1 -> 192.0.2.2") != NULL);
	CHECK(strstr(keel_xfrm_error(x), "no ESP") != NULL);
	struct keel_xfrm_census cs;
	CHECK_INT(keel_xfrm_census(x, &cs), 0);
	CHECK_INT(cs.sa_own + cs.pol_own + cs.sa_stale + cs.pol_stale, 0);
	CHECK_INT(keel_xfrm_pairs(x), 0);
	keel_xfrm_free(x);
}

static int count_lines(const char *cmd, const char *needle)
{
	FILE *f = popen(cmd, "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	pclose(f);
	return n;
}

/* Stale cleanup with policies only (no ESP needed for those). */
static void check_stale_policies(void)
{
	struct keel_xfrm *live = NULL, *cleaner = NULL;
	char why[256], cmd[512];

	CHECK_INT(keel_xfrm_open(&live, why, sizeof(why)), 0);
	CHECK_INT(keel_xfrm_open(&cleaner, why, sizeof(why)), 0);
	if (!live || !cleaner)
		goto out;
	uint32_t li = keel_xfrm_instance(live), ci = keel_xfrm_instance(cleaner);
	uint32_t dead = 1;
	while (dead == li || dead == ci)
		dead++;
	static const char *const fmt =
	    "ip xfrm policy add src %s dst 198.51.100.0/24 dir out "
	    "tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid %u mode tunnel";
	/* another program's, a running Keel's, a crashed Keel's and a crashed probe's */
	snprintf(cmd, sizeof(cmd), fmt, "100.64.0.1/32", 7u);
	CHECK_INT(sh_quiet(cmd), 0);
	snprintf(cmd, sizeof(cmd), fmt, "100.64.0.2/32", keel_xfrm_reqid_make(li, 1));
	CHECK_INT(sh_quiet(cmd), 0);
	snprintf(cmd, sizeof(cmd), fmt, "100.64.0.3/32", keel_xfrm_reqid_make(dead, 1));
	CHECK_INT(sh_quiet(cmd), 0);
	snprintf(cmd, sizeof(cmd), fmt, "100.64.0.4/32", keel_xfrm_reqid_make(0, 0));
	CHECK_INT(sh_quiet(cmd), 0);

	struct keel_xfrm_census c;
	CHECK_INT(keel_xfrm_census(cleaner, &c), 0);
	CHECK_INT(c.pol_other, 1);
	CHECK_INT(c.pol_live, 1);
	CHECK_INT(c.pol_stale, 2);
	CHECK_INT(c.pol_own, 0);
	CHECK_INT(keel_xfrm_census(live, &c), 0);
	CHECK_INT(c.pol_own, 1);

	unsigned n_sa = 9, n_pol = 9;
	CHECK_INT(keel_xfrm_clean_stale(cleaner, &n_sa, &n_pol), 0);
	CHECK_INT(n_sa, 0);
	CHECK_INT(n_pol, 2);
	CHECK_INT(keel_xfrm_census(cleaner, &c), 0);
	CHECK_INT(c.pol_other, 1);
	CHECK_INT(c.pol_live, 1);
	CHECK_INT(c.pol_stale, 0);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.1/32"), 1);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.2/32"), 1);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.3/32"), 0);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.4/32"), 0);

	/* once the running one ends without cleaning up, its policy is stale too */
	keel_xfrm_free(live);
	live = NULL;
	CHECK_INT(keel_xfrm_clean_stale(cleaner, &n_sa, &n_pol), 0);
	CHECK_INT(n_pol, 1);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.2/32"), 0);
	CHECK_INT(count_lines("ip xfrm policy list", "src 100.64.0.1/32"), 1);
out:
	keel_xfrm_free(live);
	keel_xfrm_free(cleaner);
}

int main(void)
{
	const struct keel_xfrm_algs gcm = {KEEL_AF_INET, 20, 256, 0, false, false};
	const struct keel_xfrm_algs cbc = {KEEL_AF_INET, 12, 128, 12, false, false};
	char why[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* malformed requests are refused before the kernel is asked */
	struct keel_xfrm_algs bad = gcm;
	bad.integ = 12;
	CHECK_INT(keel_xfrm_probe(&bad, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "AEAD") != NULL);
	bad = cbc;
	bad.integ = 99;
	CHECK_INT(keel_xfrm_probe(&bad, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "integrity transform 99") != NULL);
	bad = gcm;
	bad.encr_key_bits = 100;
	CHECK_INT(keel_xfrm_probe(&bad, why, sizeof(why)), -EINVAL);
	CHECK(strcmp(keel_xfrm_encr_name(20), "rfc4106(gcm(aes))") == 0);
	CHECK(strcmp(keel_xfrm_encr_name(28), "rfc7539esp(chacha20,poly1305)") == 0);
	CHECK(strcmp(keel_xfrm_integ_name(12), "hmac(sha256)") == 0);
	CHECK(keel_xfrm_encr_name(3) == NULL);

	/* the reqid layout that stale cleanup relies on */
	uint32_t r = keel_xfrm_reqid_make(4095, 7);
	CHECK_INT(r, 0x4bfff007);
	CHECK(keel_xfrm_reqid_is_keel(r));
	CHECK_INT(keel_xfrm_reqid_instance(r), 4095);
	CHECK(!keel_xfrm_reqid_is_keel(1));
	CHECK(!keel_xfrm_reqid_is_keel(16384));

	check_validation();
	check_unprivileged(&gcm);

	if (geteuid() != 0) {
		printf("not root: the kernel comparison is skipped\n");
		return check_done();
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("no network namespaces (%s): the kernel comparison is skipped\n",
		       strerror(errno));
		return check_done();
	}
	if (sh_quiet("ip link set lo up") != 0) {
		printf("no iproute2: the kernel comparison is skipped\n");
		return check_done();
	}
	/* iproute2's answer for the same two SAs */
	bool ip_gcm =
	    sh_quiet("ip xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x4b7e0001 "
	             "mode tunnel aead 'rfc4106(gcm(aes))' "
	             "0x0000000000000000000000000000000000000000000000000000000000000000"
	             "00000000 128") == 0;
	bool ip_cbc =
	    sh_quiet("ip xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0x4b7e0002 "
	             "mode tunnel enc 'cbc(aes)' 0x00000000000000000000000000000000 "
	             "auth-trunc 'hmac(sha256)' "
	             "0x0000000000000000000000000000000000000000000000000000000000000000 "
	             "128") == 0;
	sh_quiet("ip xfrm state flush"); /* our own namespace */

	int rc_gcm = keel_xfrm_probe(&gcm, why, sizeof(why));
	printf("probe aes256gcm16: %d: %s (iproute2: %s)\n", rc_gcm, why, ip_gcm ? "yes" : "no");
	CHECK_INT(rc_gcm == 0, ip_gcm);
	if (!ip_gcm && !ip_cbc) {
		/* no ESP at all, as on the project's machines */
		CHECK_INT(rc_gcm, -EPROTONOSUPPORT);
		CHECK(strstr(why, "no ESP") != NULL);
		CHECK(strstr(why, "TUN data path") != NULL);
	}
	int rc_cbc = keel_xfrm_probe(&cbc, why, sizeof(why));
	printf("probe aes128-sha256: %d: %s (iproute2: %s)\n", rc_cbc, why, ip_cbc ? "yes" : "no");
	CHECK_INT(rc_cbc == 0, ip_cbc);
	if (!ip_cbc) {
		CHECK(rc_cbc < 0);
		CHECK(strlen(why) > 20);
	}
	if (ip_gcm && ip_cbc)
		printf("this kernel has ESP: the probe said yes, as iproute2 did\n");
	if (!ip_gcm && !ip_cbc)
		check_install_without_esp();
	check_stale_policies();
	return check_done();
}
