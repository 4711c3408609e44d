// SPDX-License-Identifier: GPL-2.0
/*
 * ipcchan-bench: ipcchan beside the kernel's own IPC, measured in one run,
 * on one machine, with the same CPU placement for every mechanism.
 *
 * Mechanisms: pipe, fifo, posix_mq, sysv_msg, unix_seqpacket, shm_futex
 * (a POSIX shared-memory ring with futex wait/wake: the fast baseline),
 * memcpy (one process: the physical limit for large transfers),
 * ipcchan_ioctl (IPCCHAN_IOC_SEND/RECV) and ipcchan_batch
 * (IPCCHAN_IOC_SEND_BATCH/RECV_BATCH, up to 32 messages a call); on
 * request (--mech), shm_zerocopy: the same shared-memory ring used in
 * place, the baseline for zero-copy slots (see "Zero-copy mechanisms").
 *
 * Workloads:
 *   rtt      ping-pong between two processes: latency percentiles from a
 *            histogram after warm-up, with both processes pinned to vCPU 0
 *            (CSV producers=0) and across vCPUs 0 and 1 (producers=1);
 *   stream   one producer (vCPU 0) to one consumer (vCPU 1): msgs/s, MB/s;
 *   fanin    1, 2, 4, 8 producers (vCPU 0) to one consumer (vCPU 1);
 *   openloop one producer (vCPU 0) sending on a fixed schedule at half the
 *            mechanism's peak (its stream rate in this run) to one consumer
 *            (vCPU 1): latency percentiles from each message's intended
 *            send time to its receipt, so that a stall delays every message
 *            scheduled during it (ping-pong, closed-loop, waits it out and
 *            counts it once), and the rate achieved;
 *   scale    create time and kernel memory per channel, 1..10,000 channels.
 *
 * Every message carries (producer, sequence) in its first 8 bytes and the
 * receiver checks them, so a mechanism that loses, reorders or splits a
 * message fails instead of producing a number.
 *
 * Output: progress and tables (each mechanism's ratio to pipe) on stdout;
 * with --csv FILE, rows "kernel,mechanism,workload,msg_size,producers,
 * metric,value" with the calibration, placement and tuning as "# " lines.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/futex.h>
#include <math.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libipcchan.h>

#define KiB		1024ULL
#define MiB		(1024ULL * 1024)
#define NSEC		1000000000ULL
#define BATCH		32		/* messages per batch call */
#define QUEUE_DEPTH	64		/* messages a queue holds (--depth) ... */
#define QUEUE_BYTES	(32 * MiB)	/* ... unless that is more than this */
#define BATCH_BYTES	(32 * MiB)	/* most bytes of one batch's buffers */
#define SEQ_END		0xffffffffu	/* sequence number of an end marker */
#define MAX_PROD	8

#define WL_RTT		(1u << 0)
#define WL_STREAM	(1u << 1)
#define WL_FANIN	(1u << 2)
#define WL_SCALE	(1u << 3)
#define WL_OPEN		(1u << 4)
#define WL_ALL		0x1fu

/* CSV workload names, by bit; "openloop" came after the first four. */
static const char * const wl_names[] = { "rtt", "stream", "fanin", "scale",
					 "openloop" };

#define OPEN_LOAD	0.5	/* openloop: fraction of the peak offered */

/* ---- options ------------------------------------------------------------ */

static struct {
	int quick;
	const char *csv;
	int reps;
	double time_scale;
	const char *mechs;		/* comma list, NULL: all */
	unsigned int workloads;
	const char *accel;
	const char *sched;
	int tune;
	unsigned int depth;
	int same_cpu;
	uint64_t open_spin_ns;		/* openloop producer: spin this close */
	uint64_t sizes[32];		/* --sizes: only these (0 entries: all) */
	unsigned int nsizes;
} opt = { .reps = 0, .time_scale = 1.0, .workloads = WL_ALL, .tune = 1,
	  .depth = QUEUE_DEPTH };

/* Per-mode parameters (set in main from opt.quick). */
static struct {
	const uint64_t *rtt_sizes, *stream_sizes, *fanin_sizes, *scale_counts;
	const uint64_t *open_sizes;
	unsigned int n_rtt, n_stream, n_fanin, n_scale, n_open;
	double rtt_s, stream_s, open_s;	/* measuring time per point, all reps */
	uint64_t rtt_max_iters;
	unsigned int warm_iters;
} P;

static const uint64_t quick_rtt[] = { 64, 4 * KiB, 64 * KiB };
static const uint64_t full_rtt[] = { 8, 64, 512, 4 * KiB, 32 * KiB,
				     256 * KiB, 1 * MiB };
static const uint64_t quick_stream[] = { 8, 64, 4 * KiB, 64 * KiB, 1 * MiB,
					 16 * MiB };
static const uint64_t full_stream[] = { 8, 64, 512, 4 * KiB, 32 * KiB,
					256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB };
static const uint64_t quick_fanin[] = { 64 };
static const uint64_t full_fanin[] = { 64, 4 * KiB };
/* Sizes the stream workload also measures: its rates are the peaks. */
static const uint64_t quick_open[] = { 64, 4 * KiB };
static const uint64_t full_open[] = { 64, 4 * KiB, 256 * KiB };
static const uint64_t scale_counts[] = { 1, 10, 100, 1000, 10000 };
static const int fanin_prods[] = { 1, 2, 4, 8 };

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static const char *size_str(uint64_t n, char *buf)
{
	if (n >= MiB && n % MiB == 0)
		sprintf(buf, "%llu MiB", (unsigned long long)(n / MiB));
	else if (n >= KiB && n % KiB == 0)
		sprintf(buf, "%llu KiB", (unsigned long long)(n / KiB));
	else
		sprintf(buf, "%llu B", (unsigned long long)n);
	return buf;
}

/* A duration in ns, printed with a unit that keeps 3-4 digits. */
static const char *ns_str(double ns, char *buf)
{
	if (ns < 10 * 1000.0)
		sprintf(buf, "%.0f ns", ns);
	else if (ns < 10 * 1000.0 * 1000)
		sprintf(buf, "%.1f us", ns / 1e3);
	else
		sprintf(buf, "%.1f ms", ns / 1e6);
	return buf;
}

static int cpus_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % cpus_online(), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* A buffer of @len bytes, page-aligned, with a page of headroom before it
 * (sysv_msg puts its mtype there) and every page already faulted in. */
static char *buf_alloc(size_t len)
{
	size_t total = 4096 + ((len + 4095) & ~4095ULL);
	char *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, total);
	return p + 4096;
}

static void stamp(char *buf, uint32_t id, uint32_t seq)
{
	memcpy(buf, &id, 4);
	memcpy(buf + 4, &seq, 4);
}

static void unstamp(const char *buf, uint32_t *id, uint32_t *seq)
{
	memcpy(id, buf, 4);
	memcpy(seq, buf + 4, 4);
}

/* ---- histogram: 64 linear sub-buckets per power of two (< 1.6% error) -- */

#define HSUB_BITS	6
#define HSUB		(1u << HSUB_BITS)
#define HBUCKETS	(HSUB + (64 - HSUB_BITS) * HSUB)

struct hist {
	uint64_t n, max;
	uint64_t b[HBUCKETS];
};

static unsigned int hidx(uint64_t v)
{
	unsigned int k;

	if (v < HSUB)
		return (unsigned int)v;
	k = 63 - (unsigned int)__builtin_clzll(v);
	return HSUB + (k - HSUB_BITS) * HSUB +
	       (unsigned int)((v >> (k - HSUB_BITS)) & (HSUB - 1));
}

static uint64_t hlow(unsigned int i, uint64_t *width)
{
	unsigned int k, sub;

	if (i < HSUB) {
		*width = 1;
		return i;
	}
	k = (i - HSUB) / HSUB + HSUB_BITS;
	sub = (i - HSUB) % HSUB;
	*width = 1ULL << (k - HSUB_BITS);
	return (1ULL << k) + sub * *width;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[hidx(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	unsigned int i;

	for (i = 0; i < HBUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
	if (from->max > to->max)
		to->max = from->max;
}

/* The value at quantile @q (0 < q <= 1): its bucket's middle, or the max. */
static double hist_pct(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0, w, lo;
	unsigned int i;

	if (!h->n)
		return 0;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			lo = hlow(i, &w);
			return fmin((double)lo + (double)(w - 1) / 2,
				    (double)h->max);
		}
	}
	return (double)h->max;
}

/* ---- results ------------------------------------------------------------ */

struct row {
	char mech[24];
	char wl[12];
	uint64_t size;
	int prod;
	char metric[20];
	double value;
};

static struct row *rows;
static size_t nrows, rows_cap;
static char **notes;
static size_t nnotes, notes_cap;
static char kernel_rel[128];
static int failures;

static void emit(const char *mech, const char *wl, uint64_t size, int prod,
		 const char *metric, double value)
{
	struct row *r;

	if (nrows == rows_cap) {
		rows_cap = rows_cap ? rows_cap * 2 : 256;
		rows = realloc(rows, rows_cap * sizeof(*rows));
		if (!rows)
			abort();
	}
	r = &rows[nrows++];
	snprintf(r->mech, sizeof(r->mech), "%s", mech);
	snprintf(r->wl, sizeof(r->wl), "%s", wl);
	r->size = size;
	r->prod = prod;
	snprintf(r->metric, sizeof(r->metric), "%s", metric);
	r->value = value;
}

static const struct row *find_row(const char *mech, const char *wl,
				  uint64_t size, int prod, const char *metric)
{
	size_t i;

	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].mech, mech) && !strcmp(rows[i].wl, wl) &&
		    rows[i].size == size && rows[i].prod == prod &&
		    !strcmp(rows[i].metric, metric))
			return &rows[i];
	return NULL;
}

/* A "# " line for the CSV; also printed on stdout when @show. */
static void __attribute__((format(printf, 2, 3)))
note(int show, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (nnotes == notes_cap) {
		notes_cap = notes_cap ? notes_cap * 2 : 64;
		notes = realloc(notes, notes_cap * sizeof(*notes));
		if (!notes)
			abort();
	}
	notes[nnotes++] = s;
	if (show)
		printf("# %s\n", s);
}

/* ---- limits raised for a fair comparison (restored at exit) ------------- */

struct tuned {
	char path[128];
	char old[64];
};

static struct tuned tuned[16];
static unsigned int ntuned;

/* Raise the integer in @path to at least @want. */
static void tune(const char *path, unsigned long long want)
{
	char buf[64], val[32];
	unsigned long long cur;
	int err;

	if (read_file(path, buf, sizeof(buf)))
		return;
	cur = strtoull(buf, NULL, 0);
	if (cur >= want)
		return;
	snprintf(val, sizeof(val), "%llu", want);
	err = write_file(path, val);
	if (err) {
		note(1, "tune %s: %llu, could not raise to %llu: %s", path, cur,
		     want, strerror(-err));
		return;
	}
	if (ntuned < sizeof(tuned) / sizeof(tuned[0])) {
		snprintf(tuned[ntuned].path, sizeof(tuned[0].path), "%s", path);
		snprintf(tuned[ntuned].old, sizeof(tuned[0].old), "%llu", cur);
		ntuned++;
	}
	note(1, "tune %s %llu -> %llu", path, cur, want);
}

static void untune(void)
{
	while (ntuned--)
		write_file(tuned[ntuned].path, tuned[ntuned].old);
}

/*
 * Scheduler features (debugfs sched/features), e.g. NO_DELAY_DEQUEUE: on
 * 6.12 under TCG, delayed dequeue makes some cross-vCPU wakeups wait for
 * the target's next tick. Set only when asked, recorded, restored at exit.
 */
