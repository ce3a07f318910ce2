/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * keel-connect-probe: how long a VPN client takes from its start to the
 * first ping answered through its tunnel. Run it in the client's network
 * namespace; tests/bench/connect-bench drives it.
 *
 *     keel-connect-probe [OPTIONS] -- CLIENT [ARGS...]
 *
 * The method. The probe opens a raw ICMP socket, then forks; the child
 * (setsid: no controlling terminal, so a password prompt reads stdin) reads
 * CLOCK_MONOTONIC into a shared page as the very last thing before execvp()
 * of the client: that is t0, so loading the client's libraries counts. The
 * probe meanwhile sends an ICMP echo request to --target every --interval-us
 * (default 500 us; timer slack set to 1 us) and waits in ppoll() in between.
 * Before the client has put in its route the send fails (no route), which
 * costs nothing. The first echo reply with our identifier stops the clock.
 * So the figure is late by at most one interval plus the time the reply
 * takes back, and the probe prints both the reply time and when the request
 * that got it was sent (req_ms) to show that bound, and when a send first
 * found a route (route_ms).
 *
 * With --wait-path PATH and --step 'CMD ARGS' (repeatable; split at
 * spaces), a helper process waits for PATH to appear (polled every 100 us;
 * a socket must also accept a connection)
 * and then runs the steps one after the other, while the pings go on: for a
 * daemon driven by a control tool (charon + swanctl --initiate), whose time
 * then counts from the daemon's exec. --private-run mounts a tmpfs on /run
 * first (in a mount namespace of our own), for a charon's pid file and
 * sockets.
 *
 * After the first reply the probe reads the client's VmHWM and VmRSS
 * (/proc/PID/status, in kB) and CPU time (the run time of its live
 * threads, from each /proc/PID/task/TID/schedstat), prints one line of
 * key=value pairs, and then stops the client with SIGINT (waits up to 10 s, then SIGKILL). With
 * --hold it prints the line and keeps the client running until the probe itself gets SIGTERM or
 * SIGINT (or the client dies), and then prints a second line, "final ...", with the same figures
 * before stopping the client. Exit status 0 when a reply came, 1 otherwise.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 8
#define MAX_WORDS 32

struct opts {
	struct in_addr target;
	uint64_t interval_ns;
	uint64_t timeout_ns;
	const char *stdin_path;
	const char *log_path;
	const char *wait_path;
	char *steps[MAX_STEPS];
	int n_steps;
	bool private_run;
	bool hold;
	char **client;
};

struct shared {
	uint64_t t0_ns;
	int exec_errno;
};

struct figures {
	long hwm_kb;
	long rss_kb;
	double cpu_ms;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t, uint64_t t0)
{
	return (double)(int64_t)(t - t0) / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "keel-connect-probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fputs("usage: keel-connect-probe [--target ADDR] [--interval-us N] [--timeout-ms N]\n"
	      "           [--stdin FILE] [--log FILE] [--private-run] [--hold]\n"
	      "           [--wait-path PATH --step 'CMD ARGS'...] -- CLIENT [ARGS...]\n",
	      stderr);
	exit(2);
}

/* The client's memory (kB) and CPU time; -1 where /proc did not say. */
static void read_figures(pid_t pid, struct figures *f)
{
	char path[64], line[512];
	FILE *fp;

	f->hwm_kb = f->rss_kb = -1;
	f->cpu_ms = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), fp)) {
			sscanf(line, "VmHWM: %ld kB", &f->hwm_kb);
			sscanf(line, "VmRSS: %ld kB", &f->rss_kb);
		}
		fclose(fp);
	}
	/* schedstat: run time in ns, per thread (threads that have exited are not counted) */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	struct dirent *de;
	unsigned long long sum_ns = 0;
	while (dir && (de = readdir(dir))) {
		unsigned long long ns;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
		if ((fp = fopen(path, "re"))) {
			if (fscanf(fp, "%llu", &ns) == 1)
				sum_ns += ns;
			fclose(fp);
		}
	}
	if (dir) {
		closedir(dir);
		f->cpu_ms = (double)sum_ns / 1e6;
	}
}

static uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* 0, or the errno of a failed send (ENETUNREACH before the tunnel is up). */
static int send_echo(int fd, const struct opts *o, uint16_t id, uint16_t seq)
{
	uint8_t pkt[64] = {0};
	struct icmphdr *h = (struct icmphdr *)pkt;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = o->target};

	h->type = ICMP_ECHO;
	h->un.echo.id = htons(id);
	h->un.echo.sequence = htons(seq);
	memcpy(pkt + sizeof(*h), "keel-connect-probe", 18);
	h->checksum = inet_csum(pkt, sizeof(pkt));
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return errno;
	return 0;
}

/* The sequence number of an echo reply to us in the datagram, or -1. */
static int parse_reply(const uint8_t *buf, ssize_t n, uint16_t id)
{
	if (n < (ssize_t)sizeof(struct iphdr))
		return -1;
	size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
	if (ihl < 20 || (size_t)n < ihl + sizeof(struct icmphdr))
		return -1;
	const struct icmphdr *h = (const struct icmphdr *)(buf + ihl);
	if (h->type != ICMP_ECHOREPLY || ntohs(h->un.echo.id) != id)
		return -1;
	return ntohs(h->un.echo.sequence);
}

static void split_words(char *s, char **argv, int max)
{
	int n = 0;
	for (char *w = strtok(s, " "); w && n < max - 1; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
}

static void redirect(const char *stdin_path, int log_fd)
{
	int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || dup2(in, 0) < 0)
		_exit(126);
	if (log_fd >= 0 && (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0))
		_exit(126);
}