static void sched_features(const char *list)
{
	static const char path[] = "/sys/kernel/debug/sched/features";
	char buf[4096], line[4100], old[64], pat[72], *copy, *f, *save = NULL;
	const char *base;

	if (!list || !*list)
		return;
	if (access(path, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	copy = strdup(list);
	for (f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		base = strncmp(f, "NO_", 3) ? f : f + 3;
		if (read_file(path, buf, sizeof(buf))) {
			note(1, "sched feature %s: %s not readable", f, path);
			break;
		}
		/* The file is one line: "A NO_B C ...". */
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(line, sizeof(line), " %s ", buf);
		snprintf(pat, sizeof(pat), " %s ", base);
		if (strstr(line, pat)) {
			snprintf(old, sizeof(old), "%s", base);
		} else {
			snprintf(pat, sizeof(pat), " NO_%s ", base);
			if (!strstr(line, pat)) {
				note(1, "sched feature %s: not in this kernel", base);
				continue;
			}
			snprintf(old, sizeof(old), "NO_%s", base);
		}
		if (!strcmp(old, f)) {
			note(1, "sched feature %s (already)", f);
			continue;
		}
		if (write_file(path, f)) {
			note(1, "sched feature %s: could not set", f);
			continue;
		}
		if (ntuned < sizeof(tuned) / sizeof(tuned[0])) {
			snprintf(tuned[ntuned].path, sizeof(tuned[0].path), "%s", path);
			snprintf(tuned[ntuned].old, sizeof(tuned[0].old), "%s", old);
			ntuned++;
		}
		note(1, "sched feature %s -> %s", old, f);
	}
	free(copy);
}

static void tune_limits(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	/* 16 MiB messages, queues of opt.depth messages, 10,000 queues. */
	tune("/proc/sys/fs/mqueue/msgsize_max", 16 * MiB);
	tune("/proc/sys/fs/mqueue/msg_max", opt.depth > 1024 ? opt.depth : 1024);
	tune("/proc/sys/fs/mqueue/queues_max", 65536);
	tune("/proc/sys/kernel/msgmax", 16 * MiB);
	tune("/proc/sys/kernel/msgmnb", QUEUE_BYTES);
	tune("/proc/sys/fs/pipe-max-size", QUEUE_BYTES);
	tune("/sys/module/ipcchan/parameters/max_msg_size", 16 * MiB);
	tune("/sys/module/ipcchan/parameters/max_queue_msgs", opt.depth);
	tune("/sys/module/ipcchan/parameters/max_queue_bytes", 2 * QUEUE_BYTES);
	tune("/sys/module/ipcchan/parameters/max_user_bytes", 4ULL << 30);
	tune("/sys/module/ipcchan/parameters/max_user_channels", 1 << 20);
	tune("/sys/module/ipcchan/parameters/max_channels", 1 << 20);
	tune("/sys/module/ipcchan/parameters/max_region_size", 1ULL << 30);
	tune("/sys/module/ipcchan/parameters/max_user_region_bytes", 1ULL << 40);
	if (setrlimit(RLIMIT_MSGQUEUE, &rl))
		note(1, "tune RLIMIT_MSGQUEUE: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max = 65536;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		note(1, "tune RLIMIT_NOFILE: %s", strerror(errno));
	atexit(untune);
}

/* ---- mechanisms --------------------------------------------------------- */

static long sys_futex(uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/*
 * The shared-memory ring: @depth slots of (8-byte length, payload); @head
 * counts messages produced, @tail messages consumed. A side that finds the
 * ring empty (full) sets its wait flag, checks again and sleeps on the
 * other side's counter, and clears the flag once it can go on; the other
 * side moves its counter, then wakes it if the flag is set. No spinning:
 * every mechanism here sleeps when it must wait. Several producers take
 * @lock (a futex mutex) around a send.
 */
struct ring {
	uint32_t head, cons_wait;
	char pad1[56];
	uint32_t tail, prod_wait;
	char pad2[56];
	uint32_t lock;
	char pad3[60];
	uint32_t depth;
	uint32_t pad4;
	uint64_t slot;
};

#define RING_HDR	4096

struct slot_ops;

/* One channel of a measurement, as a mechanism made it. */
struct link {
	size_t size;		/* every message's length */
	unsigned int depth;	/* messages the queue holds */
	int multi;		/* several producers */
	const struct slot_ops *slot;	/* the mechanism's, if zero-copy */
	int rx, tx;
	mqd_t mq;
	int msqid;
	struct ring *ring;
	size_t ring_len;
	char path[96];
	void *priv;		/* a mechanism's own state, if it needs more */
};

/*
 * Zero-copy mechanisms
 * --------------------
 * A mechanism whose messages live in memory it shares with its peer or
 * the kernel (ipcchan's shared-page slots, "ipcchan_zerocopy", once they
 * exist) supplies four slot operations and uses slot_send and slot_recv as
 * its send and recv:
 *   get   wait for room and return where a message of @len bytes is to be
 *         written in place (NULL and *err = -errno on failure);
 *   put   publish it (the pointer get returned, and its length);
 *   next  wait for a message and return where it is, and its length;
 *   done  give it back (the pointer next returned).
 * Each returns 0 or -errno where it returns an int. The producer writes the
 * whole payload into the slot (copied from its buffer, as it would build it
 * in place: the one write the payload needs), with the (producer, sequence)
 * stamp in its first 8 bytes; the consumer checks the stamp there and reads
 * every byte of the payload in place. So a zero-copy row is one write and
 * one read of each byte, where the copying mechanisms' rows are a copy in
 * and a copy out, and memcpy's is one copy in one process.
 *
 * Adding ipcchan_zerocopy takes a make (create the channel and map its
 * slots for @size-byte messages, @depth of them; a size it cannot carry
 * fails with EMSGSIZE, which the workloads report as a skip), a drop, an
 * optional attach (fault the mapping in before the clock starts), the four
 * operations, and its line in mechs[], where a commented-out line is
 * waiting. shm_zerocopy, the shared-memory ring used in place, is the
 * model and the baseline. Every workload but scale, the CSV and the plots
 * take it as it is: e.g. "--mech ipcchan_zerocopy,shm_zerocopy,pipe
 * --workload stream --sizes 1M" for a 1 MiB stream through slots.
 */
struct slot_ops {
	char *(*get)(struct link *l, size_t len, int *err);
	int (*put)(struct link *l, char *slot, size_t len);
	const char *(*next)(struct link *l, size_t *len, int *err);
	int (*done)(struct link *l, const char *slot);
};

struct mech {
	const char *name;
	unsigned int wl;	/* WL_* the mechanism takes part in */
	int batch;		/* send/recv move up to BATCH messages */
	int opt_in;		/* runs only when --mech names it */
	int (*make)(struct link *l, char *why);
	void (*drop)(struct link *l);
	int (*attach)(struct link *l);
	/* Move 1..n messages of len bytes; the count, or -errno. */
	int (*send)(struct link *l, char **bufs, size_t len, unsigned int n);
	int (*recv)(struct link *l, char **bufs, size_t len, unsigned int n);
	const struct slot_ops *slot;	/* zero-copy: see above */
};

static int ctl_fd = -1;
static unsigned int link_serial;

#define WHY_LEN 256

static int fail(char *why, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(why, WHY_LEN, fmt, ap);
	va_end(ap);
	if (n >= 0 && n < WHY_LEN)
		snprintf(why + n, WHY_LEN - n, ": %s", strerror(err));
	return -err;
}

static void fds_drop(struct link *l)
{
	close(l->rx);
	close(l->tx);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, char *p, size_t len)
{
	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!r)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Byte streams keep the default 64 KiB buffer unless depth messages need more. */
static int pipe_grow(struct link *l, char *why)
{
	size_t want = (size_t)l->depth * l->size;
	int cur = fcntl(l->tx, F_GETPIPE_SZ);

	if (cur < 0)
		return fail(why, errno, "F_GETPIPE_SZ");
	if (want <= (size_t)cur)
		return 0;
	if (fcntl(l->tx, F_SETPIPE_SZ, (int)want) < 0)
		return fail(why, errno, "F_SETPIPE_SZ %zu", want);
	return 0;
}

static int pipe_make(struct link *l, char *why)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return fail(why, errno, "pipe2");
	l->rx = p[0];
	l->tx = p[1];
	if (pipe_grow(l, why)) {
		fds_drop(l);
		return -EINVAL;
	}
	return 0;
}

static int stream_send(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int r = write_all(l->tx, bufs[0], len);

	(void)n;
	return r ? r : 1;
}

static int stream_recv(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int r = read_all(l->rx, bufs[0], len);

	(void)n;
	return r ? r : 1;
}

static int fifo_make(struct link *l, char *why)
{
	snprintf(l->path, sizeof(l->path), "/tmp/ipcchan-bench-fifo-%d-%u",
		 getpid(), link_serial++);
	unlink(l->path);
	if (mkfifo(l->path, 0600))
		return fail(why, errno, "mkfifo %s", l->path);
	l->rx = open(l->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	l->tx = l->rx < 0 ? -1 : open(l->path, O_WRONLY | O_CLOEXEC);
	if (l->rx < 0 || l->tx < 0 ||
	    fcntl(l->rx, F_SETFL, fcntl(l->rx, F_GETFL) & ~O_NONBLOCK)) {
		int err = errno;

		close(l->rx);
		unlink(l->path);
		return fail(why, err, "open fifo");
	}
	if (pipe_grow(l, why)) {
		fds_drop(l);
		unlink(l->path);
		return -EINVAL;
	}
	return 0;
}

static void fifo_drop(struct link *l)
{
	fds_drop(l);
	unlink(l->path);
}

static int mq_make(struct link *l, char *why)
{
	struct mq_attr a = { .mq_maxmsg = l->depth,
			     .mq_msgsize = (long)l->size };
	char buf[32];

	snprintf(l->path, sizeof(l->path), "/ipcchan-bench-%d-%u", getpid(),
		 link_serial++);
	l->mq = mq_open(l->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600,
			&a);
	if (l->mq == (mqd_t)-1) {
		int err = errno;

		if (read_file("/proc/sys/fs/mqueue/msgsize_max", buf,
			      sizeof(buf)))
			strcpy(buf, "?\n");
		buf[strcspn(buf, "\n")] = '\0';
		return fail(why, err,
			    "mq_open(maxmsg %u, msgsize %zu; msgsize_max %s)",
			    l->depth, l->size, buf);
	}
	return 0;
}

static void mq_drop(struct link *l)
{
	mq_close(l->mq);
	mq_unlink(l->path);
}

static int mq_send1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	(void)n;
	while (mq_send(l->mq, bufs[0], len, 0)) {
		if (errno != EINTR)
			return -errno;
	}
	return 1;
}

static int mq_recv1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = mq_receive(l->mq, bufs[0], len, NULL)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return (size_t)r == len ? 1 : -EBADMSG;
}

static int msg_make(struct link *l, char *why)
{
	struct msqid_ds ds;

	l->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (l->msqid < 0)
		return fail(why, errno, "msgget");
	/* Room for depth messages, as every message queue gets. */
	if (msgctl(l->msqid, IPC_STAT, &ds) == 0) {
		ds.msg_qbytes = (msglen_t)l->depth * l->size;
		if (msgctl(l->msqid, IPC_SET, &ds) == 0)
			return 0;
	}
	msgctl(l->msqid, IPC_RMID, NULL);
	return fail(why, errno, "msgctl IPC_SET msg_qbytes %zu",
		    (size_t)l->depth * l->size);
}

static void msg_drop(struct link *l)
{
	msgctl(l->msqid, IPC_RMID, NULL);
}

/* The mtype lives in the headroom just before the payload: no extra copy. */
static int msg_send1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	long one = 1;

	(void)n;
	memcpy(bufs[0] - sizeof(long), &one, sizeof(one));
	while (msgsnd(l->msqid, bufs[0] - sizeof(long), len, 0)) {
		if (errno != EINTR)
			return -errno;
	}
	return 1;
}

static int msg_recv1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = msgrcv(l->msqid, bufs[0] - sizeof(long), len, 0, 0)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return (size_t)r == len ? 1 : -EBADMSG;
}

/*
 * A socket's send buffer accounts each message's skb (payload plus about
 * 1 KiB); keep the default unless depth messages need more.
 */
static int sock_make(struct link *l, char *why)
{
	int sv[2], cur = 0, want;
	socklen_t sl = sizeof(cur);
	unsigned long long need = (unsigned long long)l->depth * (l->size + KiB);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return fail(why, errno, "socketpair");
	l->tx = sv[0];
	l->rx = sv[1];
	getsockopt(l->tx, SOL_SOCKET, SO_SNDBUF, &cur, &sl);
	if (need > (unsigned long long)cur) {
		want = need > INT32_MAX / 2 ? INT32_MAX / 2 : (int)need;
		if (setsockopt(l->tx, SOL_SOCKET, SO_SNDBUFFORCE, &want,
			       sizeof(want))) {
			int err = errno;

			fds_drop(l);
			return fail(why, err, "SO_SNDBUFFORCE %d", want);
		}
	}
	return 0;
}

static int sock_send1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = send(l->tx, bufs[0], len, MSG_NOSIGNAL)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return (size_t)r == len ? 1 : -EBADMSG;
}

static int sock_recv1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = recv(l->rx, bufs[0], len, 0)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return (size_t)r == len ? 1 : -EBADMSG;
}

static int shm_make(struct link *l, char *why)
{
	uint64_t slot = (8 + l->size + 63) & ~63ULL;
	struct ring *r;
	int fd;

	snprintf(l->path, sizeof(l->path), "/ipcchan-bench-shm-%d-%u",
		 getpid(), link_serial++);
	fd = shm_open(l->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(why, errno, "shm_open");
	shm_unlink(l->path);
	l->ring_len = RING_HDR + slot * l->depth;
	if (ftruncate(fd, (off_t)l->ring_len)) {
		int err = errno;

		close(fd);
		return fail(why, err, "ftruncate %zu", l->ring_len);
	}
	r = mmap(NULL, l->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED)
		return fail(why, errno, "mmap %zu", l->ring_len);
	memset(r, 0, sizeof(*r));
	r->depth = l->depth;
	r->slot = slot;
	l->ring = r;
	return 0;
}

static void shm_drop(struct link *l)
{
	munmap(l->ring, l->ring_len);
}

/* Map every page of the ring in this process before the clock starts. */
static int shm_attach(struct link *l)
{
	volatile char *p = (volatile char *)l->ring;
	size_t off;

	for (off = RING_HDR; off < l->ring_len; off += 4096)
		p[off] = 0;
	return 0;
}

static void flock_lock(uint32_t *lk)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(lk, &c, 1, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(lk, 2, __ATOMIC_ACQUIRE);
	while (c) {
		sys_futex(lk, FUTEX_WAIT, 2);
		c = __atomic_exchange_n(lk, 2, __ATOMIC_ACQUIRE);
	}
}

static void flock_unlock(uint32_t *lk)
{
	if (__atomic_fetch_sub(lk, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(lk, 0, __ATOMIC_RELEASE);
		sys_futex(lk, FUTEX_WAKE, 1);
	}
}

static char *ring_slot(struct ring *r, uint32_t i)
{
	return (char *)r + RING_HDR + (uint64_t)(i % r->depth) * r->slot;
}

/* Slot operations of the ring, for shm_futex (copying) and shm_zerocopy. */
static char *ring_get(struct link *l, size_t len, int *err)
{
	struct ring *r = l->ring;
	uint32_t h, t;

	(void)len;
	(void)err;
	if (l->multi)
		flock_lock(&r->lock);	/* until ring_put */
	h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	t = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (h - t >= r->depth) {
		for (;;) {
			__atomic_store_n(&r->prod_wait, 1, __ATOMIC_SEQ_CST);
			t = __atomic_load_n(&r->tail, __ATOMIC_SEQ_CST);
			if (h - t < r->depth)
				break;
			sys_futex(&r->tail, FUTEX_WAIT, t);
		}
		/* Only the sleeper clears its flag: a late waker cannot. */
		__atomic_store_n(&r->prod_wait, 0, __ATOMIC_RELAXED);
	}
	return ring_slot(r, h) + 8;
}

static int ring_put(struct link *l, char *slot, size_t len)
{
	struct ring *r = l->ring;
	uint32_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	uint64_t len64 = len;

	memcpy(slot - 8, &len64, 8);
	__atomic_store_n(&r->head, h + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->cons_wait, __ATOMIC_SEQ_CST))
		sys_futex(&r->head, FUTEX_WAKE, 1);
	if (l->multi)
		flock_unlock(&r->lock);
	return 0;
}

static const char *ring_next(struct link *l, size_t *len, int *err)
{
	struct ring *r = l->ring;
	uint32_t h, t;
	uint64_t mlen;
	char *s;

	(void)err;
	t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	if (h == t) {
		for (;;) {
			__atomic_store_n(&r->cons_wait, 1, __ATOMIC_SEQ_CST);
			h = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
			if (h != t)
				break;
			sys_futex(&r->head, FUTEX_WAIT, t);
		}
		__atomic_store_n(&r->cons_wait, 0, __ATOMIC_RELAXED);
	}
	s = ring_slot(r, t);
	memcpy(&mlen, s, 8);
	*len = mlen;
	return s + 8;
}

static int ring_done(struct link *l, const char *slot)
{
	struct ring *r = l->ring;
	uint32_t t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);

	(void)slot;
	__atomic_store_n(&r->tail, t + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->prod_wait, __ATOMIC_SEQ_CST))
		sys_futex(&r->tail, FUTEX_WAKE, 1);
	return 0;
}

static const struct slot_ops ring_slots = {
	.get = ring_get, .put = ring_put, .next = ring_next, .done = ring_done,
};

/* shm_futex copies each message into its slot and out of it. */
static int shm_send1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int err = 0;
	char *s = ring_get(l, len, &err);

	(void)n;
	memcpy(s, bufs[0], len);
	ring_put(l, s, len);
	return 1;
}

static int shm_recv1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	const char *s;
	size_t mlen;
	int err = 0;

	(void)n;
	s = ring_next(l, &mlen, &err);
	if (mlen != len)
		return -EBADMSG;
	memcpy(bufs[0], s, len);
	ring_done(l, s);
	return 1;
}

/*
 * send/recv of every zero-copy mechanism: the payload, stamp first, is
 * written into the slot, and read in place (see "Zero-copy mechanisms").
 * One message per call.
 */
static int slot_send(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int err = -EIO, r;
	char *s = l->slot->get(l, len, &err);

	(void)n;
	if (!s)
		return err;
	memcpy(s, bufs[0], len);
	r = l->slot->put(l, s, len);
	return r ? r : 1;
}

/* Read every byte of a payload in place; the result only defeats the optimiser. */
static uint64_t read_every_byte(const char *p, size_t len)
{
	uint64_t sum = 0, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		sum ^= w;
	}
	for (; i < len; i++)
		sum += (unsigned char)p[i];
	return sum;
}

static volatile uint64_t slot_sink;

static int slot_recv(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int err = -EIO, r;
	const char *s;
	size_t mlen;

	(void)n;
	s = l->slot->next(l, &mlen, &err);
	if (!s)
		return err;
	if (mlen != len)
		return -EBADMSG;
	memcpy(bufs[0], s, 8);
	slot_sink += read_every_byte(s, len);
	r = l->slot->done(l, s);
	return r ? r : 1;
}

static int chan_make(struct link *l, char *why)
{
	struct ipcchan_attr a = { .msg_size_max = (uint32_t)l->size,
				  .queue_msgs = l->depth,
				  .queue_bytes = (uint64_t)l->depth * l->size };
	struct ipcchan_query q;
	int fds[2], r;

	r = ipcchan_create(ctl_fd, IPCCHAN_FD_CLOEXEC, &a, fds);
	if (r < 0) {
		if (ipcchan_query(ctl_fd, &q) == 0)
			return fail(why, -r,
				    "ipcchan_create(msg_size_max %zu, queue_bytes %llu; module max_msg_size %llu, max_queue_bytes %llu)",
				    l->size, (unsigned long long)a.queue_bytes,
				    (unsigned long long)q.max_msg_size,
				    (unsigned long long)q.max_queue_bytes);
		return fail(why, -r, "ipcchan_create");
	}
	l->rx = fds[0];
	l->tx = fds[1];
	return 0;
}

static int chan_send1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	int r;

	(void)n;
	while ((r = ipcchan_send(l->tx, bufs[0], len, 0, 0)) == -EINTR)
		;
	return r ? r : 1;
}

static int chan_recv1(struct link *l, char **bufs, size_t len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = ipcchan_recv(l->rx, bufs[0], len, NULL, 0)) == -EINTR)
		;
	if (r < 0)
		return (int)r;
	return (size_t)r == len ? 1 : -EBADMSG;
}

/* Point up to BATCH message headers at @bufs; returns how many. */
static unsigned int batch_fill(struct ipcchan_msghdr *h, char **bufs,
			       size_t len, unsigned int n)
{
	unsigned int i;

	if (n > BATCH)
		n = BATCH;
	memset(h, 0, sizeof(h[0]) * n);
	for (i = 0; i < n; i++) {
		h[i].buf = (uintptr_t)bufs[i];
		h[i].len = len;
	}
	return n;
}

static int chan_sendv(struct link *l, char **bufs, size_t len, unsigned int n)
{
	struct ipcchan_msghdr h[BATCH];
	int r;

	n = batch_fill(h, bufs, len, n);
	while ((r = ipcchan_send_batch(l->tx, h, n, 0, 0)) == -EINTR)
		;
	return r;
}

static int chan_recvv(struct link *l, char **bufs, size_t len, unsigned int n)
{
	struct ipcchan_msghdr h[BATCH];
	unsigned int i;
	int r;

	n = batch_fill(h, bufs, len, n);
	while ((r = ipcchan_recv_batch(l->rx, h, n, 0, 0)) == -EINTR)
		;
	if (r == 0)
		return -EPIPE;
	for (i = 0; r > 0 && i < (unsigned int)r; i++)
		if (h[i].len != len)
			return -EBADMSG;
	return r;
}

/*
 * ipcchan_zerocopy: a channel whose region holds depth + 1 slots of the
 * message size (rounded up to IPCCHAN_SLOT_ALIGN), so the queue can be full
 * while the producer holds one more. Mapped once, read-write, through the
 * sending endpoint, before the fork: every process shares the mapping.
 * Loan and send on the sending endpoint, receive and release on the
 * receiving one.
 */
struct zc {
	struct ipcchan_region rg;
};

static int zc_make(struct link *l, char *why)
{
	uint64_t slot = (l->size + IPCCHAN_SLOT_ALIGN - 1) &
			~(uint64_t)(IPCCHAN_SLOT_ALIGN - 1);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct ipcchan_attr a = { .queue_msgs = l->depth };
	struct zc *z;
	int fds[2], r;

	a.region_size = ((l->depth + 1) * slot + page - 1) & ~(page - 1);
	a.slot_size = (uint32_t)slot;
	z = calloc(1, sizeof(*z));
	if (!z)
		return fail(why, ENOMEM, "zc");
	r = ipcchan_create(ctl_fd, IPCCHAN_FD_CLOEXEC, &a, fds);
	if (r < 0) {
		free(z);
		return fail(why, -r, "ipcchan_create(region %llu, slot %u)",
			    (unsigned long long)a.region_size, a.slot_size);
	}
	l->rx = fds[0];
	l->tx = fds[1];
	r = ipcchan_map(l->tx, 0, &z->rg);
	if (r < 0) {
		fds_drop(l);
		free(z);
		return fail(why, -r, "ipcchan_map");
	}
	l->priv = z;
	return 0;
}

static void zc_drop(struct link *l)
{
	struct zc *z = l->priv;

	ipcchan_unmap(&z->rg);
	free(z);
	fds_drop(l);
}

/* Map every page of the region in this process before the clock starts. */
static int zc_attach(struct link *l)
{
	struct zc *z = l->priv;
	volatile char *p = z->rg.addr;
	size_t off;

	for (off = 0; off < z->rg.size; off += 4096)
		p[off] = 0;
	return 0;
}

static uint32_t zc_slot_of(struct zc *z, const char *s)
{
	return (uint32_t)((size_t)(s - (char *)z->rg.addr) / z->rg.slot_size);
}

static char *zc_get(struct link *l, size_t len, int *err)
{
	struct zc *z = l->priv;
	int slot;

	(void)len;
	while ((slot = ipcchan_slot_loan(l->tx, 0, 0)) == -EINTR)
		;
	if (slot < 0) {
		*err = slot;
		return NULL;
	}
	return ipcchan_slot_ptr(&z->rg, (uint32_t)slot);
}

static int zc_put(struct link *l, char *s, size_t len)
{
	uint32_t slot = zc_slot_of(l->priv, s);
	int r;

	while ((r = ipcchan_slot_send(l->tx, slot, len, 0, 0, 0)) == -EINTR)
		;
	return r;
}

static const char *zc_next(struct link *l, size_t *len, int *err)
{
	struct zc *z = l->priv;
	uint32_t slot;
	ssize_t r;

	while ((r = ipcchan_slot_recv(l->rx, &slot, NULL, 0, NULL, 0,
				      0)) == -EINTR)
		;
	if (r < 0 || slot == IPCCHAN_SLOT_NONE) {
		*err = r < 0 ? (int)r : -EBADMSG;
		return NULL;
	}
	*len = (size_t)r;
	return ipcchan_slot_ptr(&z->rg, slot);
}

static int zc_done(struct link *l, const char *s)
{
	return ipcchan_slot_release(l->rx, zc_slot_of(l->priv, s));
}

static const struct slot_ops zc_slots = {
	.get = zc_get, .put = zc_put, .next = zc_next, .done = zc_done,
};

#define WL_MSG	(WL_RTT | WL_STREAM | WL_FANIN | WL_OPEN)