/* The path exists; a socket also takes connections (bind comes before listen). */
static bool path_ready(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	if (!S_ISSOCK(st.st_mode))
		return true;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return true;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The helper: waits for the path, then runs each step; exits with the first failure. */
static pid_t start_steps(const struct opts *o, int log_fd, uint64_t deadline_ns)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	while (o->wait_path && !path_ready(o->wait_path)) {
		if (now_ns() > deadline_ns)
			_exit(3);
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < o->n_steps; i++) {
		char *argv[MAX_WORDS];
		split_words(o->steps[i], argv, MAX_WORDS);
		pid_t s = fork();
		if (s == 0) {
			redirect(NULL, log_fd);
			execvp(argv[0], argv);
			_exit(127);
		}
		int status;
		if (s < 0 || waitpid(s, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			_exit(4);
	}
	_exit(0);
}

static pid_t start_client(const struct opts *o, struct shared *sh, int log_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	redirect(o->stdin_path, log_fd);
	/* a blocked mask survives exec: clients with plain handlers would never see SIGINT */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sh->t0_ns = now_ns();
	execvp(o->client[0], o->client);
	sh->exec_errno = errno;
	_exit(127);
}

static bool exited(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

static void stop_client(pid_t pid)
{
	int status;
	kill(pid, SIGINT);
	uint64_t until = now_ns() + 10000000000ull;
	while (!exited(pid, &status)) {
		if (now_ns() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "keel-connect-probe: client %d killed after 10 s\n",
			        (int)pid);
			return;
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

static void print_figures(const char *head, const struct figures *f)
{
	printf("%shwm_kb=%ld rss_kb=%ld cpu_ms=%.2f\n", head, f->hwm_kb, f->rss_kb, f->cpu_ms);
	fflush(stdout);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"target", required_argument, NULL, 't'},
	    {"interval-us", required_argument, NULL, 'i'},
	    {"timeout-ms", required_argument, NULL, 'T'},
	    {"stdin", required_argument, NULL, 'I'},
	    {"log", required_argument, NULL, 'l'},
	    {"wait-path", required_argument, NULL, 'w'},
	    {"step", required_argument, NULL, 's'},
	    {"private-run", no_argument, NULL, 'r'},
	    {"hold", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	inet_pton(AF_INET, "198.51.100.10", &o->target);
	o->interval_ns = 500000;
	o->timeout_ns = 20000000000ull;
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (inet_pton(AF_INET, optarg, &o->target) != 1)
				usage();
			break;
		case 'i':
			o->interval_ns = strtoull(optarg, NULL, 10) * 1000;
			break;
		case 'T':
			o->timeout_ns = strtoull(optarg, NULL, 10) * 1000000;
			break;
		case 'I':
			o->stdin_path = optarg;
			break;
		case 'l':
			o->log_path = optarg;
			break;
		case 'w':
			o->wait_path = optarg;
			break;
		case 's':
			if (o->n_steps == MAX_STEPS)
				usage();
			o->steps[o->n_steps++] = optarg;
			break;
		case 'r':
			o->private_run = true;
			break;
		case 'H':
			o->hold = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || o->interval_ns == 0)
		usage();
	o->client = argv + optind;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	parse_args(argc, argv, &o);

	prctl(PR_SET_TIMERSLACK, 1UL);
	if (o.private_run) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
		    mount("tmpfs", "/run", "tmpfs", 0, "mode=755") < 0)
			die("a private /run");
	}
	int log_fd = -1;
	if (o.log_path &&
	    (log_fd = open(o.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		die(o.log_path);
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		die("raw ICMP socket");
	struct shared *sh =
	    mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	sigset_t stop_mask;
	sigemptyset(&stop_mask);
	sigaddset(&stop_mask, SIGINT);
	sigaddset(&stop_mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_mask, NULL); /* start_client() unblocks it in the child */

	uint16_t id = (uint16_t)getpid();
	/* a route already there (a tunnel left up) would make the figure meaningless */
	if (send_echo(fd, &o, id, 65535) == 0) {
		printf("error=route-exists\n");
		return 1;
	}
	uint64_t start = now_ns();
	pid_t client = start_client(&o, sh, log_fd);
	if (client < 0)
		die("fork");
	pid_t helper = -1;
	if (o.n_steps > 0 || o.wait_path)
		helper = start_steps(&o, log_fd, start + o.timeout_ns);

	/* send times by sequence number (the low 16 bits) */
	static uint64_t sent_ns[65536];
	uint64_t next = now_ns(), route_ns = 0, reply_ns = 0, req_ns = 0;
	uint16_t seq = 0;
	unsigned long sends = 0, replies = 0;
	int status = 0;
	bool client_gone = false;

	while (!reply_ns) {
		uint64_t t = now_ns();
		if (t - start > o.timeout_ns)
			break;
		if (exited(client, &status)) {
			client_gone = true;
			break;
		}
		if (t >= next) {
			if (send_echo(fd, &o, id, seq) == 0) {
				sent_ns[seq] = t;
				if (!route_ns)
					route_ns = t;
				sends++;
			}
			seq++;
			next += o.interval_ns;
			if (next <= t)
				next = t + o.interval_ns;
		}
		uint64_t wait = next > t ? next - t : 0;
		struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (ppoll(&p, 1, &ts, NULL) <= 0 || !(p.revents & POLLIN))
			continue;
		uint8_t buf[1500];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			int s = parse_reply(buf, n, id);
			if (s < 0)
				continue;
			replies++;
			if (!reply_ns) {
				reply_ns = now_ns();
				req_ns = sent_ns[s];
			}
		}
	}

	uint64_t t0 = sh->t0_ns;
	if (sh->exec_errno) {
		errno = sh->exec_errno;
		die(o.client[0]);
	}
	struct figures f;
	if (!reply_ns) {
		if (client_gone)
			printf("error=client-exited status=%d\n",
			       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		else
			printf("error=timeout route_ms=%.3f sends=%lu\n",
			       route_ns ? ms_since(route_ns, t0) : -1.0, sends);
		fflush(stdout);
		if (!client_gone)
			stop_client(client);
		if (helper > 0) {
			kill(helper, SIGKILL);
			waitpid(helper, NULL, 0);
		}
		return 1;
	}
	read_figures(client, &f);
	char head[256];
	snprintf(head, sizeof(head),
	         "first_reply_ms=%.3f req_ms=%.3f route_ms=%.3f pid=%d interval_us=%lu ",
	         ms_since(reply_ns, t0), ms_since(req_ns, t0), ms_since(route_ns, t0), (int)client,
	         (unsigned long)(o.interval_ns / 1000));
	print_figures(head, &f);

	if (o.hold) {
		struct timespec tick = {0, 100000000};
		siginfo_t si;
		while (!(client_gone = exited(client, &status))) {
			if (sigtimedwait(&stop_mask, &si, &tick) > 0) {
				read_figures(client, &f);
				print_figures("final ", &f);
				break;
			}
		}
	}
	if (!client_gone)
		stop_client(client);
	else
		fprintf(stderr, "keel-connect-probe: the client exited by itself\n");
	if (helper > 0) {
		int hs;
		waitpid(helper, &hs, 0);
		if (!WIFEXITED(hs) || WEXITSTATUS(hs) != 0)
			fprintf(stderr, "keel-connect-probe: a step failed (status %d)\n", hs);
	}
	return 0;
}