static const struct mech mechs[] = {
	{ .name = "pipe", .wl = WL_MSG | WL_SCALE, .make = pipe_make,
	  .drop = fds_drop, .send = stream_send, .recv = stream_recv },
	{ .name = "fifo", .wl = WL_MSG, .make = fifo_make, .drop = fifo_drop,
	  .send = stream_send, .recv = stream_recv },
	{ .name = "posix_mq", .wl = WL_MSG | WL_SCALE, .make = mq_make,
	  .drop = mq_drop, .send = mq_send1, .recv = mq_recv1 },
	{ .name = "sysv_msg", .wl = WL_MSG | WL_SCALE, .make = msg_make,
	  .drop = msg_drop, .send = msg_send1, .recv = msg_recv1 },
	{ .name = "unix_seqpacket", .wl = WL_MSG | WL_SCALE, .make = sock_make,
	  .drop = fds_drop, .send = sock_send1, .recv = sock_recv1 },
	{ .name = "shm_futex", .wl = WL_MSG, .make = shm_make,
	  .drop = shm_drop, .attach = shm_attach, .send = shm_send1,
	  .recv = shm_recv1 },
	{ .name = "memcpy", .wl = WL_STREAM },	/* no make: one process */
	{ .name = "ipcchan_ioctl", .wl = WL_MSG | WL_SCALE, .make = chan_make,
	  .drop = fds_drop, .send = chan_send1, .recv = chan_recv1 },
	{ .name = "ipcchan_batch", .wl = WL_MSG, .batch = 1, .make = chan_make,
	  .drop = fds_drop, .send = chan_sendv, .recv = chan_recvv },
	/* Zero-copy; see "Zero-copy mechanisms". */
	{ .name = "shm_zerocopy", .wl = WL_MSG, .opt_in = 1, .make = shm_make,
	  .drop = shm_drop, .attach = shm_attach, .send = slot_send,
	  .recv = slot_recv, .slot = &ring_slots },
	{ .name = "ipcchan_zerocopy", .wl = WL_MSG, .make = zc_make,
	  .drop = zc_drop, .attach = zc_attach, .send = slot_send,
	  .recv = slot_recv, .slot = &zc_slots },
};

#define NMECH	(sizeof(mechs) / sizeof(mechs[0]))

static int mech_selected(const struct mech *m)
{
	const char *p = opt.mechs;
	size_t n = strlen(m->name);

	if (!p)
		return !m->opt_in;
	while (*p) {
		if (!strncmp(p, m->name, n) && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/* How many messages a queue holds for @size: opt.depth, within bytes. */
static unsigned int depth_for(uint64_t size)
{
	uint64_t d = QUEUE_BYTES / size;

	if (d > opt.depth)
		d = opt.depth;
	return d < 2 ? 2 : (unsigned int)d;
}

static unsigned int batch_for(const struct mech *m, uint64_t size)
{
	uint64_t n = BATCH_BYTES / size;

	if (!m->batch)
		return 1;
	if (n > BATCH)
		n = BATCH;
	return n < 1 ? 1 : (unsigned int)n;
}

/* ---- running a measurement in child processes --------------------------- */

struct shared {
	uint32_t ready, go, failed;
	uint64_t t_go;
	uint64_t count, t0, t1;
	uint64_t sleeps_cons, sleeps_prod;	/* voluntary context switches */
	uint64_t total;				/* messages, warm-up included */
	uint64_t unsent;			/* openloop: never sent */
	int err;
	char why[160];
	struct hist hist;
	struct hist late;	/* openloop: lower bounds for the unsent */
	struct hist lag;	/* openloop: producer's lateness per message */
};

struct point {
	const struct mech *m;
	struct link l[2];
	size_t size;
	unsigned int nb;
	int nprod;
	unsigned int nchild;
	uint64_t warm_ns, run_ns, max_iters;
	double period_ns;	/* openloop: between intended send times */
	struct shared *sh;
};

static struct shared *sh;

static void __attribute__((noreturn, format(printf, 3, 4)))
child_fail(struct point *pt, int err, const char *fmt, ...)
{
	va_list ap;

	if (!__atomic_exchange_n(&pt->sh->failed, 1, __ATOMIC_SEQ_CST)) {
		va_start(ap, fmt);
		vsnprintf(pt->sh->why, sizeof(pt->sh->why), fmt, ap);
		va_end(ap);
		pt->sh->err = err;
	}
	_exit(1);
}

static void barrier(struct point *pt)
{
	struct shared *s = pt->sh;

	if (__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST) == pt->nchild) {
		s->t_go = now_ns();
		__atomic_store_n(&s->go, 1, __ATOMIC_SEQ_CST);
	}
	while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE))
		usleep(500);
}

static uint64_t sleeps(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_nvcsw;
}

static char **bufs_alloc(struct point *pt, unsigned int n)
{
	char **b = calloc(n, sizeof(*b));
	unsigned int i;

	if (!b)
		child_fail(pt, ENOMEM, "calloc");
	for (i = 0; i < n; i++) {
		b[i] = buf_alloc(pt->size);
		if (!b[i])
			child_fail(pt, ENOMEM, "buffer of %zu bytes", pt->size);
	}
	return b;
}

static void attach(struct point *pt, struct link *l)
{
	if (pt->m->attach && pt->m->attach(l))
		child_fail(pt, EIO, "attach");
}

static void xsend(struct point *pt, struct link *l, char **bufs,
		  unsigned int n)
{
	unsigned int done = 0;
	int r;

	while (done < n) {
		r = pt->m->send(l, bufs + done, pt->size, n - done);
		if (r <= 0)
			child_fail(pt, r ? -r : EIO, "send %zu B", pt->size);
		done += (unsigned int)r;
	}
}

static unsigned int xrecv(struct point *pt, struct link *l, char **bufs,
			  unsigned int n)
{
	int r = pt->m->recv(l, bufs, pt->size, n);

	if (r <= 0)
		child_fail(pt, r ? -r : EIO, "receive %zu B", pt->size);
	return (unsigned int)r;
}

/* rtt, child 0: send, wait for the echo, time the round trip. */
static void rtt_client(struct point *pt)
{
	char **out = bufs_alloc(pt, 1), **in = bufs_alloc(pt, 1);
	uint64_t i, t0, t1, start, warm = 0;
	uint32_t id, seq;
	int warming = 1;

	attach(pt, &pt->l[0]);
	attach(pt, &pt->l[1]);
	barrier(pt);
	start = now_ns();
	for (i = 0;; i++) {
		stamp(out[0], 0, (uint32_t)i);
		t0 = now_ns();
		xsend(pt, &pt->l[0], out, 1);
		xrecv(pt, &pt->l[1], in, 1);
		t1 = now_ns();
		unstamp(in[0], &id, &seq);
		if (id || seq != (uint32_t)i)
			child_fail(pt, EBADMSG, "echo %u/%u, sent 0/%u", id,
				   seq, (uint32_t)i);
		if (warming) {
			/* Warm-up: 10% of the time or warm_iters, at least 10. */
			if (i >= 10 && (i >= P.warm_iters ||
					t1 - start >= pt->warm_ns)) {
				warming = 0;
				warm = i + 1;
				start = t1;
			}
			continue;
		}
		hist_add(&pt->sh->hist, t1 - t0);
		if (i + 1 - warm >= 20 &&
		    (i + 1 - warm >= pt->max_iters || t1 - start >= pt->run_ns))
			break;
	}
	stamp(out[0], 0, SEQ_END);
	xsend(pt, &pt->l[0], out, 1);
}

/* rtt, child 1: send every message back. */
static void rtt_echo(struct point *pt)
{
	char **b = bufs_alloc(pt, 1);
	uint32_t id, seq;

	attach(pt, &pt->l[0]);
	attach(pt, &pt->l[1]);
	barrier(pt);
	for (;;) {
		xrecv(pt, &pt->l[0], b, 1);
		unstamp(b[0], &id, &seq);
		if (seq == SEQ_END)
			break;
		xsend(pt, &pt->l[1], b, 1);
	}
}

/* stream/fanin producer @id: send until the deadline, then an end marker. */
static void producer(struct point *pt, uint32_t id)
{
	char **b = bufs_alloc(pt, pt->nb);
	uint64_t deadline, cs;
	uint32_t seq = 0;
	unsigned int j;

	attach(pt, &pt->l[0]);
	barrier(pt);
	cs = sleeps();
	deadline = pt->sh->t_go + pt->warm_ns + pt->run_ns;
	for (;;) {
		for (j = 0; j < pt->nb; j++)
			stamp(b[j], id, seq + j);
		xsend(pt, &pt->l[0], b, pt->nb);
		seq += pt->nb;
		if (seq >= 8 && now_ns() >= deadline)
			break;
	}
	stamp(b[0], id, SEQ_END);
	xsend(pt, &pt->l[0], b, 1);
	__atomic_add_fetch(&pt->sh->sleeps_prod, sleeps() - cs, __ATOMIC_RELAXED);
}

/* The consumer: checks every message, counts those after the warm-up. */
static void consumer(struct point *pt)
{
	char **b = bufs_alloc(pt, pt->nb);
	uint32_t next[MAX_PROD] = { 0 }, id, seq;
	uint64_t count = 0, c0 = 0, t0 = 0, t, warm_end, first = 0, cs;
	unsigned int j, n;
	int ends = 0, started = 0;

	attach(pt, &pt->l[0]);
	barrier(pt);
	cs = sleeps();
	warm_end = pt->sh->t_go + pt->warm_ns;
	while (ends < pt->nprod) {
		n = xrecv(pt, &pt->l[0], b, pt->nb);
		t = now_ns();
		if (!first)
			first = t;
		for (j = 0; j < n; j++) {
			unstamp(b[j], &id, &seq);
			if (seq == SEQ_END) {
				ends++;
				continue;
			}
			if (id >= (uint32_t)pt->nprod || seq != next[id])
				child_fail(pt, EBADMSG,
					   "got %u/%u, expected %u/%u", id,
					   seq, id,
					   id < MAX_PROD ? next[id] : 0);
			next[id]++;
			count++;
		}
		if (!started && t >= warm_end) {
			started = 1;
			c0 = count;
			t0 = t;
		}
	}
	t = now_ns();
	if (!started || count == c0) {
		c0 = 0;
		t0 = first;
	}
	pt->sh->count = count - c0;
	pt->sh->t0 = t0;
	pt->sh->t1 = t;
	pt->sh->sleeps_cons = sleeps() - cs;
	pt->sh->total = count;
}

/* openloop: when message @k is due, on the schedule that starts at go. */
static uint64_t open_due(const struct point *pt, uint64_t k)
{
	return pt->sh->t_go + (uint64_t)((double)k * pt->period_ns);
}

/*
 * Wait until @t: sleep (the kernel's timer, with 1 ns of slack), and with
 * --open-spin spin the last stretch instead, since a wakeup can be late by
 * more than the gap between two small messages. Sleeping is the default:
 * under TCG on a small host a spinning vCPU takes a host core from the
 * consumer's. How late the producer got to each message is measured
 * either way (the producer lag). With --same-cpu: sleep only.
 */
static void open_wait(uint64_t t)
{
	uint64_t now = now_ns(), margin = opt.same_cpu ? 0 : opt.open_spin_ns;
	struct timespec ts;

	if (t > now + 2 * margin) {
		ts.tv_sec = (time_t)((t - margin) / NSEC);
		ts.tv_nsec = (long)((t - margin) % NSEC);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
	}
	while (now_ns() < t)
		__builtin_ia32_pause();
}

/*
 * openloop producer: message k is due at go + k * period, for every k due
 * before the end of the run. Whatever is due is sent at once (up to a
 * batch), late or not: a stall makes the messages due during it wait, and
 * their latency counts from when they were due. Far behind the schedule
 * (a second and a run past the end) it stops; what it never sent is
 * counted, and its latency so far goes in as a lower bound.
 */
static void open_producer(struct point *pt)
{
	char **b = bufs_alloc(pt, pt->nb);
	uint64_t k = 0, total, now, end, give_up, warm_end;
	unsigned int j, n;

	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	attach(pt, &pt->l[0]);
	barrier(pt);
	warm_end = pt->sh->t_go + pt->warm_ns;
	end = warm_end + pt->run_ns;
	total = (uint64_t)ceil((double)(end - pt->sh->t_go) / pt->period_ns);
	if (total >= SEQ_END)
		child_fail(pt, ERANGE, "%llu messages scheduled",
			   (unsigned long long)total);
	give_up = end + pt->run_ns + NSEC;
	while (k < total) {
		now = now_ns();
		if (now > give_up)
			break;
		if (open_due(pt, k) > now) {
			open_wait(open_due(pt, k));
			continue;
		}
		for (n = 1; n < pt->nb && k + n < total &&
			    open_due(pt, k + n) <= now; n++)
			;
		for (j = 0; j < n; j++) {
			stamp(b[j], 0, (uint32_t)(k + j));
			if (open_due(pt, k + j) >= warm_end)
				hist_add(&pt->sh->lag, now - open_due(pt, k + j));
		}
		xsend(pt, &pt->l[0], b, n);
		k += n;
	}
	now = now_ns();
	pt->sh->unsent = total - k;
	for (; k < total; k++)
		if (open_due(pt, k) >= warm_end)
			hist_add(&pt->sh->late, now - open_due(pt, k));
	stamp(b[0], 0, SEQ_END);
	xsend(pt, &pt->l[0], b, 1);
}

/* openloop consumer: latency of each message from when it was due. */
static void open_consumer(struct point *pt)
{
	char **b = bufs_alloc(pt, pt->nb);
	uint64_t t, due, warm_end, count = 0, t_last = 0;
	uint32_t next = 0, id, seq;
	unsigned int j, n;
	int end = 0;

	attach(pt, &pt->l[0]);
	barrier(pt);
	warm_end = pt->sh->t_go + pt->warm_ns;
	while (!end) {
		n = xrecv(pt, &pt->l[0], b, pt->nb);
		t = now_ns();
		for (j = 0; j < n; j++) {
			unstamp(b[j], &id, &seq);
			if (seq == SEQ_END && !id) {
				end = 1;
				continue;
			}
			if (id || seq != next || end)
				child_fail(pt, EBADMSG, "got %u/%u, expected 0/%u",
					   id, seq, next);
			next++;
			due = open_due(pt, seq);
			if (due < warm_end)
				continue;
			hist_add(&pt->sh->hist, t > due ? t - due : 0);
			count++;
			t_last = t;
		}
	}
	pt->sh->count = count;
	pt->sh->t0 = warm_end;
	pt->sh->t1 = t_last;
	pt->sh->total = next;
}

static void memcpy_stream(struct point *pt)
{
	char *src = buf_alloc(pt->size), *dst = buf_alloc(pt->size);
	uint64_t n = 0, k, t, t0, end, every;

	if (!src || !dst)
		child_fail(pt, ENOMEM, "buffers");
	every = pt->size >= 64 * KiB ? 1 : 64 * KiB / pt->size;
	t0 = now_ns();
	end = t0 + pt->warm_ns;
	for (;;) {	/* warm-up */
		for (k = 0; k < every; k++) {
			memcpy(dst, src, pt->size);
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		if (now_ns() >= end)
			break;
	}
	t0 = now_ns();
	end = t0 + pt->run_ns;
	do {
		for (k = 0; k < every; k++) {
			memcpy(dst, src, pt->size);
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		n += every;
		t = now_ns();
	} while (t < end || n < 8);
	pt->sh->count = n;
	pt->sh->t0 = t0;
	pt->sh->t1 = t;
}

enum job { JOB_RTT, JOB_STREAM, JOB_MEMCPY, JOB_OPEN };

/*
 * Run one measurement. Returns 0, or -errno with @why filled (a skip: the
 * mechanism cannot do this, said why) or 1 on a failure (printed).
 */
static int run_point(struct point *pt, enum job job, int cpu_a, int cpu_b,
		     char *why)
{
	pid_t pids[MAX_PROD + 1];
	unsigned int i, live;
	uint64_t limit;
	int r, status, bad = 0, nl = job == JOB_RTT ? 2 : 1;

	memset(sh, 0, offsetof(struct shared, hist));
	memset(&sh->hist, 0, sizeof(sh->hist));
	memset(&sh->late, 0, sizeof(sh->late));
	memset(&sh->lag, 0, sizeof(sh->lag));
	pt->sh = sh;
	memset(pt->l, 0, sizeof(pt->l));
	if (job != JOB_MEMCPY) {
		for (i = 0; i < (unsigned int)nl; i++) {
			pt->l[i].size = pt->size;
			pt->l[i].depth = depth_for(pt->size);
			pt->l[i].multi = pt->nprod > 1;
			pt->l[i].slot = pt->m->slot;
			r = pt->m->make(&pt->l[i], why);
			if (r) {
				if (i)
					pt->m->drop(&pt->l[0]);
				return r;
			}
		}
	}
	pt->nchild = job == JOB_RTT || job == JOB_OPEN ? 2 :
		     job == JOB_MEMCPY ? 1 : 1 + (unsigned int)pt->nprod;
	fflush(stdout);
	for (i = 0; i < pt->nchild; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			pt->nchild = i;
			bad = 1;
			snprintf(sh->why, sizeof(sh->why), "fork: %s",
				 strerror(errno));
			break;
		}
		if (pids[i])
			continue;
		if (job == JOB_RTT) {
			pin(i ? cpu_b : cpu_a);
			if (i)
				rtt_echo(pt);
			else
				rtt_client(pt);
		} else if (job == JOB_MEMCPY) {
			pin(cpu_a);
			memcpy_stream(pt);
		} else if (job == JOB_OPEN) {
			pin(i ? cpu_a : cpu_b);
			if (i)
				open_producer(pt);
			else
				open_consumer(pt);
		} else if (i == 0) {
			pin(cpu_b);
			consumer(pt);
		} else {
			pin(cpu_a);
			producer(pt, i - 1);
		}
		_exit(0);
	}
	/* Wait; a child that failed or overran leaves the others stuck. */
	limit = now_ns() + 60 * NSEC +
		(uint64_t)(20 * (double)(pt->warm_ns + pt->run_ns));
	live = pt->nchild;
	while (live) {
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0) {
			for (i = 0; i < pt->nchild; i++)
				if (pids[i] == p)
					pids[i] = 0;
			live--;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				bad = 1;
		} else if (p < 0 && errno != EINTR) {
			break;
		} else {
			if (bad || now_ns() > limit) {
				if (!bad)
					snprintf(sh->why, sizeof(sh->why),
						 "timed out");
				bad = 1;
				for (i = 0; i < pt->nchild; i++)
					if (pids[i])
						kill(pids[i], SIGKILL);
			}
			usleep(2000);
		}
	}
	if (job != JOB_MEMCPY)
		for (i = 0; i < (unsigned int)nl; i++)
			pt->m->drop(&pt->l[i]);
	if (!bad)
		return 0;
	/* A size the mechanism cannot carry is a skip, anything else a failure. */
	if (sh->err == EMSGSIZE || sh->err == ENOMEM || sh->err == ENOBUFS) {
		snprintf(why, WHY_LEN, "%s: %s", sh->why, strerror(sh->err));
		return -sh->err;
	}
	snprintf(why, WHY_LEN, "%s%s%s", sh->why, sh->err ? ": " : "",
		 sh->err ? strerror(sh->err) : "");
	return 1;
}

static void report_skip(const char *mech, const char *wl, uint64_t size,
			int prod, const char *why)
{
	char sz[32];

	printf("  %-15s skip: %s\n", mech, why);
	note(0, "skip %s %s msg_size=%llu producers=%d (%s): %s", mech, wl,
	     (unsigned long long)size, prod, size_str(size, sz), why);
}

static void report_fail(const char *mech, const char *wl, uint64_t size,
			int prod, const char *why)
{
	printf("  %-15s FAILED: %s\n", mech, why);
	note(0, "error %s %s msg_size=%llu producers=%d: %s", mech, wl,
	     (unsigned long long)size, prod, why);
	failures++;
}

/* Per (mechanism, size): skipped once, then not tried again. */
static int skipped[NMECH];

static double median(double *v, int n)
{
	int i, j;
	double t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int reps(void)
{
	return opt.reps > 0 ? opt.reps : opt.quick ? 3 : 5;
}

/* ---- workloads ---------------------------------------------------------- */

/* Whether --sizes lets @size be measured. */
static int size_selected(uint64_t size)
{
	unsigned int i;

	if (!opt.nsizes)
		return 1;
	for (i = 0; i < opt.nsizes; i++)
		if (opt.sizes[i] == size)
			return 1;
	return 0;
}

/*
 * One repetition of a stream (@nprod 0) or fanin point: 0 and the rate in
 * *rate (the run's details stay in sh), or run_point's result.
 */
static int stream_once(const struct mech *m, uint64_t size, int nprod,
		       double *rate, char *why)
{
	struct point pt = { .m = m, .size = size,
			    .nprod = nprod ? nprod : 1 };
	int r;

	pt.nb = batch_for(m, size);
	pt.run_ns = (uint64_t)(P.stream_s * 1e9 / reps());
	pt.warm_ns = pt.run_ns / 4;
	r = run_point(&pt, m->make ? JOB_STREAM : JOB_MEMCPY, 0,
		      opt.same_cpu ? 0 : 1, why);
	if (!r)
		*rate = (double)sh->count * 1e9 / (double)(sh->t1 - sh->t0);
	return r;
}

static struct hist *acc;

static void wl_rtt(void)
{
	unsigned int s, k;
	int rep, place, ncpu = cpus_online();
	char sz[32], a[32], b[32], c[32], d[32], why[WHY_LEN];

	printf("\n== rtt: ping-pong round trip, latency from a histogram after warm-up\n");
	for (s = 0; s < P.n_rtt; s++) {
		uint64_t size = P.rtt_sizes[s];

		if (!size_selected(size))
			continue;
		for (place = 0; place < 2; place++) {
			/* place 0: both on vCPU 0 (producers=0); 1: vCPUs 0 and 1 */
			if (place && ncpu < 2) {
				printf("rtt %s across vCPUs: skip, one CPU online\n",
				       size_str(size, sz));
				note(0, "skip rtt across vCPUs: one CPU online");
				continue;
			}
			printf("rtt %s, %s\n", size_str(size, sz),
			       place ? "across vCPUs (producers=1)" :
				       "same vCPU (producers=0)");
			memset(skipped, 0, sizeof(skipped));
			memset(acc, 0, sizeof(*acc) * NMECH);
			for (rep = 0; rep < reps(); rep++) {
				for (k = 0; k < NMECH; k++) {
					const struct mech *m = &mechs[k];
					struct point pt = { .m = m, .size = size,
							    .nb = 1, .nprod = 1 };
					int r;

					if (!(m->wl & WL_RTT) || !mech_selected(m) ||
					    skipped[k])
						continue;
					pt.run_ns = (uint64_t)(P.rtt_s * 1e9 / reps());
					pt.warm_ns = pt.run_ns / 10;
					pt.max_iters = P.rtt_max_iters / reps();
					r = run_point(&pt, JOB_RTT, 0, place, why);
					if (r) {
						skipped[k] = 1;
						if (r < 0)
							report_skip(m->name, "rtt", size, place, why);
						else
							report_fail(m->name, "rtt", size, place, why);
						continue;
					}
					hist_merge(&acc[k], &sh->hist);
				}
			}
			for (k = 0; k < NMECH; k++) {
				struct hist *h = &acc[k];

				if (!h->n)
					continue;
				emit(mechs[k].name, "rtt", size, place, "p50_ns", hist_pct(h, 0.5));
				emit(mechs[k].name, "rtt", size, place, "p99_ns", hist_pct(h, 0.99));
				emit(mechs[k].name, "rtt", size, place, "p999_ns", hist_pct(h, 0.999));
				emit(mechs[k].name, "rtt", size, place, "max_ns", (double)h->max);
				printf("  %-15s p50 %9s  p99 %9s  p99.9 %9s  max %9s  (%llu round trips)\n",
				       mechs[k].name, ns_str(hist_pct(h, 0.5), a),
				       ns_str(hist_pct(h, 0.99), b),
				       ns_str(hist_pct(h, 0.999), c),
				       ns_str((double)h->max, d),
				       (unsigned long long)h->n);
			}
			fflush(stdout);
		}
	}
}

/* stream (nprod 0: one producer, workload "stream") and fanin. */
static void wl_stream(const char *wl, uint64_t size, int nprod)
{
	double v[NMECH][16], sc[NMECH][16], sp[NMECH][16];
	int nv[NMECH] = { 0 }, rep;
	unsigned int k;
	char why[WHY_LEN];

	memset(skipped, 0, sizeof(skipped));
	for (rep = 0; rep < reps() && rep < 16; rep++) {
		for (k = 0; k < NMECH; k++) {
			const struct mech *m = &mechs[k];
			unsigned int need = nprod ? WL_FANIN : WL_STREAM;
			double rate;
			int r;

			if (!(m->wl & need) || !mech_selected(m) || skipped[k])
				continue;
			r = stream_once(m, size, nprod, &rate, why);
			if (r) {
				skipped[k] = 1;
				if (r < 0)
					report_skip(m->name, wl, size, nprod ? nprod : 1, why);
				else
					report_fail(m->name, wl, size, nprod ? nprod : 1, why);
				continue;
			}
			/* Sleeps per message: how often a side had to wait. */
			sc[k][nv[k]] = sh->total ? (double)sh->sleeps_cons / (double)sh->total : 0;
			sp[k][nv[k]] = sh->total ? (double)sh->sleeps_prod / (double)sh->total : 0;
			v[k][nv[k]++] = rate;
		}
	}
	for (k = 0; k < NMECH; k++) {
		double rate;

		if (!nv[k])
			continue;
		rate = median(v[k], nv[k]);
		emit(mechs[k].name, wl, size, nprod ? nprod : 1, "msgs_per_s", rate);
		if (!nprod)
			emit(mechs[k].name, wl, size, 1, "mb_per_s",
			     rate * (double)size / 1e6);
		printf("  %-15s %12.0f msgs/s  %10.1f MB/s  (median of %d)",
		       mechs[k].name, rate, rate * (double)size / 1e6, nv[k]);
		if (mechs[k].make)
			printf("  sleeps/msg: consumer %.2f, producers %.2f",
			       median(sc[k], nv[k]), median(sp[k], nv[k]));
		printf("\n");
	}
	fflush(stdout);
}

static void wl_streams(void)
{
	unsigned int s;
	char sz[32];

	printf("\n== stream: one producer (vCPU 0) to one consumer (vCPU %d); queues of %u messages (at most %llu MiB)\n",
	       opt.same_cpu ? 0 : 1, opt.depth, QUEUE_BYTES / MiB);
	for (s = 0; s < P.n_stream; s++) {
		if (!size_selected(P.stream_sizes[s]))
			continue;
		printf("stream %s\n", size_str(P.stream_sizes[s], sz));
		wl_stream("stream", P.stream_sizes[s], 0);
	}
}

static void wl_fanin(void)
{
	unsigned int s, p;
	char sz[32];

	printf("\n== fanin: producers (all on vCPU 0) to one consumer (vCPU %d)\n",
	       opt.same_cpu ? 0 : 1);
	for (s = 0; s < P.n_fanin; s++)
		for (p = 0; p < sizeof(fanin_prods) / sizeof(fanin_prods[0]) &&
			    size_selected(P.fanin_sizes[s]); p++) {
			printf("fanin %s, %d producer%s\n",
			       size_str(P.fanin_sizes[s], sz), fanin_prods[p],
			       fanin_prods[p] > 1 ? "s" : "");
			wl_stream("fanin", P.fanin_sizes[s], fanin_prods[p]);
		}
}

/*
 * openloop: per size, each mechanism's peak (its stream msgs/s from this
 * run, or measured here the same way when the stream workload did not
 * run), then a fixed-rate run at OPEN_LOAD of it; repetitions interleaved
 * across mechanisms, histograms merged, achieved rates' median.
 */
static void wl_open(void)
{
	static double peak[NMECH], rate[NMECH][16], pv[16];
	static struct hist lag[NMECH];
	static const char *src[NMECH];
	static uint64_t unsent[NMECH];
	static int nv[NMECH];
	char sz[32], a[32], b[32], c[32], d[32], why[WHY_LEN];
	unsigned int s, k;
	int rep, r, n;

	printf("\n== openloop: one producer (vCPU 0) sending on a fixed schedule at %.0f%% of each mechanism's peak, one consumer (vCPU %d); latency from each message's intended send time\n",
	       OPEN_LOAD * 100, opt.same_cpu ? 0 : 1);
	for (s = 0; s < P.n_open; s++) {
		uint64_t size = P.open_sizes[s];

		if (!size_selected(size))
			continue;
		printf("openloop %s\n", size_str(size, sz));
		memset(skipped, 0, sizeof(skipped));
		memset(acc, 0, sizeof(*acc) * NMECH);
		memset(lag, 0, sizeof(lag));
		memset(nv, 0, sizeof(nv));
		memset(unsent, 0, sizeof(unsent));
		for (k = 0; k < NMECH; k++) {
			const struct mech *m = &mechs[k];
			const struct row *row;

			if (!(m->wl & WL_OPEN) || !mech_selected(m)) {
				skipped[k] = 1;
				continue;
			}
			row = find_row(m->name, "stream", size, 1, "msgs_per_s");
			if (row) {
				peak[k] = row->value;
				src[k] = "its stream rate in this run";
				continue;
			}
			for (n = 0, r = 0; n < reps() && n < 16 && !r; n++)
				r = stream_once(m, size, 0, &pv[n], why);
			if (r) {
				skipped[k] = 1;
				if (r < 0)
					report_skip(m->name, "openloop", size, 1, why);
				else
					report_fail(m->name, "openloop", size, 1, why);
				continue;
			}
			peak[k] = median(pv, n);
			src[k] = "measured as the stream workload would";
			printf("  %-15s peak %.0f msgs/s (measured now: no stream row)\n",
			       m->name, peak[k]);
		}
		for (rep = 0; rep < reps() && rep < 16; rep++) {
			for (k = 0; k < NMECH; k++) {
				const struct mech *m = &mechs[k];
				struct point pt = { .m = m, .size = size,
						    .nprod = 1 };

				if (skipped[k])
					continue;
				pt.nb = batch_for(m, size);
				pt.run_ns = (uint64_t)(P.open_s * 1e9 / reps());
				pt.warm_ns = pt.run_ns / 4;
				pt.period_ns = 1e9 / (OPEN_LOAD * peak[k]);
				r = run_point(&pt, JOB_OPEN, 0,
					      opt.same_cpu ? 0 : 1, why);
				if (r) {
					skipped[k] = 1;
					nv[k] = 0;
					if (r < 0)
						report_skip(m->name, "openloop", size, 1, why);
					else
						report_fail(m->name, "openloop", size, 1, why);
					continue;
				}
				hist_merge(&acc[k], &sh->hist);
				hist_merge(&acc[k], &sh->late);
				hist_merge(&lag[k], &sh->lag);
				unsent[k] += sh->unsent;
				rate[k][nv[k]++] = sh->t1 > sh->t0 ?
					(double)sh->count * 1e9 /
					(double)(sh->t1 - sh->t0) : 0;
			}
		}
		for (k = 0; k < NMECH; k++) {
			struct hist *h = &acc[k];
			double achieved;

			if (!nv[k] || !h->n)
				continue;
			achieved = median(rate[k], nv[k]);
			emit(mechs[k].name, "openloop", size, 1, "p50_ns", hist_pct(h, 0.5));
			emit(mechs[k].name, "openloop", size, 1, "p99_ns", hist_pct(h, 0.99));
			emit(mechs[k].name, "openloop", size, 1, "p999_ns", hist_pct(h, 0.999));
			emit(mechs[k].name, "openloop", size, 1, "max_ns", (double)h->max);
			emit(mechs[k].name, "openloop", size, 1, "msgs_per_s", achieved);
			note(0, "openloop %s msg_size=%llu: peak %.0f msgs/s (%s), offered %.0f msgs/s, achieved %.0f msgs/s (median of %d), %llu latencies, %llu scheduled messages never sent, producer lag p50 %.0f p99 %.0f max %.0f ns",
			     mechs[k].name, (unsigned long long)size, peak[k],
			     src[k], OPEN_LOAD * peak[k], achieved, nv[k],
			     (unsigned long long)h->n,
			     (unsigned long long)unsent[k],
			     hist_pct(&lag[k], 0.5), hist_pct(&lag[k], 0.99),
			     (double)lag[k].max);
			printf("  %-15s p50 %9s  p99 %9s  p99.9 %9s  max %9s  at %.0f of %.0f msgs/s offered (%llu messages)\n",
			       mechs[k].name, ns_str(hist_pct(h, 0.5), a),
			       ns_str(hist_pct(h, 0.99), b),
			       ns_str(hist_pct(h, 0.999), c),
			       ns_str((double)h->max, d), achieved,
			       OPEN_LOAD * peak[k], (unsigned long long)h->n);
			printf("  %-15s   producer lag (how late it sent, its wakeups and blocked sends): p50 %s  p99 %s\n",
			       "", ns_str(hist_pct(&lag[k], 0.5), a),
			       ns_str(hist_pct(&lag[k], 0.99), b));
			if (unsent[k])
				printf("  %-15s fell behind: %llu scheduled messages never sent (in the percentiles with their wait so far, a lower bound)\n",
				       mechs[k].name, (unsigned long long)unsent[k]);
		}
		fflush(stdout);
	}
}

/* ---- scale: create time and kernel memory per channel ------------------- */

struct sobj {
	int fd[2];
};

static int sc_pipe(unsigned int i, struct sobj *o)
{
	(void)i;
	return pipe2(o->fd, O_CLOEXEC) ? -errno : 0;
}

static void sc_pipe_drop(unsigned int i, struct sobj *o)
{
	(void)i;
	close(o->fd[0]);
	close(o->fd[1]);
}

static void sc_mq_name(unsigned int i, char *buf)
{
	sprintf(buf, "/ipcchan-bench-scale-%d-%u", getpid(), i);
}

static int sc_mq(unsigned int i, struct sobj *o)
{
	char name[64];

	sc_mq_name(i, name);
	o->fd[0] = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600,
			   NULL);
	return o->fd[0] < 0 ? -errno : 0;
}

static void sc_mq_drop(unsigned int i, struct sobj *o)
{
	char name[64];

	sc_mq_name(i, name);
	mq_close(o->fd[0]);
	mq_unlink(name);
}

static int sc_msg(unsigned int i, struct sobj *o)
{
	(void)i;
	o->fd[0] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	return o->fd[0] < 0 ? -errno : 0;
}

static void sc_msg_drop(unsigned int i, struct sobj *o)
{
	(void)i;
	msgctl(o->fd[0], IPC_RMID, NULL);
}

static int sc_sock(unsigned int i, struct sobj *o)
{
	(void)i;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, o->fd) ?
	       -errno : 0;
}

static int sc_chan(unsigned int i, struct sobj *o)
{
	(void)i;
	return ipcchan_create(ctl_fd, IPCCHAN_FD_CLOEXEC, NULL, o->fd);
}

static const struct {
	const char *name;
	int (*create)(unsigned int i, struct sobj *o);
	void (*drop)(unsigned int i, struct sobj *o);
} scalers[] = {
	{ "pipe", sc_pipe, sc_pipe_drop },
	{ "posix_mq", sc_mq, sc_mq_drop },
	{ "sysv_msg", sc_msg, sc_msg_drop },
	{ "unix_seqpacket", sc_sock, sc_pipe_drop },
	{ "ipcchan_ioctl", sc_chan, sc_pipe_drop },
};

#define NSCALE	(sizeof(scalers) / sizeof(scalers[0]))
#define CG_ROOT	"/sys/fs/cgroup"

static int cg_ok;		/* 1: per-run memory cgroups work */
static int cg_mounted;

/* Bytes of "key" in a "key value" file (memory.stat), or -1. */
static long long stat_field(const char *path, const char *key)
{
	char buf[8192], *p;
	size_t n = strlen(key);

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* Kernel memory in /proc/meminfo: Slab + KernelStack + PageTables + Percpu + VmallocUsed. */
static long long meminfo_kernel(void)
{
	static const char * const keys[] = { "Slab:", "KernelStack:",
		"PageTables:", "Percpu:", "VmallocUsed:" };
	char buf[8192], *p;
	long long sum = 0;
	unsigned int i;

	write_file("/proc/sys/vm/stat_refresh", "1");
	if (read_file("/proc/meminfo", buf, sizeof(buf)))
		return -1;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		p = strstr(buf, keys[i]);
		if (p)
			sum += strtoll(p + strlen(keys[i]), NULL, 10) * 1024;
	}
	return sum;
}

static void cg_setup(void)
{
	char buf[256];

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL) == 0)
			cg_mounted = 1;
	}
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		return;
	write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	cg_ok = 1;
}

static void cg_teardown(void)
{
	if (cg_mounted)
		umount(CG_ROOT);
}

struct scale_out {
	uint64_t t_ns;
	long long cg_bytes, mi_bytes;
	int err;
};

static void scale_child(unsigned int k, unsigned int n, const char *cg,
			struct scale_out *out)
{
	struct sobj *o = calloc(n, sizeof(*o));
	long long cg0 = -1, cg1 = -1, mi0, mi1;
	char path[256];
	uint64_t t0, t1;
	unsigned int i;
	int r = 0;

	pin(0);
	if (!o) {
		out->err = ENOMEM;
		_exit(1);
	}
	memset(o, 0, n * sizeof(*o));
	/* Grow the fd table now, so that its growth is not counted. */
	if (dup2(0, (int)(3 * n + 64)) >= 0)
		close((int)(3 * n + 64));
	if (cg_ok) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		if (write_file(path, "0") == 0) {
			snprintf(path, sizeof(path), "%s/memory.stat", cg);
			cg0 = stat_field(path, "kernel");
		}
	}
	mi0 = meminfo_kernel();
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		r = scalers[k].create(i, &o[i]);
		if (r)
			break;
	}
	t1 = now_ns();
	if (cg0 >= 0)
		cg1 = stat_field(path, "kernel");
	mi1 = meminfo_kernel();
	out->t_ns = t1 - t0;
	out->cg_bytes = cg0 >= 0 && cg1 >= 0 ? cg1 - cg0 : -1;
	out->mi_bytes = mi0 >= 0 && mi1 >= 0 ? mi1 - mi0 : -1;
	out->err = -r;
	while (i--)
		scalers[k].drop(i, &o[i]);
	_exit(r ? 1 : 0);
}

static void wl_scale(void)
{
	struct scale_out *out = (struct scale_out *)sh;	/* shared memory */
	double t[NSCALE][16], cg[NSCALE][16], mi[NSCALE][16];
	int nt[NSCALE], ncg[NSCALE], nmi[NSCALE], dead[NSCALE] = { 0 };
	unsigned int s, k;
	int rep, status;
	char cgpath[128];

	cg_setup();
	note(1, "scale: bytes_per_channel is the growth of kernel memory in /proc/meminfo (Slab+KernelStack+PageTables+Percpu+VmallocUsed, read after vm/stat_refresh) while one process creates the channels, divided by their number, from 1000 channels up (below, slab-page and counter granularity dominate); the previous run's frees are let finish first (membarrier + 50 ms). Cross-check: the \"kernel\" field of memory.stat of a fresh memory cgroup holding only that process (%s), as scale-memcg comment lines",
	     cg_ok ? "cgroup v2 available" : "NOT available here");
	note(1, "scale: each channel made with the mechanism's defaults: pipe2(), mq_open(NULL attr), msgget(IPC_PRIVATE), socketpair(SOCK_SEQPACKET), ipcchan_create(NULL attr); the fd table is grown beforehand; create_ns = total time / count; producers column = number of channels");
	printf("\n== scale: create time and kernel memory per channel\n");
	for (s = 0; s < P.n_scale; s++) {
		unsigned int n = (unsigned int)P.scale_counts[s];

		memset(nt, 0, sizeof(nt));
		memset(ncg, 0, sizeof(ncg));
		memset(nmi, 0, sizeof(nmi));
		for (rep = 0; rep < reps() && rep < 16; rep++) {
			for (k = 0; k < NSCALE; k++) {
				pid_t pid;

				if (!opt.mechs ? 0 : !strstr(opt.mechs, scalers[k].name))
					continue;
				if (dead[k])
					continue;
				snprintf(cgpath, sizeof(cgpath),
					 CG_ROOT "/ipcchan-bench-%d-%u-%d",
					 getpid(), k, rep);
				if (cg_ok && mkdir(cgpath, 0755) && errno != EEXIST)
					cg_ok = 0;
				memset(out, 0, sizeof(*out));
				fflush(stdout);
				/* Let the last run's RCU-deferred frees land first. */
				syscall(SYS_membarrier, 1 /* MEMBARRIER_CMD_GLOBAL */, 0, 0);
				usleep(50000);
				pid = fork();
				if (pid == 0)
					scale_child(k, n, cgpath, out);
				waitpid(pid, &status, 0);
				if (cg_ok)
					rmdir(cgpath);
				if (!WIFEXITED(status) || WEXITSTATUS(status)) {
					char why[WHY_LEN];

					snprintf(why, sizeof(why),
						 "creating %u: %s", n,
						 strerror(out->err ? out->err : EIO));
					report_fail(scalers[k].name, "scale", 0,
						    (int)n, why);
					dead[k] = 1;
					continue;
				}
				t[k][nt[k]++] = (double)out->t_ns / n;
				if (out->cg_bytes >= 0)
					cg[k][ncg[k]++] = (double)out->cg_bytes / n;
				if (out->mi_bytes >= 0)
					mi[k][nmi[k]++] = (double)out->mi_bytes / n;
			}
		}
		printf("scale %u channel%s\n", n, n > 1 ? "s" : "");
		for (k = 0; k < NSCALE; k++) {
			double tc, bc = -1, bm = -1;
			char a[32];

			if (!nt[k])
				continue;
			tc = median(t[k], nt[k]);
			emit(scalers[k].name, "scale", 0, (int)n, "create_ns", tc);
			if (ncg[k])
				bc = median(cg[k], ncg[k]);
			if (nmi[k])
				bm = median(mi[k], nmi[k]);
			/*
			 * Below ~1000 channels the counters' granularity (pages,
			 * batched per-CPU memcg stat updates) dominates.
			 */
			if (n >= 1000 && bm >= 0)
				emit(scalers[k].name, "scale", 0, (int)n,
				     "bytes_per_channel", bm);
			if (n >= 1000 && bc >= 0)
				note(0, "scale-memcg %s %u bytes_per_channel %.0f",
				     scalers[k].name, n, bc);
			printf("  %-15s create %9s", scalers[k].name, ns_str(tc, a));
			if (n >= 1000)
				printf("  kernel memory %6.0f B/channel (meminfo; memcg %.0f)",
				       bm, bc);
			printf("\n");
		}
		if (n < 1000)
			printf("  (memory per channel not reported below 1000 channels: the counters are page-granular and batched)\n");
		fflush(stdout);
	}
	cg_teardown();
}

/* ---- calibration -------------------------------------------------------- */

#define CALIB_NS	(opt.quick ? 50000000ULL : 200000000ULL)

static double per_op(void (*fn)(void *), void *arg)
{
	uint64_t t0 = now_ns(), t, n = 0;
	unsigned int i;

	do {
		for (i = 0; i < 64; i++)
			fn(arg);
		n += 64;
		t = now_ns();
	} while (t - t0 < CALIB_NS);
	return (double)(t - t0) / (double)n;
}

static void op_clock(void *a)
{
	(void)a;
	now_ns();
}

static void op_getppid(void *a)
{
	(void)a;
	syscall(SYS_getppid);
}

static void op_query(void *a)
{
	struct ipcchan_query q;

	(void)a;
	ipcchan_query(ctl_fd, &q);
}

static void op_futex_wake(void *a)
{
	sys_futex(a, FUTEX_WAKE, 1);
}

#define FUTEX_STOP	0xfffffffeu

/* Futex wake-up of a sleeping process (same or other vCPU), round trip. */
static double futex_pingpong(int cpu_b)
{
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t t0, n = 0;
	pid_t pid;
	int status;

	if (w == MAP_FAILED)
		return -1;
	w[0] = 0;
	pid = fork();
	if (pid == 0) {
		uint32_t v = 1;

		pin(cpu_b);
		for (;;) {	/* wait for odd, answer even */
			uint32_t x = __atomic_load_n(w, __ATOMIC_ACQUIRE);

			if (x == FUTEX_STOP)
				_exit(0);
			if (x != v) {
				sys_futex(w, FUTEX_WAIT, x);
				continue;
			}
			__atomic_store_n(w, v + 1, __ATOMIC_RELEASE);
			sys_futex(w, FUTEX_WAKE, 1);
			v += 2;
		}
	}
	pin(0);
	usleep(10000);
	t0 = now_ns();
	do {
		uint32_t v = (uint32_t)(2 * n + 1);

		__atomic_store_n(w, v, __ATOMIC_RELEASE);
		sys_futex(w, FUTEX_WAKE, 1);
		while (__atomic_load_n(w, __ATOMIC_ACQUIRE) != v + 1)
			sys_futex(w, FUTEX_WAIT, v);
		n++;
	} while (now_ns() - t0 < CALIB_NS);
	t0 = now_ns() - t0;
	__atomic_store_n(w, FUTEX_STOP, __ATOMIC_RELEASE);
	sys_futex(w, FUTEX_WAKE, 1);
	waitpid(pid, &status, 0);
	munmap(w, 4096);
	return (double)t0 / (double)n;
}

static void calibrate(void)
{
	uint32_t fw = 0;
	size_t len = 16 * MiB, pages, i;
	char *a, *b;
	double v;
	uint64_t t0, n = 0;
	volatile char *p;

	pin(0);
	printf("\n== calibration (vCPU 0)\n");
	note(1, "calib clock_read_ns %.1f", per_op(op_clock, NULL));
	note(1, "calib null_syscall_ns %.1f", per_op(op_getppid, NULL));
	if (ctl_fd >= 0)
		note(1, "calib ioctl_ns %.1f (IPCCHAN_IOC_QUERY on the control fd)",
		     per_op(op_query, NULL));
	note(1, "calib futex_wake_ns %.1f (FUTEX_WAKE, nobody waiting)",
	     per_op(op_futex_wake, &fw));
	note(1, "calib futex_rtt_same_vcpu_ns %.1f", futex_pingpong(0));
	if (cpus_online() > 1)
		note(1, "calib futex_rtt_across_vcpus_ns %.1f",
		     futex_pingpong(1));
	a = buf_alloc(len);
	b = buf_alloc(len);
	if (a && b) {
		t0 = now_ns();
		do {
			memcpy(b, a, len);
			__asm__ volatile("" : : "r"(b) : "memory");
			n++;
		} while (now_ns() - t0 < CALIB_NS || n < 2);
		v = (double)(len * n) / ((double)(now_ns() - t0) / 1e9) / 1e6;
		note(1, "calib memcpy_mb_per_s %.0f (16 MiB copies)", v);
		munmap(a - 4096, len + 4096);
		munmap(b - 4096, len + 4096);
	}
	len = 8 * MiB;
	pages = len / 4096;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		t0 = now_ns();
		for (i = 0; i < pages; i++)
			p[i * 4096] = 1;
		v = (double)(now_ns() - t0) / (double)pages;
		note(1, "calib page_fault_ns %.0f (first write to an anonymous 4 KiB page)",
		     v);
		munmap((void *)p, len);
	}
}

/* ---- environment and output --------------------------------------------- */

static void describe_env(void)
{
	char accel[80], model[128] = "?", buf[8192], clk[64] = "?", *p;
	unsigned int a, b, c, d;
	char sig[13] = "";
	struct utsname u;

	uname(&u);
	snprintf(kernel_rel, sizeof(kernel_rel), "%s", u.release);
	if (read_file("/proc/cpuinfo", buf, sizeof(buf)) == 0 &&
	    (p = strstr(buf, "model name"))) {
		p = strchr(p, ':');
		if (p) {
			p += 2;
			snprintf(model, sizeof(model), "%.*s",
				 (int)strcspn(p, "\n"), p);
		}
	}
	if (read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      clk, sizeof(clk)) == 0)
		clk[strcspn(clk, "\n")] = '\0';
	__cpuid(1, a, b, c, d);
	if (c & (1u << 31)) {
		__cpuid(0x40000000, a, b, c, d);
		memcpy(sig, &b, 4);
		memcpy(sig + 4, &c, 4);
		memcpy(sig + 8, &d, 4);
		sig[12] = '\0';
		if (!strcmp(sig, "KVMKVMKVM"))
			snprintf(accel, sizeof(accel), "kvm");
		else if (!strcmp(sig, "TCGTCGTCGTCG") || strstr(model, "QEMU"))
			snprintf(accel, sizeof(accel),
				 "tcg (QEMU CPU model, no KVM signature in CPUID)");
		else
			snprintf(accel, sizeof(accel), "hypervisor \"%s\"", sig);
	} else {
		snprintf(accel, sizeof(accel), "none (no hypervisor bit)");
	}
	if (opt.accel)
		snprintf(accel, sizeof(accel), "%s", opt.accel);
	note(1, "ipcchan-bench %s run: kernel %s, accel %s, %d vCPUs, cpu \"%s\", clocksource %s",
	     opt.quick ? "quick" : "full", kernel_rel, accel, cpus_online(),
	     model, clk);
	if (read_file("/proc/cmdline", buf, sizeof(buf)) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		note(1, "guest kernel command line: %s", buf);
	}
	note(1, "absolute figures under emulation mean little; compare ratios");
	note(1, "placement: rtt producers=0: client and echo both pinned to vCPU 0; rtt producers=1: client on vCPU 0, echo on vCPU 1; stream, fanin and openloop: producers on vCPU 0, consumer on vCPU %d; memcpy and scale on vCPU 0",
	     opt.same_cpu ? 0 : 1);
	note(1, "openloop: the producer sends message k at t0 + k * period, sleeping until then (spinning the last %llu us), period = 1 / (%.0f%% of the mechanism's stream msgs/s at that size in this run, measured first if the stream workload did not run); whatever is due goes at once (ipcchan_batch: up to %d per call); p50..max_ns are from each message's intended send time to the consumer holding it, after a warm-up of a quarter of the run; msgs_per_s is the rate achieved; the peak, offered rate, producer lag and any messages never sent are in openloop comment lines",
	     opt.same_cpu ? 0ULL : (unsigned long long)(opt.open_spin_ns / 1000),
	     OPEN_LOAD * 100, BATCH);
	note(1, "queues hold %u messages (at most %llu MiB, at least 2 messages): posix_mq maxmsg, sysv_msg msg_qbytes, ipcchan queue_msgs/queue_bytes, shm_futex slots; pipe/fifo keep their 64 KiB (socket its default send buffer) unless those messages need more",
	     opt.depth, QUEUE_BYTES / MiB);
	note(1, "ipcchan_batch moves up to %d messages per ioctl (at most %llu MiB of buffers; 1 per call in rtt); MB/s is 10^6 bytes/s; repetitions per point: %d (interleaved across mechanisms; rtt histograms merged, throughput median)",
	     BATCH, BATCH_BYTES / MiB, reps());
}

static void write_csv(void)
{
	FILE *f;
	size_t i;

	if (!opt.csv)
		return;
	f = strcmp(opt.csv, "-") ? fopen(opt.csv, "w") : stdout;
	if (!f) {
		fprintf(stderr, "ipcchan-bench: %s: %s\n", opt.csv,
			strerror(errno));
		failures++;
		return;
	}
	fprintf(f, "kernel,mechanism,workload,msg_size,producers,metric,value\n");
	for (i = 0; i < nnotes; i++)
		fprintf(f, "# %s\n", notes[i]);
	for (i = 0; i < nrows; i++)
		fprintf(f, "%s,%s,%s,%llu,%d,%s,%.6g\n", kernel_rel,
			rows[i].mech, rows[i].wl,
			(unsigned long long)rows[i].size, rows[i].prod,
			rows[i].metric, rows[i].value);
	if (f != stdout)
		fclose(f);
	else
		fflush(f);
}

/*
 * One ratio table: a row per mechanism, a column per (size, producers);
 * the pipe row gives pipe's own value, every other row mechanism / pipe.
 */
static void ratio_table(const char *title, const char *wl, const char *metric,
			const uint64_t *sizes, unsigned int nsizes,
			const int *prods, unsigned int nprods, double unit,
			const char *unit_name)
{
	unsigned int s, p, k, cols = 0, any;
	char sz[32], head[48];
	const struct row *r, *base;

	for (s = 0; s < nsizes; s++)
		for (p = 0; p < nprods; p++)
			if (find_row("pipe", wl, sizes[s], prods[p], metric))
				cols++;
	if (!cols)
		return;
	printf("\n%s\n%-15s", title, "mechanism");
	for (s = 0; s < nsizes; s++)
		for (p = 0; p < nprods; p++) {
			if (!find_row("pipe", wl, sizes[s], prods[p], metric))
				continue;
			if (!strcmp(wl, "rtt"))
				snprintf(head, sizeof(head), "%s/%s",
					 size_str(sizes[s], sz),
					 prods[p] ? "2cpu" : "1cpu");
			else if (!strcmp(wl, "fanin"))
				snprintf(head, sizeof(head), "%s x%d",
					 size_str(sizes[s], sz), prods[p]);
			else if (!strcmp(wl, "scale"))
				snprintf(head, sizeof(head), "%d ch", prods[p]);
			else
				snprintf(head, sizeof(head), "%s",
					 size_str(sizes[s], sz));
			printf(" %11s", head);
		}
	printf("\n");
	for (k = 0; k < NMECH; k++) {
		const char *name = mechs[k].name;

		any = 0;
		for (s = 0; s < nsizes; s++)
			for (p = 0; p < nprods; p++)
				if (find_row(name, wl, sizes[s], prods[p], metric))
					any = 1;
		if (!any)
			continue;
		if (!strcmp(name, "pipe"))
			printf("%-15s", "pipe (abs)");
		else
			printf("%-15s", name);
		for (s = 0; s < nsizes; s++)
			for (p = 0; p < nprods; p++) {
				base = find_row("pipe", wl, sizes[s], prods[p], metric);
				if (!base)
					continue;
				r = find_row(name, wl, sizes[s], prods[p], metric);
				if (!r)
					printf(" %11s", "-");
				else if (r == base)
					printf(" %9.4g%-2s", r->value / unit,
					       unit_name);
				else if (base->value > 0)
					printf(" %10.2fx", r->value / base->value);
				else
					printf(" %11s", "?");
			}
		printf("\n");
	}
}

static void summary(void)
{
	static const int rtt_place[] = { 0, 1 }, one[] = { 1 };
	int scale_n[sizeof(scale_counts) / sizeof(scale_counts[0])];
	unsigned int i;

	for (i = 0; i < P.n_scale; i++)
		scale_n[i] = (int)P.scale_counts[i];
	printf("\n== ratios to pipe (kernel %s). pipe (abs) is pipe's own value; other rows: mechanism / pipe\n",
	       kernel_rel);
	ratio_table("rtt p50 latency (lower is faster; pipe in us; 1cpu = same vCPU, 2cpu = across vCPUs)",
		    "rtt", "p50_ns", P.rtt_sizes, P.n_rtt, rtt_place, 2, 1e3, "us");
	ratio_table("rtt p99 latency (lower is better; pipe in us)",
		    "rtt", "p99_ns", P.rtt_sizes, P.n_rtt, rtt_place, 2, 1e3, "us");
	ratio_table("stream throughput, msgs/s (higher is faster; pipe in k msgs/s)",
		    "stream", "msgs_per_s", P.stream_sizes, P.n_stream, one, 1,
		    1e3, "k");
	ratio_table("fanin throughput, msgs/s (higher is faster; pipe in k msgs/s)",
		    "fanin", "msgs_per_s", P.fanin_sizes, P.n_fanin, fanin_prods,
		    sizeof(fanin_prods) / sizeof(fanin_prods[0]), 1e3, "k");
	ratio_table("openloop p50 latency from the intended send time, each mechanism at half its own peak (lower is better; pipe in us)",
		    "openloop", "p50_ns", P.open_sizes, P.n_open, one, 1, 1e3,
		    "us");
	ratio_table("openloop p99.9 latency from the intended send time (lower is better; pipe in us)",
		    "openloop", "p999_ns", P.open_sizes, P.n_open, one, 1, 1e3,
		    "us");
	{
		static const uint64_t zero[] = { 0 };

		ratio_table("scale: create time per channel (lower is faster; pipe in us)",
			    "scale", "create_ns", zero, 1, scale_n, P.n_scale,
			    1e3, "us");
		ratio_table("scale: kernel memory per channel (lower is smaller; pipe in bytes)",
			    "scale", "bytes_per_channel", zero, 1, scale_n,
			    P.n_scale, 1, "B");
	}
}

/* Run one workload if selected, and say how long it took. */
static void run_workload(unsigned int wl, void (*fn)(void))
{
	uint64_t t0 = now_ns();

	if (!(opt.workloads & wl))
		return;
	fn();
	note(1, "time: %s took %.0f s", wl_names[__builtin_ctz(wl)],
	     (double)(now_ns() - t0) / 1e9);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipcchan-bench [--quick] [--csv FILE|-] [--reps N] [--time-scale F]\n"
		"                     [--mech LIST] [--workload LIST] [--accel NAME] [--no-tune]\n"
		"                     [--sched-features LIST] [--depth N] [--same-cpu]\n"
		"                     [--sizes LIST] [--open-spin US]\n"
		"  --quick          the short matrix (a few minutes under TCG)\n"
		"  --csv FILE       write the results as CSV (- for stdout)\n"
		"  --reps N         repetitions per point (default 3 quick, 5 full)\n"
		"  --time-scale F   multiply every measuring time by F\n"
		"  --mech LIST      comma list of mechanisms (default: all but shm_zerocopy)\n"
		"  --workload LIST  comma list of rtt,stream,fanin,openloop,scale (default: all)\n"
		"  --sizes LIST     only these message sizes of the matrix (e.g. 64,4K,1M)\n"
		"  --open-spin US   openloop producer spins the last US microseconds before\n"
		"                   a message is due instead of sleeping (default 0)\n"
		"  --accel NAME     record NAME as the accelerator instead of guessing\n"
		"  --no-tune        leave kernel limits alone (default: raise them, as root)\n"
		"  --sched-features LIST  set these debugfs sched features for the run\n"
		"                   (e.g. NO_DELAY_DEQUEUE), restored at exit\n"
		"  --depth N        messages a queue holds (default 64; at most 32 MiB)\n"
		"  --same-cpu       stream and fanin consumers on vCPU 0 too (default: vCPU 1)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "csv", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ "time-scale", required_argument, NULL, 't' },
		{ "mech", required_argument, NULL, 'm' },
		{ "workload", required_argument, NULL, 'w' },
		{ "accel", required_argument, NULL, 'a' },
		{ "no-tune", no_argument, NULL, 'n' },
		{ "sched-features", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'd' },
		{ "same-cpu", no_argument, NULL, 'S' },
		{ "sizes", required_argument, NULL, 'z' },
		{ "open-spin", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t t_start = now_ns();
	unsigned int i;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "qc:r:t:m:w:a:ns:d:Sz:o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'q': opt.quick = 1; break;
		case 'c': opt.csv = optarg; break;
		case 'r': opt.reps = atoi(optarg); break;
		case 't': opt.time_scale = atof(optarg); break;
		case 'm': opt.mechs = optarg; break;
		case 'a': opt.accel = optarg; break;
		case 'n': opt.tune = 0; break;
		case 's': opt.sched = optarg; break;
		case 'd': opt.depth = (unsigned int)atoi(optarg); break;
		case 'S': opt.same_cpu = 1; break;
		case 'o': opt.open_spin_ns = strtoull(optarg, NULL, 10) * 1000; break;
		case 'w':
			opt.workloads = 0;
			for (i = 0; i < sizeof(wl_names) / sizeof(wl_names[0]); i++)
				if (strstr(optarg, wl_names[i]))
					opt.workloads |= 1u << i;
			break;
		case 'z':
			for (end = optarg; *end; ) {
				uint64_t v = strtoull(end, &end, 10);

				if (*end == 'K' || *end == 'k')
					v *= KiB, end++;
				else if (*end == 'M' || *end == 'm')
					v *= MiB, end++;
				if (!v || (*end && *end != ',') ||
				    opt.nsizes == sizeof(opt.sizes) / sizeof(opt.sizes[0])) {
					usage(stderr);
					return 2;
				}
				opt.sizes[opt.nsizes++] = v;
				if (*end)
					end++;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || opt.reps > 16 || opt.time_scale <= 0 ||
	    opt.depth < 2 || opt.depth > 65536) {
		usage(stderr);
		return 2;
	}
	if (opt.quick) {
		P.rtt_sizes = quick_rtt;
		P.n_rtt = sizeof(quick_rtt) / sizeof(quick_rtt[0]);
		P.stream_sizes = quick_stream;
		P.n_stream = sizeof(quick_stream) / sizeof(quick_stream[0]);
		P.fanin_sizes = quick_fanin;
		P.n_fanin = sizeof(quick_fanin) / sizeof(quick_fanin[0]);
		P.open_sizes = quick_open;
		P.n_open = sizeof(quick_open) / sizeof(quick_open[0]);
		P.rtt_s = 0.9;
		P.stream_s = 0.6;
		P.open_s = 1.2;
		P.rtt_max_iters = 20000;
		P.warm_iters = 100;
	} else {
		P.rtt_sizes = full_rtt;
		P.n_rtt = sizeof(full_rtt) / sizeof(full_rtt[0]);
		P.stream_sizes = full_stream;
		P.n_stream = sizeof(full_stream) / sizeof(full_stream[0]);
		P.fanin_sizes = full_fanin;
		P.n_fanin = sizeof(full_fanin) / sizeof(full_fanin[0]);
		P.open_sizes = full_open;
		P.n_open = sizeof(full_open) / sizeof(full_open[0]);
		P.rtt_s = 3;
		P.stream_s = 2;
		P.open_s = 5;
		P.rtt_max_iters = 200000;
		P.warm_iters = 1000;
	}
	P.scale_counts = scale_counts;
	P.n_scale = sizeof(scale_counts) / sizeof(scale_counts[0]);
	P.rtt_s *= opt.time_scale;
	P.stream_s *= opt.time_scale;
	P.open_s *= opt.time_scale;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	acc = calloc(NMECH, sizeof(*acc));
	if (sh == MAP_FAILED || !acc) {
		perror("ipcchan-bench: memory");
		return 1;
	}
	describe_env();
	ctl_fd = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	if (ctl_fd < 0) {
		/* Measure the others anyway; the run still fails. */
		fprintf(stderr, "ipcchan-bench: %s: %s (is the module loaded?)\n",
			IPCCHAN_DEVICE_PATH, strerror(-ctl_fd));
		note(1, "error: %s: %s; ipcchan rows are missing",
		     IPCCHAN_DEVICE_PATH, strerror(-ctl_fd));
		failures++;
	}
	if (opt.tune)
		tune_limits();
	sched_features(opt.sched);
	calibrate();
	run_workload(WL_RTT, wl_rtt);
	run_workload(WL_STREAM, wl_streams);
	run_workload(WL_FANIN, wl_fanin);
	run_workload(WL_OPEN, wl_open);
	run_workload(WL_SCALE, wl_scale);
	summary();
	note(0, "run took %.0f s", (double)(now_ns() - t_start) / 1e9);
	printf("\nipcchan-bench: %s run took %.0f s, %d failure%s\n",
	       opt.quick ? "quick" : "full", (double)(now_ns() - t_start) / 1e9,
	       failures, failures == 1 ? "" : "s");
	write_csv();
	return failures ? 1 : 0;
}
