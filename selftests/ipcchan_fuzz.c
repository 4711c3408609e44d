// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, reproducible ioctl fuzzer for ipcchan.
 *
 * Several processes with several threads each share a pool of file
 * descriptors (control fds, anonymous, duplex and named endpoints, a closed
 * fd, -1, large unused numbers, /dev/null, a pipe) and issue random
 * sequences of every IPCCHAN_IOC_* command, plus unknown numbers, wrong
 * directions and wrong struct sizes, with random, boundary and garbage
 * arguments: reserved bits, every flag bit, huge lengths, counts around
 * IPCCHAN_BATCH_MAX, priorities around IPCCHAN_PRIO_MAX, timeouts from 0 to
 * "forever", and pointers that are valid, NULL, unmapped, kernel addresses,
 * unaligned, read-only, straddling a guard page, or inside a mapping that
 * other threads munmap/mmap/mprotect concurrently. Interleaved with the
 * ioctls: close, dup, dup2 of pool fds, fork (the child does a few
 * nonblocking steps and exits), mmap/munmap/mprotect, signals (SIGUSR1
 * with a handler and without SA_RESTART, so blocking calls are
 * interrupted), unlink of names, IPCCHAN_IOC_NOTIFY registrations with
 * many signals, fcntl (O_NONBLOCK, O_ASYNC, F_SETOWN, F_SETSIG), poll and
 * epoll.
 *
 * Shared pages. Channels are created and opened with random valid and
 * invalid region attributes (region_size, slot_size, nr_sems), and the pool
 * holds region channels of every kind. The fuzz threads loan, send
 * (IPCCHAN_SEND_SLOT with held, foreign, freed, in-flight and forged slot
 * numbers), receive (IPCCHAN_RECV_SLOT, plain, PEEK, batch) and release
 * slots, operate semaphores, read IPCCHAN_IOC_REGION_INFO, and mmap,
 * munmap, mprotect, mremap, madvise and touch endpoint mappings (random
 * offsets, lengths, protections and flags) in a reserved address zone,
 * while other threads close, dup and fork. A SIGBUS/SIGSEGV handler turns
 * each touch into a result (no fault, SIGBUS past the end of a region,
 * SIGSEGV on a protection) that is checked against the mapping's state.
 *
 * Known channels. One more thread per process, with a file descriptor table
 * of its own (unshare(CLONE_FILES): no other thread can reach its fds,
 * and forked children never inherit them), owns one region channel at a
 * time (anonymous, duplex or named, random valid attributes) and keeps an
 * exact model of it: which slot is free, held by which endpoint or in
 * flight, what each queue holds in which order, what each slot contains,
 * every semaphore value and every endpoint's undo. Every call it makes
 * (loans, slot and plain sends, every kind of receive, releases, also
 * through a dup, forged numbers, semaphore operations with and without
 * undo, overflow, mmap/mprotect/mremap/madvise cases, touches past the
 * end, in place and in a forked child, process-shared futexes on region
 * words, closes that reclaim, reopen by name) has one exact
 * expected result, also with the struct placed read-only, unaligned,
 * short or with a non-zero tail, and REGION_INFO (every counter), STATS
 * and the mapped bytes are compared with the model after each operation.
 *
 * Oracle:
 *   - the fuzzer survives (it only hands bad pointers to the kernel, and
 *     every pointer the kernel may write through is into memory sized for
 *     the largest write that can happen there);
 *   - every ioctl returns success or an errno documented for its command
 *     in <linux/ipcchan.h> (plus EBADF and ENOTTY, since a pool fd may be
 *     closed or replaced by another kind of file at any moment); unknown
 *     commands fail with ENOTTY; where the arguments decide the outcome on
 *     their own (a struct size below the first published one, above a
 *     page, a non-zero tail, an unknown flag bit or a reserved word in a
 *     readable struct, a bad struct pointer) the exact errno is checked;
 *     outputs of successful calls are checked where they can be
 *     (resolved attributes, stats invariant, zeroed reserved words, ...);
 *   - no operation hangs (each thread's current operation is watched);
 *   - REGION_INFO (and the region line of fdinfo) is consistent whenever
 *     it is read (slots_free + slots_held + slots_in_flight == nr_slots,
 *     slots_held_here <= slots_held, no mapping rights without a region,
 *     ...), and no semaphore value written back exceeds
 *     IPCCHAN_SEM_VALUE_MAX;
 *   - at the end, with every fd closed, a fresh open of each named channel
 *     sees no slot held, in flight only what is still queued, and every
 *     slot free once that is received; then, with every name unlinked, the
 *     query shows nr_channels, user_channels, user_bytes and
 *     user_region_bytes back at their start values, and a fresh channel
 *     still carries a message;
 *   - no kernel warning appears in /dev/kmsg during the run.
 *
 * Environment: IPCCHAN_FUZZ_SEED (default: from the clock),
 * IPCCHAN_FUZZ_ITERS (steps per thread), IPCCHAN_FUZZ_PROCS,
 * IPCCHAN_FUZZ_THREADS, IPCCHAN_FUZZ_BUDGET (soft time limit, seconds),
 * IPCCHAN_FUZZ_KPACE (fuzz steps per known-channel operation; 0: none),
 * IPCCHAN_FUZZ_TRACE=1 (print every step). Each thread draws from its own
 * PRNG seeded from the seed, its process and its thread index, and no draw
 * depends on a syscall's result, so a seed replays the same sequence of
 * steps in every thread (IPCCHAN_FUZZ_PROCS=1 IPCCHAN_FUZZ_THREADS=1
 * makes a run fully deterministic apart from the signal timer). The known
 * channel thread draws from its own PRNG, seeded the same way; its draws
 * follow its model, which follows the kernel's answers on a channel no one
 * else can reach, so it replays too (apart from the rare resource failure
 * or interrupted timed wait, which the model accepts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

/* ---- configuration -------------------------------------------------------- */

/*
 * Steps per thread: 2 processes x 3 threads x 90000 steps took 13-32 s in
 * the TCG guest (2 vCPUs on a 2-core host, depending on the host's load),
 * so 100000 aimed at 20-40 s. Shared pages made a step dearer (mappings,
 * fdinfo, one known-channel operation per KPACE steps). In 6.12 guests,
 * each run alternating with the fuzzer before them on the same seed (host
 * load 4-7 on 2 cores, so single runs vary by a third): 75000 steps took
 * 71-73 s against its 48-52 s, 65000 36-51 s against 36-40 s, 55000
 * 31-38 s against 36-51 s. 60000 keeps the run about as long as it was
 * (the "thread-seconds in" line of the stats says where the time goes;
 * fork is most of it). A slower kernel (KASAN, lockdep) stops at the time
 * budget instead, and says so.
 */
#define DEF_ITERS	60000
#define DEF_PROCS	2
#define DEF_THREADS	3
#define DEF_BUDGET	90	/* seconds: stop early (and say so) after this */
#define MAX_PROCS	4
#define MAX_THREADS	8
#define NSLOTS		36
#define RING		8
#define MAX_VIOL	24
#define VIOL_LEN	1536
#define ERRMAX		256
#define LARGE_FD	1000		/* unused, below RLIMIT_NOFILE: dup2 target */
#define HUGE_FD		0x7fffffff	/* never valid */
#define MAX_PROT_FD	4096
#define TICK_NS		(10 * NSEC_PER_MSEC)	/* interrupt ops older than this */
#define HUNG_NS		(15 * NSEC_PER_SEC)	/* an op older than this hangs */
#define CHILD_WAIT_MS	5000
#define BATCH_ENTRIES	(IPCCHAN_BATCH_MAX + 1)
#define HELD_MAX	8	/* slots a fuzz thread remembers it got */
#define RZ_CHUNKS	8	/* region mappings of the pool, per process */
#define RZ_PAGES	24	/* pages per chunk; the last is never mapped */
#define KZ_AREAS	3	/* known thread: ep 0, ep 1, scratch */
#define KPACE		10	/* a known-channel op per this many fuzz steps
				 * (IPCCHAN_FUZZ_KPACE; 0: no known channels) */

static struct {
	unsigned long long seed;
	unsigned long iters;
	int procs, threads, trace;
	unsigned int budget, kpace;
	int parsed;
} cfg;

/* ---- shared state (MAP_SHARED, across every process of the run) ---------- */

enum { C_QUERY, C_CREATE, C_OPEN, C_UNLINK, C_SEND, C_RECV, C_SEND_BATCH,
       C_RECV_BATCH, C_STATS, C_NOTIFY, C_SLOT_LOAN, C_SLOT_RELEASE, C_SEM,
       C_REGION_INFO, C_UNKNOWN, NCMD };
static const char *const cmd_names[NCMD] = {
	"QUERY", "CREATE", "OPEN", "UNLINK", "SEND", "RECV", "SEND_BATCH",
	"RECV_BATCH", "STATS", "NOTIFY", "SLOT_LOAN", "SLOT_RELEASE", "SEM",
	"REGION_INFO", "UNKNOWN_CMD",
};

enum { X_CLOSE, X_DUP, X_DUP2, X_NEW, X_FORK, X_MAP, X_SIGNAL, X_FCNTL,
       X_POLL, X_EPOLL, X_RW, X_RMAP, X_TOUCH, X_KNOWN, X_FDINFO, NX };
static const char *const x_names[NX] = {
	"close", "dup", "dup2", "new-endpoints", "fork", "mmap/munmap/mprotect",
	"signal", "fcntl", "poll", "epoll", "read/write", "region-map",
	"region-touch", "known-channel", "fdinfo",
};

/* What the known-channel thread does (see "known channels" below). */
enum { K_INIT, K_LOAN, K_SEND_SLOT, K_SEND_FORGED, K_SEND_PLAIN, K_RECV,
       K_RELEASE, K_RELEASE_FORGED, K_SEM, K_INFO, K_TOUCH, K_MMAP,
       K_FORK_TOUCH, K_CLOSE, K_REOPEN, K_DESTROY, NKOP };
static const char *const k_names[NKOP] = {
	"create", "loan", "send-slot", "send-forged", "send-plain", "receive",
	"release", "release-forged", "semaphore", "region-info", "touch",
	"mmap-cases", "fork-touch", "close", "reopen", "destroy",
};

enum { PK_OK, PK_UNALIGNED, PK_RO, PK_NULL, PK_HOLE, PK_KERNEL, PK_EDGE,
       PK_FLAP, PK_LOW, NPK };
static const char *const pk_names[NPK] = {
	"ok", "unaligned", "readonly", "null", "unmapped", "kernel",
	"guard-straddle", "flapping", "low",
};

struct oplog {
	unsigned long long step;
	int kind;		/* C_* or NCMD + X_* */
	int slot, fd, pk;
	unsigned int ioc;
	unsigned long long flags, a, b;
	long long ret;		/* >= 0 or -errno */
};

struct trec {
	unsigned long long steps;
	unsigned long long op_start;	/* CLOCK_MONOTONIC ns, 0: idle */
	int tid;
	int hang_reported;
	struct oplog cur;
};

struct shared {
	unsigned long long calls[NCMD][ERRMAX];	/* [cmd][0]: success */
	unsigned long long xops[NX][2];		/* [op][0] ok, [1] failed */
	unsigned long long nviol;
	unsigned long long forks, child_steps, signals_caught;
	unsigned long long budget_hit;
	int worker[MAX_PROCS];
	/* [p][cfg.threads]: the known-channel thread of process p */
	struct trec thr[MAX_PROCS][MAX_THREADS + 1];
	struct trec child[MAX_PROCS][MAX_THREADS];	/* forked children */
	unsigned long long kops[NKOP][2];	/* known ops: [0] done, [1] skipped */
	unsigned long long op_ns[NCMD + NX];	/* time spent in each, all threads */
	unsigned long long touches[3];		/* no fault, SIGBUS, SIGSEGV */
	unsigned long long kchans, kbus_child;
	char viol[MAX_VIOL][VIOL_LEN];
};

static struct shared *sh;

/* ---- per-process state ------------------------------------------------------ */

static struct ipcchan_query lim;	/* limits at the start of the run */
static size_t page;
static int slots[NSLOTS];
static unsigned char prot_fd[MAX_PROT_FD];
static int epfd[MAX_THREADS];
static int priv_ctl = -1;
/* The test's own channel, which keeps its user's record (not the workers') */
static int keeper[2] = { -1, -1 };
static int proc_idx;
static unsigned long long t_start;
static volatile int ticker_stop;
static pthread_barrier_t start_bar;

static struct {
	unsigned char *payload;		/* read-only pattern, then a guard */
	size_t payload_len;
	unsigned char *sink;		/* receive buffers, then a guard */
	size_t sink_len;
	unsigned char *flap_data;	/* RW/RO/none/unmapped, between guards */
	size_t flap_data_len;
	unsigned char *flap_struct;	/* RO/none/unmapped zeros, between guards */
	size_t flap_struct_len;
	unsigned char *hole;		/* an unmapped page between guards */
	unsigned char *arena, *arena_ro;	/* per-thread struct areas */
	size_t per_thread;
	unsigned char *rzone;	/* RZ_CHUNKS chunks of pool region mappings */
	unsigned char *kzone;	/* KZ_AREAS areas of the known thread */
} mem;

/*
 * The pool's region mappings, in a zone reserved PROT_NONE at start: every
 * mapping is made with MAP_FIXED inside a chunk and every unmapping puts
 * the reservation back, so no other mapping can land where a thread may
 * touch. Each chunk has a lock, held while it is changed or touched, and
 * what each of its pages is known to be.
 */
enum { PG_RES, PG_MAP, PG_UNK };
struct rchunk {
	pthread_mutex_t lock;
	unsigned char state[RZ_PAGES];	/* PG_* */
	unsigned char prot[RZ_PAGES];	/* of a PG_MAP page */
	unsigned char inside[RZ_PAGES];	/* PG_MAP: known inside its region */
};

static struct rchunk rchunks[RZ_CHUNKS];

/*
 * Per-thread layout of the arena (pages). Guards are PROT_NONE in both
 * the read-write view and the read-only alias.
 */
#define A_STRUCT	0	/* 2 pages */
#define A_EDGE		3	/* 1 page, guard after */
#define A_HDR		5	/* 9 pages: BATCH_ENTRIES msghdrs */
#define A_IOV		15	/* 5 pages: BATCH_ENTRIES iovecs */
#define A_NAME		21	/* 1 page */
#define A_PAGES		23
static const int a_guards[] = { 2, 4, 14, 20, 22 };

struct rng {
	unsigned long long s;
};

struct ctx {
	struct rng rng;
	int proc, thr, child;
	unsigned long long step;
	struct trec *rec;	/* sh->thr, or sh->child in a forked child */
	unsigned char *sarea, *sarea_ro, *edge;
	char *name, *name_ro;
	struct ipcchan_msghdr *hdr, *hdr_ro;
	struct ipcchan_iovec *iov, *iov_ro;
	unsigned long long olen[BATCH_ENTRIES];
	struct oplog ring[RING];
	unsigned int ring_pos;
	/* slots this thread got from a loan or a RECV_SLOT, and through what */
	struct { int fd; unsigned int slot; } held[HELD_MAX];
	unsigned int held_pos;
};

/* [cfg.threads]: the known-channel thread */
static struct ctx ctxs[MAX_THREADS + 1];

/* ---- names ------------------------------------------------------------------ */

static char name_255[IPCCHAN_NAME_MAX + 1];
static char name_256[IPCCHAN_NAME_MAX + 2];
/* Shared by every process and thread, so opens, creates and unlinks collide. */
static const char *const valid_names[] = {
	"fz0", "fz1", "fz2", "fz3", "fz esc\t\n\\", name_255, "fzs0",
};

#define SHM_NAME	6	/* valid_names[6]: the pool's named region channel */
/* Slots held and in flight here when the workers exit (hold_on_exit()). */
static const char hold_name[] = "fzh";
static const char *const bad_names[] = { "", ".", "..", "a/b", "/", "fz0/" };
/* Odd but valid names: a small fixed set, so the end can unlink them all. */
static const char *const odd_names[] = {
	"fzr\x01", "fzr\x7f", "fzr\x80", "fzr\xff", "...", "-", " ", "\\",
};

/* ---- PRNG: splitmix64 ------------------------------------------------------- */

static unsigned long long mix64(unsigned long long z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long long rnd(struct ctx *c)
{
	c->rng.s += 0x9e3779b97f4a7c15ULL;
	return mix64(c->rng.s);
}

static unsigned int rn(struct ctx *c, unsigned long long n)
{
	return n ? (unsigned int)(rnd(c) % n) : 0;
}

static int chance(struct ctx *c, unsigned int pct)
{
	return rn(c, 100) < pct;
}

static int pick_weighted(struct ctx *c, const unsigned char *w, int n)
{
	unsigned int sum = 0, r;
	int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	r = rn(c, sum);
	for (i = 0; i < n; i++) {
		if (r < w[i])
			return i;
		r -= w[i];
	}
	return n - 1;
}

/* Some bits outside @known (at least one). */
static unsigned long long unknown_bits(struct ctx *c, unsigned long long known)
{
	unsigned long long u;

	switch (rn(c, 4)) {
	case 0:
		u = ~known;
		break;
	case 1:
		u = rnd(c) & ~known;
		break;
	default:
		u = 1ULL << rn(c, 64);
		u &= ~known;
		break;
	}
	return u ? u : 1ULL << 63;
}

static const unsigned long long kernel_ptrs[] = {
	0xffffffff81000000ULL, 0xffff888000000000ULL, 0xfffffffffffff000ULL,
	~0ULL, 0x8000000000000000ULL, 0x0000800000000000ULL - 8,
	0x00007ffffffff000ULL, 0xdead000000000000ULL,
};
static const unsigned long long low_ptrs[] = { 0x8, 0x10, 0x1000, 0xfff0 };

/* ---- misc helpers ------------------------------------------------------------- */

/* IPCCHAN_IOC_CREATE with shared-page attributes; 0 or -errno. */
static int shm_create(int ctl, unsigned long long flags, unsigned int msz,
		      unsigned int qm, unsigned long long rsize,
		      unsigned int ssize, unsigned int nsems, int fds[2])
{
	struct ipcchan_create cr = {
		.flags = flags,
		.msg_size_max = msz,
		.queue_msgs = qm,
		.region_size = rsize,
		.slot_size = ssize,
		.nr_sems = nsems,
	};

	return chan_create_raw(ctl, &cr, fds);
}

/* IPCCHAN_IOC_OPEN with shared-page attributes; the fd or -errno. */
static int shm_open_name(int ctl, const char *name, unsigned long long flags,
			 unsigned int mode, unsigned long long rsize,
			 unsigned int ssize, unsigned int nsems,
			 unsigned int *created)
{
	struct ipcchan_open o = {
		.flags = flags,
		.name = ptr64(name),
		.mode = mode,
		.region_size = rsize,
		.slot_size = ssize,
		.nr_sems = nsems,
	};

	return chan_open_raw(ctl, &o, created);
}

static int nonzero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

static int region_info(int fd, struct ipcchan_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	return (int)chan_ioctl(fd, IPCCHAN_IOC_REGION_INFO, ri);
}

static int is_prot(int fd)
{
	return fd < 0 || fd < 3 || (fd < MAX_PROT_FD && prot_fd[fd]);
}

static void protect(int fd)
{
	if (fd >= 0 && fd < MAX_PROT_FD)
		prot_fd[fd] = 1;
}

static int sys_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

static int sys_tgkill(int tgid, int tid, int sig)
{
	return (int)syscall(SYS_tgkill, tgid, tid, sig);
}

static const char *errname(int e)
{
	static __thread char buf[16];
	const char *n = e ? strerrorname_np(e) : "ok";

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void count_x(int op, int ok)
{
	__atomic_fetch_add(&sh->xops[op][ok ? 0 : 1], 1, __ATOMIC_RELAXED);
}

static int slot_get(int s)
{
	return __atomic_load_n(&slots[s], __ATOMIC_RELAXED);
}

/* Put @fd in slot @s; the fd it held is closed unless @leak. */
static void slot_put(int s, int fd, int leak)
{
	int old = __atomic_exchange_n(&slots[s], fd, __ATOMIC_SEQ_CST);

	if (!leak && old != fd && !is_prot(old))
		close(old);
}

static int fmt_op(char *buf, size_t n, const struct oplog *o)
{
	const char *kind = o->kind < NCMD ? cmd_names[o->kind] :
			   o->kind - NCMD < NX ? x_names[o->kind - NCMD] : "?";
	char res[32];

	if (o->ret < 0)
		snprintf(res, sizeof(res), "%s", errname((int)-o->ret));
	else
		snprintf(res, sizeof(res), "%lld", o->ret);
	return snprintf(buf, n,
			"[step %llu %s slot=%d fd=%d ioc=%#x ptr=%s flags=%#llx a=%#llx b=%#llx -> %s]",
			o->step, kind, o->slot, o->fd, o->ioc,
			o->pk >= 0 && o->pk < NPK ? pk_names[o->pk] : "-",
			o->flags, o->a, o->b, res);
}

/* One write(2) per line, retried: SIGUSR1 interrupts tty writes. */
static void trace_line(const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(2, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void op_log(struct ctx *c, const struct oplog *o)
{
	c->ring[c->ring_pos++ % RING] = *o;
	if (cfg.trace) {
		char buf[400];
		int n;

		n = snprintf(buf, sizeof(buf), "# p%d t%d%s ", c->proc, c->thr,
			     c->child ? "c" : "");
		n += fmt_op(buf + n, sizeof(buf) - n - 1, o);
		if (n > (int)sizeof(buf) - 2)
			n = sizeof(buf) - 2;
		buf[n++] = '\n';
		trace_line(buf, n);
	}
}

/* Record an oracle violation, with this thread's recent steps. */
static void __attribute__((format(printf, 2, 3)))
violation(struct ctx *c, const char *fmt, ...)
{
	unsigned long long idx;
	char buf[VIOL_LEN];
	unsigned int i, n;
	va_list ap;
	int len;

	len = snprintf(buf, sizeof(buf), "p%d t%d%s step %llu: ", c->proc,
		       c->thr, c->child ? " (forked child)" : "", c->step);
	va_start(ap, fmt);
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	n = c->ring_pos < RING ? c->ring_pos : RING;
	for (i = n > 4 ? n - 4 : 0; i < n && len < (int)sizeof(buf) - 8; i++) {
		len += snprintf(buf + len, sizeof(buf) - len, "\n#     recent ");
		if (len >= (int)sizeof(buf))
			break;
		len += fmt_op(buf + len, sizeof(buf) - len,
			      &c->ring[(c->ring_pos - n + i) % RING]);
	}
	idx = __atomic_fetch_add(&sh->nviol, 1, __ATOMIC_SEQ_CST);
	if (idx < MAX_VIOL) {
		memcpy(sh->viol[idx], buf, sizeof(buf));
		sh->viol[idx][VIOL_LEN - 1] = '\0';
	}
	if (cfg.trace) {
		trace_line("# VIOLATION ", 12);
		trace_line(buf, strlen(buf));
		trace_line("\n", 1);
	}
}

static void op_begin(struct ctx *c, const struct oplog *o)
{
	if (!c->rec)
		return;
	c->rec->cur = *o;
	__atomic_store_n(&c->rec->op_start, now_ns(CLOCK_MONOTONIC),
			 __ATOMIC_RELEASE);
}

static void op_end(struct ctx *c)
{
	unsigned long long t0;
	int kind;

	if (!c->rec)
		return;
	t0 = c->rec->op_start;
	kind = c->rec->cur.kind;
	if (t0 && kind >= 0 && kind < NCMD + NX)
		__atomic_fetch_add(&sh->op_ns[kind],
				   now_ns(CLOCK_MONOTONIC) - t0,
				   __ATOMIC_RELAXED);
	__atomic_store_n(&c->rec->op_start, 0, __ATOMIC_RELEASE);
}

/* ---- errno oracle ---------------------------------------------------------------- */

/* What <linux/ipcchan.h> documents for each command (EBADF/ENOTTY apart). */
static const int err_query[] = { EFAULT, EINVAL, E2BIG, 0 };
static const int err_create[] = { EINVAL, EMFILE, ENFILE, ENOSPC, ENOMEM,
				  EFAULT, E2BIG, 0 };
static const int err_open[] = { ENOENT, EEXIST, EACCES, ENAMETOOLONG, EINVAL,
				EMFILE, ENFILE, ENOSPC, ENOMEM, EFAULT, E2BIG,
				0 };
static const int err_unlink[] = { ENOENT, EACCES, EINVAL, ENAMETOOLONG,
				  EFAULT, ENOMEM, E2BIG, 0 };
static const int err_send[] = { EAGAIN, ETIMEDOUT, EINTR, EPIPE, EMSGSIZE,
				ENOSPC, ENOMEM, EFAULT, EINVAL, ENODEV, E2BIG,
				0 };
/* ENOMEM: copying a slot message out of its region */
static const int err_recv[] = { EAGAIN, ETIMEDOUT, EINTR, EMSGSIZE, EFAULT,
				EINVAL, ENOMEM, E2BIG, 0 };
static const int err_stats[] = { EINVAL, EFAULT, E2BIG, 0 };
static const int err_notify[] = { EBUSY, EINVAL, ENOENT, ENOMEM, EFAULT,
				  E2BIG, 0 };
static const int err_loan[] = { EAGAIN, ETIMEDOUT, EINTR, ENODEV, EINVAL,
				EFAULT, E2BIG, 0 };
static const int err_release[] = { EINVAL, ENODEV, EFAULT, E2BIG, 0 };
static const int err_sem[] = { EAGAIN, ETIMEDOUT, EINTR, EOVERFLOW, EINVAL,
			       ENOMEM, EFAULT, E2BIG, 0 };
static const int err_region_info[] = { EINVAL, EFAULT, E2BIG, 0 };
static const int err_unknown[] = { 0 };
static const int *const err_allowed[NCMD] = {
	err_query, err_create, err_open, err_unlink, err_send, err_recv,
	err_send, err_recv, err_stats, err_notify, err_loan, err_release,
	err_sem, err_region_info, err_unknown,
};

static int errno_documented(int cmd, int e)
{
	const int *p;

	/* Any pool fd may be closed, or another kind of file, by now. */
	if (e == EBADF || e == ENOTTY)
		return 1;
	for (p = err_allowed[cmd]; *p; p++)
		if (*p == e)
			return 1;
	return 0;
}

/* One ioctl as issued, and what its arguments alone decide. */
struct icall {
	int cmd;		/* C_* */
	unsigned long ioc;
	int slot, fd;
	void *arg;
	int pk;
	unsigned long long flags, a, b;
	int must;		/* the call must fail with this errno */
	const char *why;	/* ... because */
	int must_fail;		/* the call must fail (any documented errno) */
	long ret;
};

static void must(struct icall *k, int e, const char *why)
{
	if (k->must)
		return;		/* the first (earliest checked) reason wins */
	k->must = e;
	k->why = why;
	k->must_fail = 1;
}

static long issue(struct ctx *c, struct icall *k)
{
	struct oplog o = {
		.step = c->step, .kind = k->cmd, .slot = k->slot, .fd = k->fd,
		.pk = k->pk, .ioc = (unsigned int)k->ioc, .flags = k->flags,
		.a = k->a, .b = k->b,
	};
	long r;
	int e;

	op_begin(c, &o);
	r = ioctl(k->fd, k->ioc, k->arg);
	if (r < 0)
		r = -errno;
	op_end(c);
	k->ret = r;
	o.ret = r;
	op_log(c, &o);

	e = r < 0 ? (int)-r : 0;
	__atomic_fetch_add(&sh->calls[k->cmd][e < ERRMAX ? e : ERRMAX - 1], 1,
			   __ATOMIC_RELAXED);
	if (!e) {
		if (k->must_fail)
			violation(c, "%s succeeded (returned %ld) but must fail%s%s%s",
				  cmd_names[k->cmd], r,
				  k->must ? " with " : "",
				  k->must ? errname(k->must) : "",
				  k->why ? k->why : "");
		return r;
	}
	if (!errno_documented(k->cmd, e))
		violation(c, "%s failed with %s, not documented for it",
			  cmd_names[k->cmd], errname(e));
	else if (k->must && e != k->must && e != EBADF && e != ENOTTY)
		violation(c, "%s failed with %s, expected %s%s",
			  cmd_names[k->cmd], errname(e), errname(k->must),
			  k->why ? k->why : "");
	return r;
}

/* ---- argument generation ----------------------------------------------------------- */

enum { SZ_NATIVE, SZ_SMALL, SZ_BIG_ZERO, SZ_BIG_NZ, SZ_HUGE };

/* The struct size put in _IOC_SIZE(): mostly the native one. */
static unsigned int pick_usize(struct ctx *c, unsigned int native, int *cls)
{
	*cls = SZ_NATIVE;
	if (!chance(c, 10))
		return native;
	switch (rn(c, 10)) {
	case 0:
		*cls = SZ_SMALL;
		return 0;
	case 1:
		*cls = SZ_SMALL;
		return native - 8;
	case 2:
		*cls = SZ_SMALL;
		return native - 1;
	case 3:
		*cls = SZ_SMALL;
		return 1 + rn(c, native - 1);
	case 4:
		*cls = SZ_BIG_ZERO;
		return native + 8;
	case 5:
		*cls = SZ_BIG_ZERO;
		return (unsigned int)page;
	case 6:
	case 7:
		*cls = SZ_BIG_NZ;
		return native + 1 + rn(c, page - native);
	case 8:
		*cls = SZ_HUGE;
		return (unsigned int)page + 1;
	default:
		*cls = SZ_HUGE;
		return (unsigned int)page + 1 + rn(c, _IOC_SIZEMASK - page);
	}
}

struct placed {
	void *arg;
	unsigned char *rw;	/* our view of the struct, if out_ok */
	int pk;
	int in_stable;		/* the kernel reads exactly what we built */
	int out_ok;		/* ... and can write back where we can read */
	int fault;		/* any read of the struct faults */
};

/* Put the struct @s where the kernel will look for it. */
static void place(struct ctx *c, const void *s, size_t native,
		  unsigned int usize, int szcls, struct placed *p)
{
	static const unsigned char w[NPK] = { 70, 6, 6, 3, 3, 3, 3, 3, 3 };
	size_t off = 0, k;
	unsigned char *d;

	memset(p, 0, sizeof(*p));
	p->pk = pick_weighted(c, w, NPK);
	/*
	 * The flapping region reads as zeros: a receive with flags 0, which
	 * sleeps until a signal. A forked child has no timer to interrupt it.
	 */
	if (c->child && p->pk == PK_FLAP)
		p->pk = PK_RO;
	switch (p->pk) {
	case PK_UNALIGNED:
		off = 1 + rn(c, 7);
		/* fall through */
	case PK_OK:
	case PK_RO:
		p->rw = c->sarea + off;
		memcpy(p->rw, s, native);
		if (usize > native && usize <= page) {
			memset(p->rw + native, 0, usize - native);
			if (szcls == SZ_BIG_NZ)
				p->rw[native + rn(c, usize - native)] =
					1 + rn(c, 255);
		}
		p->arg = p->pk == PK_RO ? c->sarea_ro + off : p->rw;
		p->in_stable = 1;
		p->out_ok = p->pk != PK_RO;
		if (!p->out_ok)
			p->rw = NULL;
		break;
	case PK_EDGE:
		k = rn(c, native);
		d = c->edge + page - k;
		memcpy(d, s, k);
		p->arg = d;
		p->fault = 1;
		break;
	case PK_NULL:
		p->arg = NULL;
		p->fault = 1;
		break;
	case PK_HOLE:
		p->arg = mem.hole + rn(c, page);
		p->fault = 1;
		break;
	case PK_KERNEL:
		p->arg = (void *)(uintptr_t)kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
		p->fault = 1;
		break;
	case PK_FLAP:
		p->arg = mem.flap_struct + rn(c, mem.flap_struct_len);
		break;
	default:
		p->arg = (void *)(uintptr_t)low_ptrs[rn(c, ARRAY_SIZE(low_ptrs))];
		p->fault = 1;
		break;
	}
}

/* Aim @k at the struct @p placed, sent as ioctl @ioc with its @flags. */
static void aim(struct icall *k, const struct placed *p, unsigned long ioc,
		unsigned long long flags)
{
	k->ioc = ioc;
	k->arg = p->arg;
	k->pk = p->pk;
	k->flags = flags;
}

/* What the size and the placement alone decide, in the kernel's order. */
static void expect_struct(struct icall *k, const struct placed *p, int szcls)
{
	if (szcls == SZ_SMALL)
		must(k, EINVAL, " (struct size below the first published size)");
	else if (szcls == SZ_HUGE)
		must(k, E2BIG, " (struct size above one page)");
	else if (p->fault)
		must(k, EFAULT, " (struct pointer not readable)");
	else if (p->in_stable && szcls == SZ_BIG_NZ)
		must(k, E2BIG, " (larger struct with a non-zero tail)");
}

/*
 * A pointer into the region zone: a page of some region mapping (the copy
 * then faults shmem pages in, or gets -EFAULT past a region's end), or a
 * reservation. Writes end at the chunk's last page, which is never mapped.
 */
static unsigned long long zone_ptr(struct ctx *c)
{
	return ptr64(mem.rzone + (size_t)rn(c, RZ_CHUNKS) * RZ_PAGES * page +
		     rn(c, (RZ_PAGES - 1) * page));
}

/* A pointer the kernel only reads from (payloads, names beyond our page). */
static unsigned long long data_read_ptr(struct ctx *c, unsigned long long len)
{
	unsigned long long span = len < page ? len : page;

	switch (rn(c, 21)) {
	case 0 ... 9:
		return ptr64(mem.payload + (chance(c, 20) ? rn(c, 8) : 0));
	case 10:	/* runs into the guard after the payload */
		return ptr64(mem.payload + mem.payload_len - rn(c, span + 1));
	case 11:
	case 12:
		return ptr64(mem.sink + rn(c, page));
	case 13:
		return ptr64(mem.flap_data + rn(c, mem.flap_data_len));
	case 14:
		return ptr64(mem.flap_struct + rn(c, mem.flap_struct_len));
	case 15:
		return 0;
	case 16:
		return kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
	case 17:
		return ptr64(mem.hole + rn(c, page));
	case 18:
		return low_ptrs[rn(c, ARRAY_SIZE(low_ptrs))];
	case 19:
		return zone_ptr(c);
	default:
		return ptr64(mem.payload + rn(c, mem.payload_len));
	}
}

/*
 * A pointer the kernel may write a payload through. A payload is at most
 * max_msg_size bytes: the sink has that much room after any offset used
 * here, and everything else is either unwritable or ends in a guard page.
 */
static unsigned long long data_write_ptr(struct ctx *c)
{
	switch (rn(c, 21)) {
	case 0 ... 9:
	case 19:
		return ptr64(mem.sink + (chance(c, 20) ? rn(c, page) : 0));
	case 10:
	case 11:	/* runs into the guard after the sink */
		return ptr64(mem.sink + mem.sink_len - 1 - rn(c, page));
	case 12:	/* read-only */
		return ptr64(mem.payload + rn(c, mem.payload_len));
	case 13:
		return ptr64(mem.flap_data + rn(c, mem.flap_data_len));
	case 14:
		return ptr64(mem.flap_struct + rn(c, mem.flap_struct_len));
	case 15:
		return 0;
	case 16:
		return kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
	case 17:
		return ptr64(mem.hole + rn(c, page));
	case 20:
		return zone_ptr(c);
	default:
		return low_ptrs[rn(c, ARRAY_SIZE(low_ptrs))];
	}
}

static unsigned long long pick_send_len(struct ctx *c)
{
	unsigned long long m = lim.max_msg_size;

	switch (rn(c, 28)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 8;
	case 3: return 63;
	case 4: return 64;
	case 5: return 65;
	case 6: return 256;
	case 7: return 4096;
	case 8: return 4097;
	case 9: return 8192;
	case 10: return 8193;
	case 11: return 65536;
	case 12: return m;
	case 13: return m + 1;
	case 14: return 1ULL << 32;
	case 15: return 1ULL << 63;
	case 16: return ~0ULL;
	case 17: return rn(c, 2048);
	default: return rn(c, 300);
	}
}

static unsigned long long pick_recv_len(struct ctx *c)
{
	switch (rn(c, 16)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 8;
	case 3: return 64;
	case 4: return 4096;
	case 5: return 8192;
	case 6: return lim.max_msg_size;
	case 7: return ~0ULL;
	case 8: return 1ULL << 32;
	case 9: return rn(c, 300);
	default: return 65536;
	}
}

static unsigned int pick_prio(struct ctx *c)
{
	switch (rn(c, 12)) {
	case 0: return IPCCHAN_PRIO_MAX - 1;
	case 1: return IPCCHAN_PRIO_MAX;
	case 2: return IPCCHAN_PRIO_MAX + 1;
	case 3: return 0xffffffffU;
	case 4: return 65535;
	case 5: return 1U << 31;
	case 6: return rn(c, IPCCHAN_PRIO_MAX);
	default: return rn(c, 4);
	}
}

static unsigned int pick_msgsize(struct ctx *c)
{
	unsigned long long m = lim.max_msg_size;

	switch (rn(c, 18)) {
	case 0 ... 6: return 0;
	case 7: return 1;
	case 8: return 7;
	case 9: return 64;
	case 10: return 512;
	case 11: return 4096;
	case 12: return (unsigned int)m;
	case 13: return (unsigned int)(m + 1);
	case 14: return (unsigned int)(m - 1);
	case 15: return 0xffffffffU;
	default: return 1 + rn(c, 16384);
	}
}

static unsigned int pick_qmsgs(struct ctx *c)
{
	unsigned long long m = lim.max_queue_msgs;

	switch (rn(c, 16)) {
	case 0 ... 6: return 0;
	case 7: return 1;
	case 8: return 2;
	case 9: return 3;
	case 10: return 64;
	case 11: return (unsigned int)m;
	case 12: return (unsigned int)(m + 1);
	case 13: return 0xffffffffU;
	default: return rn(c, 128);
	}
}

static unsigned long long pick_qbytes(struct ctx *c, unsigned int msz)
{
	unsigned long long m = lim.max_queue_bytes;

	switch (rn(c, 16)) {
	case 0 ... 6: return 0;
	case 7: return msz;
	case 8: return msz - 1ULL;
	case 9: return msz + 1ULL;
	case 10: return 1;
	case 11: return 65536;
	case 12: return m;
	case 13: return m + 1;
	case 14: return ~0ULL;
	default: return (1ULL << 32) | msz;
	}
}

/* The kernel's attribute resolution, from the limits (uapi "Channel attributes"). */
static int attrs_resolve(unsigned int *msz, unsigned int *qm,
			 unsigned long long *qb)
{
	if (!*msz)
		*msz = (unsigned int)(lim.max_msg_size < IPCCHAN_DEFAULT_MSG_SIZE ?
				      lim.max_msg_size : IPCCHAN_DEFAULT_MSG_SIZE);
	if (!*qm)
		*qm = (unsigned int)(lim.max_queue_msgs < IPCCHAN_DEFAULT_QUEUE_MSGS ?
				     lim.max_queue_msgs : IPCCHAN_DEFAULT_QUEUE_MSGS);
	if (!*qb) {
		*qb = (unsigned long long)*qm * *msz;
		if (*qb > lim.max_queue_bytes)
			*qb = lim.max_queue_bytes;
	}
	return *msz <= lim.max_msg_size && *qm <= lim.max_queue_msgs &&
	       *qb <= lim.max_queue_bytes && *qb >= *msz;
}

/*
 * Shared-page attributes, valid and not: sizes 0, page multiples, not page
 * multiples, at and past max_region_size, huge; slot sizes 0, multiples of
 * IPCCHAN_SLOT_ALIGN and not, one slot, larger than the region, more than
 * IPCCHAN_SLOTS_MAX slots; semaphore counts around IPCCHAN_SEMS_MAX.
 */
static void pick_region(struct ctx *c, unsigned long long *size,
			unsigned int *ssz, unsigned int *nsems)
{
	unsigned long long pg = page, max = lim.max_region_size;

	switch (rn(c, 24)) {
	case 0 ... 9: *size = pg * (1 + rn(c, 16)); break;
	case 10: *size = 0; break;
	case 11: *size = max; break;
	case 12: *size = max + pg; break;
	case 13: *size = pg + 1; break;
	case 14: *size = pg - IPCCHAN_SLOT_ALIGN; break;
	case 15: *size = rn(c, pg); break;
	case 16: *size = 1ULL << 40; break;
	case 17: *size = ~0ULL; break;
	case 18: *size = ~0ULL & ~(pg - 1); break;
	case 19: *size = 1ULL << 63; break;
	case 20: *size = (unsigned long long)IPCCHAN_SLOTS_MAX * 64; break;
	case 21: *size = (unsigned long long)IPCCHAN_SLOTS_MAX * 128; break;
	default: *size = pg * (1 + rn(c, 4)); break;
	}
	switch (rn(c, 20)) {
	case 0 ... 6: *ssz = 0; break;
	case 7: *ssz = 64; break;
	case 8: *ssz = 128; break;
	case 9: *ssz = 512; break;
	case 10: *ssz = 1024; break;
	case 11: *ssz = (unsigned int)pg; break;
	case 12: *ssz = (unsigned int)*size; break;		/* one slot */
	case 13: *ssz = (unsigned int)*size + 64; break;	/* too big */
	case 14: *ssz = 1 + rn(c, 63); break;
	case 15: *ssz = 64 * (1 + rn(c, 64)) + 1 + rn(c, 63); break;
	case 16: *ssz = 0xffffffc0U; break;
	case 17: *ssz = 0xffffffffU; break;
	default: *ssz = 64 * (1 + rn(c, 64)); break;
	}
	switch (rn(c, 16)) {
	case 0 ... 5: *nsems = 0; break;
	case 6 ... 10: *nsems = 1 + rn(c, 8); break;
	case 11: *nsems = IPCCHAN_SEMS_MAX; break;
	case 12: *nsems = IPCCHAN_SEMS_MAX + 1; break;
	case 13: *nsems = 0xffffffffU; break;
	case 14: *nsems = 1U << 31; break;
	default: *nsems = rn(c, IPCCHAN_SEMS_MAX + 8); break;
	}
}

/* The uapi's rules for the shared-page attributes ("Channel attributes"). */
static int region_ok(unsigned long long size, unsigned int ssz,
		     unsigned int nsems)
{
	if (size % page || size > lim.max_region_size)
		return 0;
	if (ssz && (ssz % IPCCHAN_SLOT_ALIGN || ssz > size ||
		    size / ssz > IPCCHAN_SLOTS_MAX))
		return 0;
	return nsems <= IPCCHAN_SEMS_MAX;
}

#define XFER_KNOWN (IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | \
		    IPCCHAN_REALTIME)

/* Send/receive flags; *bad set for a combination that is -EINVAL. */
static unsigned long long xfer_flags(struct ctx *c, int *bad)
{
	unsigned long long f = 0;
	unsigned int r;

	if (chance(c, 85) || c->child)
		f |= IPCCHAN_NONBLOCK;
	r = rn(c, 100);
	if (r < 30) {
		f |= IPCCHAN_TIMEOUT;
		if (chance(c, 40)) {
			f |= IPCCHAN_ABSTIME;
			if (chance(c, 40))
				f |= IPCCHAN_REALTIME;
		}
	} else if (r < 32) {
		f |= IPCCHAN_ABSTIME;
		*bad = 1;
	} else if (r < 34) {
		f |= IPCCHAN_TIMEOUT | IPCCHAN_REALTIME;
		*bad = 1;
	}
	return f;
}

static unsigned long long pick_timeout(struct ctx *c, unsigned long long f)
{
	unsigned long long now;

	if (!(f & IPCCHAN_TIMEOUT))
		return chance(c, 50) ? 0 : rnd(c);	/* ignored */
	if (f & IPCCHAN_ABSTIME) {
		now = now_ns((f & IPCCHAN_REALTIME) ? CLOCK_REALTIME :
						      CLOCK_MONOTONIC);
		switch (rn(c, 8)) {
		case 0: return 0;
		case 1: return 1;
		case 2: return now - NSEC_PER_SEC;
		case 3: return now;
		case 4: return now + 100000;
		case 5: return now + 2 * NSEC_PER_MSEC;
		case 6: return ~0ULL;
		default: return (1ULL << 63) - 1;
		}
	}
	switch (rn(c, 10)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 1000;
	case 3: return 100000;
	case 4: return NSEC_PER_MSEC;
	case 5: return 5 * NSEC_PER_MSEC;
	case 6: return 20 * NSEC_PER_MSEC;
	case 7: return NSEC_PER_SEC;
	case 8: return ~0ULL;
	default: return 1ULL << 62;
	}
}

/* Signals a notification may ask for: all ignored, or SIGUSR1 (handled). */
static const int safe_sigs[] = {
	SIGUSR1, SIGUSR2, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGCHLD,
	SIGCONT, SIGURG, SIGWINCH, SIGIO, SIGPWR, SIGTSTP, SIGTTIN, SIGTTOU,
	SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGSTKFLT, SIGSYS, SIGTRAP,
	SIGPIPE, SIGSEGV, SIGBUS, 34, 35, 40, 48, 50, 63, 64,
};

/*
 * A name: mostly from the shared set; *val is 0 (valid), EINVAL or
 * ENAMETOOLONG, *stable whether the kernel reads exactly that string,
 * *fault whether reading it faults.
 */
static unsigned long long pick_name(struct ctx *c, int *val, int *stable,
				    int *fault)
{
	const char *s;
	unsigned int r = rn(c, 100);
	size_t len;

	*val = 0;
	if (r < 64) {
		s = valid_names[rn(c, 4)];
	} else if (r < 70) {
		s = valid_names[SHM_NAME];
	} else if (r < 75) {
		s = valid_names[4];
	} else if (r < 80) {
		s = name_255;
	} else if (r < 88) {
		s = bad_names[rn(c, ARRAY_SIZE(bad_names))];
		*val = EINVAL;
	} else if (r < 93) {
		s = name_256;
		*val = ENAMETOOLONG;
	} else {
		s = odd_names[rn(c, ARRAY_SIZE(odd_names))];
	}
	len = strlen(s);
	*stable = 0;
	*fault = 0;
	switch (rn(c, 20)) {
	case 0 ... 14:
		memcpy(c->name, s, len + 1);
		*stable = 1;
		return ptr64(c->name);
	case 15:
		memcpy(c->name, s, len + 1);
		*stable = 1;
		return ptr64(c->name_ro);
	case 16:	/* no NUL before the guard */
		memcpy(c->name + page - len, s, len);
		/* 256 readable bytes without a NUL are too long, not a fault */
		if (len > IPCCHAN_NAME_MAX)
			*stable = 1;
		else
			*fault = 1;
		return ptr64(c->name + page - len);
	case 17:
		*fault = 1;
		return 0;
	case 18:
		*fault = 1;
		return kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
	default:
		return ptr64(mem.flap_struct + rn(c, mem.flap_struct_len));
	}
}

/* A pool fd for the call: any slot. */
static int pick_fd(struct ctx *c, int *slot)
{
	*slot = rn(c, NSLOTS);
	return slot_get(*slot);
}

#define CTL_SLOTS	4

/* A pool fd for an endpoint command: mostly outside the control slots. */
static int pick_ep_fd(struct ctx *c, int *slot)
{
	unsigned int r = rn(c, 100);

	*slot = r < 70 ? CTL_SLOTS + (int)(r % (NSLOTS - CTL_SLOTS)) :
			 (int)rn(c, NSLOTS);
	return slot_get(*slot);
}

/*
 * A pool fd for a control command: mostly from the first CTL_SLOTS slots,
 * where control fds are put (and raced on like any other).
 */
static int pick_ctl_fd(struct ctx *c, int *slot)
{
	unsigned int r = rn(c, 100);

	*slot = r < 75 ? (int)(r % CTL_SLOTS) : rn(c, NSLOTS);
	return slot_get(*slot);
}

/* Slots SHM_SLOT0 .. NSLOTS - 1 start with region channels (build_pool). */
#define SHM_SLOT0	28

/* A pool fd for a shared-pages command: often one of the region slots. */
static int pick_region_fd(struct ctx *c, int *slot)
{
	if (chance(c, 55)) {
		*slot = SHM_SLOT0 + (int)rn(c, NSLOTS - SHM_SLOT0);
		return slot_get(*slot);
	}
	return pick_ep_fd(c, slot);
}

/* Remember a slot this thread got (loaned or received) through @fd. */
static void held_add(struct ctx *c, int fd, unsigned int slot)
{
	c->held[c->held_pos % HELD_MAX].fd = fd;
	c->held[c->held_pos % HELD_MAX].slot = slot;
	c->held_pos++;
}

/*
 * A slot number for a send or a release: one this thread got (*hidx is
 * its entry), a small number (free, held by anyone, in flight), the last
 * possible one, or forged. The draws never depend on what was remembered.
 */
static unsigned int pick_slot_num(struct ctx *c, int *hidx)
{
	unsigned int e;

	*hidx = -1;
	switch (rn(c, 20)) {
	case 0 ... 8:
		e = rn(c, HELD_MAX);
		if (c->held[e].fd < 0)
			return rn(c, 16);
		*hidx = (int)e;
		return c->held[e].slot;
	case 9 ... 13: return rn(c, 16);
	case 14: return IPCCHAN_SLOTS_MAX - 1;
	case 15: return IPCCHAN_SLOTS_MAX;
	case 16: return IPCCHAN_SLOT_NONE;
	case 17: return 0x80000000U;
	default: return (unsigned int)rnd(c);
	}
}

/* The fd to use with a remembered slot: mostly the one it came through. */
static int held_fd(struct ctx *c, int hidx, int *slot)
{
	int fd = pick_region_fd(c, slot);

	if (chance(c, 70) && hidx >= 0) {
		*slot = -1;
		return c->held[hidx].fd;
	}
	return fd;
}

static void held_forget(struct ctx *c, int hidx, int fd)
{
	if (hidx >= 0 && c->held[hidx].fd == fd)
		c->held[hidx].fd = -1;
}

static unsigned long long pick_slot_len(struct ctx *c)
{
	switch (rn(c, 14)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 63;
	case 3: return 64;
	case 4: return 512;
	case 5: return 1024;
	case 6: return page;
	case 7: return page + 1;
	case 8: return 65536;
	case 9: return ~0ULL;
	case 10: return 1ULL << 32;
	default: return rn(c, 600);
	}
}

/* ---- the commands -------------------------------------------------------------------- */

static void reserved_garbage(struct ctx *c, unsigned long long *r, int n,
			     int pct, int *bad)
{
	if (chance(c, pct)) {
		r[rn(c, n)] = rnd(c) | 1;
		*bad = 1;
	}
}

static void fuzz_query(struct ctx *c)
{
	struct ipcchan_query q, *o;
	struct icall k = { .cmd = C_QUERY };
	struct placed p;
	int bad = 0, szcls;
	unsigned int usize;

	memset(&q, 0, sizeof(q));
	if (chance(c, 20))	/* output fields are ignored on input */
		q.nr_channels = q.max_msg_size = q.features = rnd(c);
	if (chance(c, 8)) {
		q.flags = unknown_bits(c, 0);
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)&q.reserved, 1, 5, &bad);
	usize = pick_usize(c, sizeof(q), &szcls);
	place(c, &q, sizeof(q), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_QUERY, usize), q.flags);
	k.a = usize;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags or reserved non-zero)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;	/* the result cannot be written */
	if (issue(c, &k) < 0 || !p.out_ok)
		return;
	if (k.ret != 0)
		violation(c, "QUERY returned %ld", k.ret);
	o = (struct ipcchan_query *)p.rw;
	if (usize < sizeof(*o))
		return;
	if (o->abi_version != IPCCHAN_ABI_VERSION ||
	    !(o->features & IPCCHAN_FEAT_QUERY) || o->flags ||
	    !o->max_msg_size || !o->max_queue_msgs || !o->max_queue_bytes ||
	    !o->max_channels || !o->max_user_channels || !o->max_user_bytes)
		violation(c, "QUERY output wrong: abi %u features %#llx flags %#llx",
			  o->abi_version, (unsigned long long)o->features,
			  (unsigned long long)o->flags);
	if (o->reserved)
		violation(c, "QUERY reserved = %#llx",
			  (unsigned long long)o->reserved);
}

#define CREATE_KNOWN (IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | \
		      IPCCHAN_CREATE_DUPLEX)

static void fuzz_create(struct ctx *c)
{
	struct ipcchan_create cr, *o;
	struct icall k = { .cmd = C_CREATE };
	struct placed p;
	unsigned int usize, msz, qm;
	unsigned long long qb;
	int bad = 0, attr_ok, szcls, s0, s1, leak, shm;

	memset(&cr, 0, sizeof(cr));
	cr.flags = rnd(c) & CREATE_KNOWN;
	if (chance(c, 6)) {
		cr.flags |= unknown_bits(c, CREATE_KNOWN);
		bad = 1;
	}
	cr.msg_size_max = pick_msgsize(c);
	cr.queue_msgs = pick_qmsgs(c);
	cr.queue_bytes = pick_qbytes(c, cr.msg_size_max);
	cr.fds[0] = (int)rnd(c);
	cr.fds[1] = chance(c, 50) ? -1 : (int)rnd(c);
	reserved_garbage(c, (unsigned long long *)cr.reserved,
			 ARRAY_SIZE(cr.reserved), 5, &bad);
	shm = chance(c, 55);
	if (shm)
		pick_region(c, &cr.region_size, &cr.slot_size, &cr.nr_sems);
	msz = cr.msg_size_max;
	qm = cr.queue_msgs;
	qb = cr.queue_bytes;
	attr_ok = attrs_resolve(&msz, &qm, &qb);
	s0 = rn(c, NSLOTS);
	s1 = rn(c, NSLOTS);
	leak = chance(c, 3);
	/* a leaked large region would hold max_user_region_bytes to the end */
	if (cr.region_size > (1ULL << 20))
		leak = 0;
	usize = pick_usize(c, sizeof(cr), &szcls);
	place(c, &cr, sizeof(cr), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_CREATE, usize), cr.flags);
	k.a = (unsigned long long)cr.msg_size_max << 32 | cr.queue_msgs;
	k.b = cr.queue_bytes;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (unknown flag or reserved non-zero)");
	if (p.in_stable && !attr_ok)
		must(&k, EINVAL, " (attributes outside the limits)");
	if (p.in_stable && !region_ok(cr.region_size, cr.slot_size, cr.nr_sems))
		must(&k, EINVAL, " (shared-page attributes)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;
	if (issue(c, &k) < 0)
		return;
	if (!p.out_ok) {
		violation(c, "CREATE succeeded with an unwritable struct");
		return;
	}
	o = (struct ipcchan_create *)p.rw;
	if (k.ret != 0)
		violation(c, "CREATE returned %ld", k.ret);
	if (o->fds[0] < 0 || o->fds[1] < 0 || o->fds[0] == o->fds[1] ||
	    is_prot(o->fds[0]) || is_prot(o->fds[1])) {
		violation(c, "CREATE returned fds %d, %d", o->fds[0], o->fds[1]);
		return;
	}
	if (o->msg_size_max != msz || o->queue_msgs != qm ||
	    o->queue_bytes != qb || o->flags != cr.flags)
		violation(c, "CREATE resolved attributes %u/%u/%llu, expected %u/%u/%llu",
			  o->msg_size_max, o->queue_msgs,
			  (unsigned long long)o->queue_bytes, msz, qm, qb);
	if (o->region_size != cr.region_size || o->slot_size != cr.slot_size ||
	    o->nr_sems != cr.nr_sems || o->reserved[0] || o->reserved[1])
		violation(c, "CREATE wrote back region %llu/%u/%u reserved %#llx/%#llx, given %llu/%u/%u",
			  (unsigned long long)o->region_size, o->slot_size,
			  o->nr_sems, (unsigned long long)o->reserved[0],
			  (unsigned long long)o->reserved[1],
			  (unsigned long long)cr.region_size, cr.slot_size,
			  cr.nr_sems);
	slot_put(s0, o->fds[0], leak);
	slot_put(s1, o->fds[1], leak);
}

#define OPEN_KNOWN (IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | \
		    IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV | \
		    IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL)

static unsigned int pick_mode(struct ctx *c)
{
	switch (rn(c, 10)) {
	case 0: return 0;
	case 1: return 0400;
	case 2: return 0200;
	case 3: return 01000;	/* invalid */
	case 4: return 0xffffffffU;	/* invalid */
	case 5: return rn(c, 01000);
	case 6: return 0777;
	default: return 0600;
	}
}

static void fuzz_open(struct ctx *c)
{
	struct ipcchan_open op, *o;
	struct icall k = { .cmd = C_OPEN };
	struct placed p;
	unsigned int usize, msz, qm;
	unsigned long long qb;
	int bad = 0, szcls, nval, nstable, nfault, s, leak, shm;

	memset(&op, 0, sizeof(op));
	if (chance(c, 65))
		op.flags |= IPCCHAN_OPEN_SEND;
	if (chance(c, 65))
		op.flags |= IPCCHAN_OPEN_RECV;
	if (chance(c, 50))
		op.flags |= IPCCHAN_OPEN_CREATE;
	if (chance(c, 12))
		op.flags |= IPCCHAN_OPEN_EXCL;
	op.flags |= rnd(c) & (IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK);
	if (chance(c, 5))
		op.flags |= unknown_bits(c, OPEN_KNOWN);
	op.name = pick_name(c, &nval, &nstable, &nfault);
	op.mode = pick_mode(c);
	op.msg_size_max = chance(c, 70) ? 0 : pick_msgsize(c);
	op.queue_msgs = chance(c, 70) ? 0 : pick_qmsgs(c);
	op.queue_bytes = chance(c, 70) ? 0 : pick_qbytes(c, op.msg_size_max);
	op.fd = (int)rnd(c);
	op.created = (unsigned int)rnd(c);
	if (chance(c, 4))
		op.pad = (unsigned int)rnd(c) | 1;
	reserved_garbage(c, (unsigned long long *)op.reserved,
			 ARRAY_SIZE(op.reserved), 4, &bad);
	shm = chance(c, 30);
	if (shm)
		pick_region(c, &op.region_size, &op.slot_size, &op.nr_sems);
	if ((op.flags & ~OPEN_KNOWN) || op.pad ||
	    !(op.flags & (IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV)) ||
	    ((op.flags & IPCCHAN_OPEN_EXCL) && !(op.flags & IPCCHAN_OPEN_CREATE)) ||
	    ((op.flags & IPCCHAN_OPEN_CREATE) && (op.mode & ~0777U)))
		bad = 1;
	msz = op.msg_size_max;
	qm = op.queue_msgs;
	qb = op.queue_bytes;
	attrs_resolve(&msz, &qm, &qb);
	s = rn(c, NSLOTS);
	leak = chance(c, 3);
	if (op.region_size > (1ULL << 20))
		leak = 0;
	usize = pick_usize(c, sizeof(op), &szcls);
	place(c, &op, sizeof(op), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_OPEN, usize), op.flags);
	k.a = op.name;
	k.b = op.mode;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, mode, pad or reserved)");
	if (p.in_stable && nfault)
		must(&k, EFAULT, " (name not readable)");
	if (p.in_stable && nstable && nval)
		must(&k, nval, " (name)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;
	if (issue(c, &k) < 0)
		return;
	if (!p.out_ok) {
		violation(c, "OPEN succeeded with an unwritable struct");
		return;
	}
	o = (struct ipcchan_open *)p.rw;
	if (k.ret != 0)
		violation(c, "OPEN returned %ld", k.ret);
	if (o->fd < 0 || is_prot(o->fd)) {
		violation(c, "OPEN returned fd %d", o->fd);
		return;
	}
	if (o->created > 1 ||
	    (o->created && !(op.flags & IPCCHAN_OPEN_CREATE)) ||
	    (!o->created && (op.flags & IPCCHAN_OPEN_EXCL)))
		violation(c, "OPEN created=%u with flags %#llx", o->created,
			  (unsigned long long)op.flags);
	else if (o->created && (o->msg_size_max != msz ||
				o->queue_msgs != qm || o->queue_bytes != qb))
		violation(c, "OPEN created with attributes %u/%u/%llu, expected %u/%u/%llu",
			  o->msg_size_max, o->queue_msgs,
			  (unsigned long long)o->queue_bytes, msz, qm, qb);
	else if (o->created && !region_ok(op.region_size, op.slot_size,
					  op.nr_sems))
		violation(c, "OPEN created a channel with invalid shared-page attributes %llu/%u/%u",
			  (unsigned long long)op.region_size, op.slot_size,
			  op.nr_sems);
	else if (o->created && (o->region_size != op.region_size ||
				o->slot_size != op.slot_size ||
				o->nr_sems != op.nr_sems))
		violation(c, "OPEN wrote back region %llu/%u/%u, given %llu/%u/%u",
			  (unsigned long long)o->region_size, o->slot_size,
			  o->nr_sems, (unsigned long long)op.region_size,
			  op.slot_size, op.nr_sems);
	if (o->pad || o->reserved[0] || o->reserved[1])
		violation(c, "OPEN wrote back pad %u reserved %#llx/%#llx",
			  o->pad, (unsigned long long)o->reserved[0],
			  (unsigned long long)o->reserved[1]);
	slot_put(s, o->fd, leak);
}

static void fuzz_unlink(struct ctx *c)
{
	struct ipcchan_unlink u;
	struct icall k = { .cmd = C_UNLINK };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls, nval, nstable, nfault;

	memset(&u, 0, sizeof(u));
	if (chance(c, 6)) {
		u.flags = unknown_bits(c, 0);
		bad = 1;
	}
	u.name = pick_name(c, &nval, &nstable, &nfault);
	reserved_garbage(c, (unsigned long long *)u.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(u), &szcls);
	place(c, &u, sizeof(u), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_UNLINK, usize), u.flags);
	k.a = u.name;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags or reserved)");
	if (p.in_stable && nfault)
		must(&k, EFAULT, " (name not readable)");
	if (p.in_stable && nstable && nval)
		must(&k, nval, " (name)");
	if (issue(c, &k) > 0)
		violation(c, "UNLINK returned %ld", k.ret);
}

/* The iovec array of a vectored send. */
static unsigned long long iov_array(struct ctx *c, unsigned long long cnt)
{
	unsigned int n = cnt < BATCH_ENTRIES ? (unsigned int)cnt : BATCH_ENTRIES;
	unsigned char *end = (unsigned char *)c->iov + 5 * page;
	struct ipcchan_iovec *v = c->iov;
	unsigned long long ret;
	unsigned int i, m = n;

	switch (rn(c, 12)) {
	case 0 ... 7:
		ret = ptr64(v);
		break;
	case 8:
		ret = ptr64(c->iov_ro);
		break;
	case 9:		/* the last entries run into the guard */
		m = rn(c, n + 1);
		v = (struct ipcchan_iovec *)(end - m * sizeof(*v) -
					     (chance(c, 50) ? 8 : 0));
		ret = ptr64(v);
		break;
	case 10:
		m = 0;
		ret = ptr64(mem.flap_data + rn(c, mem.flap_data_len));
		break;
	default:
		m = 0;
		ret = chance(c, 50) ? 0 : kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
		break;
	}
	for (i = 0; i < m && (unsigned char *)(v + i + 1) <= end; i++) {
		v[i].len = chance(c, 80) ? rn(c, 64) : pick_send_len(c);
		v[i].base = data_read_ptr(c, v[i].len);
	}
	return ret;
}

#define SEND_KNOWN (XFER_KNOWN | IPCCHAN_SEND_IOV | IPCCHAN_SEND_SLOT)

static void fuzz_send(struct ctx *c)
{
	struct ipcchan_send s;
	struct icall k = { .cmd = C_SEND };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls, hidx = -1, slotted;

	memset(&s, 0, sizeof(s));
	s.flags = xfer_flags(c, &bad);
	if (chance(c, 15))
		s.flags |= IPCCHAN_SEND_IOV;
	slotted = chance(c, 16);
	if (slotted) {
		s.flags |= IPCCHAN_SEND_SLOT;
		if (s.flags & IPCCHAN_SEND_IOV)
			bad = 1;	/* IOV and SLOT together */
	}
	if (chance(c, 4)) {
		s.flags |= unknown_bits(c, SEND_KNOWN);
		bad = 1;
	}
	if (slotted) {
		s.len = pick_slot_len(c);
		s.buf = chance(c, 90) ? 0 : data_read_ptr(c, 64);
		s.slot = pick_slot_num(c, &hidx);
	} else if (s.flags & IPCCHAN_SEND_IOV) {
		switch (rn(c, 10)) {
		case 0: s.len = 0; break;
		case 1: s.len = IPCCHAN_IOV_MAX; break;
		case 2: s.len = IPCCHAN_IOV_MAX + 1; break;
		case 3: s.len = rnd(c); break;
		default: s.len = 1 + rn(c, 8); break;
		}
		s.buf = iov_array(c, s.len);
	} else {
		s.len = pick_send_len(c);
		s.buf = data_read_ptr(c, s.len);
	}
	s.timeout_ns = pick_timeout(c, s.flags);
	s.prio = pick_prio(c);
	if (chance(c, 4) && !slotted) {
		s.slot = (unsigned int)rnd(c) | 1;	/* without SEND_SLOT */
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)s.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(s), &szcls);
	place(c, &s, sizeof(s), usize, szcls, &p);
	if (slotted)
		k.fd = held_fd(c, hidx, &k.slot);
	else
		k.fd = pick_ep_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_SEND, usize), s.flags);
	k.a = s.len;
	k.b = slotted ? s.slot : s.buf;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, pad or reserved)");
	/* Decided by the arguments, whichever endpoint fd is now. */
	if (p.in_stable && s.prio >= IPCCHAN_PRIO_MAX)
		k.must_fail = 1;
	if (p.in_stable && slotted && (s.buf || s.slot >= IPCCHAN_SLOTS_MAX))
		k.must_fail = 1;
	if (issue(c, &k) > 0)
		violation(c, "SEND returned %ld", k.ret);
	if (!k.ret && slotted)
		held_forget(c, hidx, k.fd);
}

#define RECV_KNOWN (XFER_KNOWN | IPCCHAN_RECV_PEEK | IPCCHAN_RECV_CREDS | \
		    IPCCHAN_RECV_SLOT)

static void check_recv_out(struct ctx *c, const struct ipcchan_recv *o,
			   unsigned long long flags, unsigned long long len_in,
			   long ret)
{
	if (ret >= 0 && ret < INT_MAX && o->len != (unsigned long long)ret)
		violation(c, "RECV returned %ld but len %llu", ret,
			  (unsigned long long)o->len);
	if (ret > 0 && (unsigned long long)ret > len_in &&
	    (!(flags & IPCCHAN_RECV_SLOT) || o->slot == IPCCHAN_SLOT_NONE))
		violation(c, "RECV returned %ld for a %llu-byte buffer", ret,
			  len_in);
	if (o->flags != flags || o->reserved || o->pad)
		violation(c, "RECV flags %#llx -> %#llx, reserved %#llx pad %u",
			  flags, (unsigned long long)o->flags,
			  (unsigned long long)o->reserved, o->pad);
	/* Without RECV_SLOT, @slot reads 0, as the reserved field it was. */
	if (ret >= 0 && !(flags & IPCCHAN_RECV_SLOT) && o->slot)
		violation(c, "RECV without RECV_SLOT: slot %u", o->slot);
	if (ret >= 0 && (flags & IPCCHAN_RECV_SLOT) &&
	    o->slot != IPCCHAN_SLOT_NONE &&
	    (o->slot >= IPCCHAN_SLOTS_MAX || !o->seq))
		violation(c, "RECV with flags %#llx: slot %u seq %llu", flags,
			  o->slot, (unsigned long long)o->seq);
	if (!(flags & IPCCHAN_RECV_CREDS) &&
	    (o->pid || o->uid || o->gid || o->timestamp_ns))
		violation(c, "RECV without CREDS filled pid %u uid %u gid %u ts %llu",
			  o->pid, o->uid, o->gid,
			  (unsigned long long)o->timestamp_ns);
	if (o->prio >= IPCCHAN_PRIO_MAX || (!o->seq && (o->len || o->prio)))
		violation(c, "RECV prio %u seq %llu len %llu", o->prio,
			  (unsigned long long)o->seq,
			  (unsigned long long)o->len);
}

static void fuzz_recv(struct ctx *c)
{
	struct ipcchan_recv r;
	struct icall k = { .cmd = C_RECV };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;

	memset(&r, 0, sizeof(r));
	r.flags = xfer_flags(c, &bad);
	if (chance(c, 20))
		r.flags |= IPCCHAN_RECV_PEEK;
	if (chance(c, 30))
		r.flags |= IPCCHAN_RECV_CREDS;
	if (chance(c, 20)) {
		r.flags |= IPCCHAN_RECV_SLOT;
		if (r.flags & IPCCHAN_RECV_PEEK)
			bad = 1;	/* PEEK and SLOT together */
	}
	if (chance(c, 4)) {
		r.flags |= unknown_bits(c, RECV_KNOWN);
		bad = 1;
	}
	r.buf = data_write_ptr(c);
	r.len = pick_recv_len(c);
	r.timeout_ns = pick_timeout(c, r.flags);
	if (chance(c, 30)) {	/* outputs: ignored on input */
		r.prio = (unsigned int)rnd(c);
		r.pid = r.uid = r.gid = (unsigned int)rnd(c);
		r.timestamp_ns = r.seq = rnd(c);
	}
	if (chance(c, 4)) {
		r.pad = (unsigned int)rnd(c) | 1;
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)&r.reserved, 1, 4, &bad);
	usize = pick_usize(c, sizeof(r), &szcls);
	place(c, &r, sizeof(r), usize, szcls, &p);
	if (r.flags & IPCCHAN_RECV_SLOT)
		k.fd = pick_region_fd(c, &k.slot);
	else
		k.fd = pick_ep_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_RECV, usize), r.flags);
	k.a = r.len;
	k.b = r.buf;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags or reserved)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;
	issue(c, &k);
	if (!p.out_ok || usize < sizeof(r))
		return;
	if (k.ret >= 0) {
		struct ipcchan_recv *o = (struct ipcchan_recv *)p.rw;

		check_recv_out(c, o, r.flags, r.len, k.ret);
		if ((r.flags & IPCCHAN_RECV_SLOT) &&
		    o->slot != IPCCHAN_SLOT_NONE)
			held_add(c, k.fd, o->slot);
	} else if (k.ret == -EMSGSIZE &&
		 ((struct ipcchan_recv *)p.rw)->len <= r.len)
		violation(c, "RECV EMSGSIZE with len %llu for a %llu-byte buffer",
			  (unsigned long long)((struct ipcchan_recv *)p.rw)->len,
			  r.len);
}

static unsigned int pick_count(struct ctx *c)
{
	switch (rn(c, 16)) {
	case 0: return 0;
	case 1: return IPCCHAN_BATCH_MAX;
	case 2: return IPCCHAN_BATCH_MAX + 1;
	case 3: return 0xffffffffU;
	case 4: return 1U << 31;
	case 5: return 2;
	case 6: return 3;
	case 7: return 8;
	case 8: return rn(c, 64);
	default: return 1;
	}
}

static void fuzz_batch(struct ctx *c, int recv)
{
	struct ipcchan_batch b, *o;
	struct icall k = { .cmd = recv ? C_RECV_BATCH : C_SEND_BATCH };
	struct ipcchan_msghdr *h = c->hdr, *ho;
	unsigned char *end = (unsigned char *)c->hdr + 9 * page;
	struct placed p;
	unsigned int usize, n, m, i;
	int bad = 0, szcls, hdr_ok = 0;

	memset(&b, 0, sizeof(b));
	b.flags = xfer_flags(c, &bad);
	if (chance(c, 4)) {
		b.flags |= unknown_bits(c, XFER_KNOWN);
		bad = 1;
	}
	b.count = pick_count(c);
	if (!b.count || b.count > IPCCHAN_BATCH_MAX)
		bad = 1;
	n = b.count < BATCH_ENTRIES ? b.count : BATCH_ENTRIES;
	m = n;
	switch (rn(c, 16)) {
	case 0 ... 10:
		b.msgs = ptr64(h);
		hdr_ok = 1;
		break;
	case 11:
		b.msgs = ptr64(c->hdr_ro);
		break;
	case 12:	/* the last entries run into the guard */
		m = rn(c, n + 1);
		h = (struct ipcchan_msghdr *)(end - m * sizeof(*h) -
					      (chance(c, 50) ? 16 : 0));
		b.msgs = ptr64(h);
		break;
	case 13:	/* junk only the kernel reads: never for receive */
		m = 0;
		b.msgs = recv ? 0 : ptr64(mem.flap_data +
					  rn(c, mem.flap_data_len));
		break;
	case 14:
		m = 0;
		b.msgs = ptr64(mem.flap_struct + rn(c, mem.flap_struct_len));
		break;
	default:
		m = 0;
		b.msgs = chance(c, 50) ? 0 :
			 kernel_ptrs[rn(c, ARRAY_SIZE(kernel_ptrs))];
		break;
	}
	for (i = 0; i < m && (unsigned char *)(h + i + 1) <= end; i++) {
		if (recv) {
			h[i].buf = data_write_ptr(c);
			h[i].len = chance(c, 70) ? 65536 : pick_recv_len(c);
			h[i].prio = (unsigned int)rnd(c);
			h[i].pad = (unsigned int)rnd(c);
		} else {
			h[i].len = chance(c, 70) ? rn(c, 256) : pick_send_len(c);
			h[i].buf = data_read_ptr(c, h[i].len);
			h[i].prio = chance(c, 90) ? rn(c, 8) : pick_prio(c);
			h[i].pad = chance(c, 3) ? (unsigned int)rnd(c) | 1 : 0;
		}
		h[i].seq = rnd(c);
		c->olen[i] = h[i].len;
	}
	b.done = (unsigned int)rnd(c);
	b.timeout_ns = pick_timeout(c, b.flags);
	reserved_garbage(c, (unsigned long long *)b.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(b), &szcls);
	place(c, &b, sizeof(b), usize, szcls, &p);
	k.fd = pick_ep_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(recv ? IPCCHAN_IOC_RECV_BATCH :
			       IPCCHAN_IOC_SEND_BATCH, usize), b.flags);
	k.a = b.count;
	k.b = b.msgs;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, count or reserved)");
	if (issue(c, &k) < 0)
		return;
	if ((unsigned long long)k.ret > b.count || (!recv && k.ret == 0))
		violation(c, "%s returned %ld for count %u", cmd_names[k.cmd],
			  k.ret, b.count);
	if (!p.out_ok || usize < sizeof(b))
		return;
	o = (struct ipcchan_batch *)p.rw;
	if (o->done != (unsigned int)k.ret)
		violation(c, "%s returned %ld but done %u", cmd_names[k.cmd],
			  k.ret, o->done);
	if (!recv || !hdr_ok)
		return;
	for (i = 0, ho = c->hdr; i < (unsigned int)k.ret && i < BATCH_ENTRIES; i++)
		if (ho[i].len > c->olen[i] || ho[i].pad || !ho[i].seq ||
		    ho[i].prio >= IPCCHAN_PRIO_MAX) {
			violation(c, "RECV_BATCH msgs[%u]: len %llu (buffer %llu) prio %u pad %u seq %llu",
				  i, (unsigned long long)ho[i].len, c->olen[i],
				  ho[i].prio, ho[i].pad,
				  (unsigned long long)ho[i].seq);
			break;
		}
}

static void fuzz_stats(struct ctx *c)
{
	struct ipcchan_stats st, *o;
	struct icall k = { .cmd = C_STATS };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;

	memset(&st, 0, sizeof(st));
	switch (rn(c, 10)) {
	case 0 ... 5: break;
	case 6 ... 8: st.flags = IPCCHAN_STATS_TX; break;
	default:
		st.flags = unknown_bits(c, IPCCHAN_STATS_TX);
		bad = 1;
	}
	if (chance(c, 30))
		st.sent = st.queued_msgs = st.senders = rnd(c);
	reserved_garbage(c, (unsigned long long *)st.reserved, 4, 4, &bad);
	usize = pick_usize(c, sizeof(st), &szcls);
	place(c, &st, sizeof(st), usize, szcls, &p);
	k.fd = pick_ep_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_STATS, usize), st.flags);
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags or reserved)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;
	if (issue(c, &k) < 0 || !p.out_ok || usize < sizeof(st))
		return;
	if (k.ret)
		violation(c, "STATS returned %ld", k.ret);
	o = (struct ipcchan_stats *)p.rw;
	if (o->flags != st.flags || o->reserved[0] || o->reserved[1] ||
	    o->reserved[2] || o->reserved[3] ||
	    o->sent != o->received + o->queued_msgs + o->dropped ||
	    o->queued_msgs > o->queue_msgs || o->queued_bytes > o->queue_bytes ||
	    o->peak_msgs < o->queued_msgs || o->msg_size_max > o->queue_bytes)
		violation(c, "STATS inconsistent: flags %#llx sent %llu received %llu queued %llu/%llu (%llu/%llu bytes) dropped %llu peak %llu",
			  (unsigned long long)o->flags,
			  (unsigned long long)o->sent,
			  (unsigned long long)o->received,
			  (unsigned long long)o->queued_msgs,
			  (unsigned long long)o->queue_msgs,
			  (unsigned long long)o->queued_bytes,
			  (unsigned long long)o->queue_bytes,
			  (unsigned long long)o->dropped,
			  (unsigned long long)o->peak_msgs);
}

#define NOTIFY_KNOWN (IPCCHAN_NOTIFY_REMOVE | IPCCHAN_NOTIFY_EXCLUSIVE | \
		      IPCCHAN_NOTIFY_ONESHOT)

static void fuzz_notify(struct ctx *c)
{
	static const int bad_sigs[] = { 0, -1, 65, 128, INT_MIN, INT_MAX };
	struct ipcchan_notify n;
	struct icall k = { .cmd = C_NOTIFY };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls, badsig = 0;

	memset(&n, 0, sizeof(n));
	switch (rn(c, 10)) {
	case 0 ... 3: break;
	case 4 ... 5: n.flags = IPCCHAN_NOTIFY_REMOVE; break;
	case 6: n.flags = IPCCHAN_NOTIFY_EXCLUSIVE; break;
	case 7: n.flags = IPCCHAN_NOTIFY_ONESHOT; break;
	default: n.flags = rnd(c) & NOTIFY_KNOWN; break;
	}
	if (chance(c, 4)) {
		n.flags |= unknown_bits(c, NOTIFY_KNOWN);
		bad = 1;
	}
	if (chance(c, 92)) {
		n.signo = safe_sigs[rn(c, ARRAY_SIZE(safe_sigs))];
	} else {
		n.signo = bad_sigs[rn(c, ARRAY_SIZE(bad_sigs))];
		badsig = 1;
	}
	n.value = rnd(c);
	if (chance(c, 4)) {
		n.pad = (unsigned int)rnd(c) | 1;
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)n.reserved, 2, 4, &bad);
	if (badsig && !(n.flags & IPCCHAN_NOTIFY_REMOVE))
		bad = 1;
	usize = pick_usize(c, sizeof(n), &szcls);
	place(c, &n, sizeof(n), usize, szcls, &p);
	k.fd = pick_ep_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_NOTIFY, usize), n.flags);
	k.a = (unsigned int)n.signo;
	k.b = n.value;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, signo, pad or reserved)");
	if (issue(c, &k) > 0)
		violation(c, "NOTIFY returned %ld", k.ret);
}

/*
 * What REGION_INFO promises of any endpoint at any instant, whichever
 * channel it is: the attribute rules, the slot counts adding up, no
 * mapping rights without pages. *why gets the first broken rule.
 */
static int region_info_sane(const struct ipcchan_region_info *o,
			    const char **why)
{
	unsigned long long nr = o->nr_slots;

	*why = NULL;
	if (o->pad || o->reserved[0] || o->reserved[1] || o->reserved[2] ||
	    o->reserved[3])
		*why = "pad or reserved not zero";
	else if (o->region_size % page || o->region_size > lim.max_region_size)
		*why = "region_size not a page multiple or above the limit";
	else if (o->slot_size && (o->slot_size % IPCCHAN_SLOT_ALIGN ||
				  o->slot_size > o->region_size))
		*why = "slot_size breaks the attribute rules";
	else if (nr != (o->slot_size ? o->region_size / o->slot_size : 0) ||
		 nr > IPCCHAN_SLOTS_MAX)
		*why = "nr_slots is not region_size / slot_size";
	else if (o->nr_sems > IPCCHAN_SEMS_MAX)
		*why = "nr_sems above IPCCHAN_SEMS_MAX";
	else if (o->prot & ~(IPCCHAN_PROT_READ | IPCCHAN_PROT_WRITE) ||
		 (o->prot && !(o->prot & IPCCHAN_PROT_READ)))
		*why = "prot has unknown bits or WRITE without READ";
	else if (!o->region_size && o->prot)
		*why = "mapping rights (prot) without a region (mmap is -ENODEV)";
	else if (o->region_size && !o->prot)
		*why = "a region that cannot be mapped (prot 0)";
	else if (o->slots_free + o->slots_held + o->slots_in_flight != nr ||
		 o->slots_free > nr || o->slots_held > nr ||
		 o->slots_in_flight > nr)
		*why = "slots_free + slots_held + slots_in_flight != nr_slots";
	else if (o->slots_held_here > o->slots_held)
		*why = "slots_held_here > slots_held";
	else if (o->loans < o->slots_held + o->slots_in_flight)
		*why = "fewer loans than slots out of the pool";
	else if (o->slots_reclaimed > o->loans)
		*why = "more slots reclaimed than ever loaned";
	return *why == NULL;
}

static void report_region_info(struct ctx *c, const char *what,
			       const struct ipcchan_region_info *o,
			       const char *why)
{
	violation(c, "%s: %s: region %llu slot_size %u slots %u sems %u prot %#llx free %llu held %llu in_flight %llu here %llu loans %llu reclaimed %llu",
		  what, why, (unsigned long long)o->region_size, o->slot_size,
		  o->nr_slots, o->nr_sems, (unsigned long long)o->prot,
		  (unsigned long long)o->slots_free,
		  (unsigned long long)o->slots_held,
		  (unsigned long long)o->slots_in_flight,
		  (unsigned long long)o->slots_held_here,
		  (unsigned long long)o->loans,
		  (unsigned long long)o->slots_reclaimed);
}

#define LOAN_KNOWN	XFER_KNOWN

static void fuzz_slot_loan(struct ctx *c)
{
	struct ipcchan_slot_loan l, *o;
	struct icall k = { .cmd = C_SLOT_LOAN };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;

	memset(&l, 0, sizeof(l));
	l.flags = xfer_flags(c, &bad);
	if (chance(c, 4)) {
		l.flags |= unknown_bits(c, LOAN_KNOWN);
		bad = 1;
	}
	l.timeout_ns = pick_timeout(c, l.flags);
	if (chance(c, 30)) {	/* outputs: ignored on input */
		l.slot = (unsigned int)rnd(c);
		l.offset = l.size = rnd(c);
	}
	if (chance(c, 4)) {
		l.pad = (unsigned int)rnd(c) | 1;
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)l.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(l), &szcls);
	place(c, &l, sizeof(l), usize, szcls, &p);
	k.fd = pick_region_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_SLOT_LOAN, usize), l.flags);
	k.a = l.timeout_ns;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, pad or reserved)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;	/* the loan cannot be reported */
	if (issue(c, &k) < 0 || !p.out_ok)
		return;
	if (k.ret)
		violation(c, "SLOT_LOAN returned %ld", k.ret);
	o = (struct ipcchan_slot_loan *)p.rw;
	if (!o->size || o->size % IPCCHAN_SLOT_ALIGN ||
	    o->slot >= IPCCHAN_SLOTS_MAX ||
	    o->offset != (unsigned long long)o->slot * o->size ||
	    o->offset + o->size > lim.max_region_size || o->pad ||
	    o->reserved[0] || o->reserved[1] || o->flags != l.flags ||
	    o->timeout_ns != l.timeout_ns)
		violation(c, "SLOT_LOAN wrote slot %u offset %llu size %llu pad %u reserved %#llx/%#llx flags %#llx",
			  o->slot, (unsigned long long)o->offset,
			  (unsigned long long)o->size, o->pad,
			  (unsigned long long)o->reserved[0],
			  (unsigned long long)o->reserved[1],
			  (unsigned long long)o->flags);
	held_add(c, k.fd, o->slot);
}

static void fuzz_slot_release(struct ctx *c)
{
	struct ipcchan_slot_release r;
	struct icall k = { .cmd = C_SLOT_RELEASE };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls, hidx;

	memset(&r, 0, sizeof(r));
	if (chance(c, 6)) {
		r.flags = unknown_bits(c, 0);
		bad = 1;
	}
	r.slot = pick_slot_num(c, &hidx);
	if (chance(c, 4)) {
		r.pad = (unsigned int)rnd(c) | 1;
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)r.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(r), &szcls);
	place(c, &r, sizeof(r), usize, szcls, &p);
	k.fd = held_fd(c, hidx, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_SLOT_RELEASE, usize), r.flags);
	k.a = r.slot;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, pad or reserved)");
	if (p.in_stable && r.slot >= IPCCHAN_SLOTS_MAX)
		k.must_fail = 1;	/* no region has that slot */
	if (issue(c, &k) > 0)
		violation(c, "SLOT_RELEASE returned %ld", k.ret);
	if (!k.ret)
		held_forget(c, hidx, k.fd);
}

#define SEM_WAIT_KNOWN	(IPCCHAN_SEM_UNDO | XFER_KNOWN)

/* What ipcchan_sem's op, count and flags decide alone: -EINVAL or not. */
static int sem_args_bad(const struct ipcchan_sem *s)
{
	if (s->reserved[0] || s->reserved[1] || s->index >= IPCCHAN_SEMS_MAX)
		return 1;
	switch (s->op) {
	case IPCCHAN_SEM_POST:
		return (s->flags & ~IPCCHAN_SEM_UNDO) || !s->count;
	case IPCCHAN_SEM_WAIT:
		return (s->flags & ~SEM_WAIT_KNOWN) || s->count ||
		       ((s->flags & IPCCHAN_ABSTIME) &&
			!(s->flags & IPCCHAN_TIMEOUT)) ||
		       ((s->flags & IPCCHAN_REALTIME) &&
			!(s->flags & IPCCHAN_ABSTIME));
	case IPCCHAN_SEM_GETVALUE:
		return s->flags || s->count;
	default:
		return 1;
	}
}

static void fuzz_sem(struct ctx *c)
{
	struct ipcchan_sem s, *o;
	struct icall k = { .cmd = C_SEM };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;

	memset(&s, 0, sizeof(s));
	switch (rn(c, 20)) {
	case 0 ... 6: s.op = IPCCHAN_SEM_POST; break;
	case 7 ... 13: s.op = IPCCHAN_SEM_WAIT; break;
	case 14 ... 16: s.op = IPCCHAN_SEM_GETVALUE; break;
	case 17: s.op = 0; break;
	case 18: s.op = IPCCHAN_SEM_GETVALUE + 1; break;
	default: s.op = (unsigned int)rnd(c); break;
	}
	switch (rn(c, 16)) {
	case 0 ... 11: s.index = rn(c, 8); break;
	case 12: s.index = rn(c, IPCCHAN_SEMS_MAX); break;
	case 13: s.index = IPCCHAN_SEMS_MAX; break;
	case 14: s.index = IPCCHAN_SEMS_MAX + 1 + rn(c, 1000); break;
	default: s.index = 0xffffffffU; break;
	}
	if (s.op == IPCCHAN_SEM_POST) {
		switch (rn(c, 12)) {
		case 0 ... 6: s.count = 1; break;
		case 7: s.count = 1 + rn(c, 4); break;
		case 8: s.count = 0; break;
		case 9: s.count = IPCCHAN_SEM_VALUE_MAX; break;
		case 10: s.count = IPCCHAN_SEM_VALUE_MAX + 1; break;
		default: s.count = 0xffffffffU; break;
		}
		if (chance(c, 40))
			s.flags |= IPCCHAN_SEM_UNDO;
		if (chance(c, 5))	/* not allowed with POST */
			s.flags |= IPCCHAN_NONBLOCK;
	} else if (s.op == IPCCHAN_SEM_WAIT) {
		s.flags = xfer_flags(c, &bad);
		if (chance(c, 40))
			s.flags |= IPCCHAN_SEM_UNDO;
		if (chance(c, 6))
			s.count = 1 + rn(c, 5);
	} else {
		if (chance(c, 5))
			s.flags |= IPCCHAN_SEM_UNDO;
		if (chance(c, 5))
			s.count = 1;
	}
	if (chance(c, 3))
		s.flags |= unknown_bits(c, SEM_WAIT_KNOWN);
	s.timeout_ns = pick_timeout(c, s.flags);
	if (chance(c, 30))	/* output: ignored on input */
		s.value = (unsigned int)rnd(c);
	reserved_garbage(c, (unsigned long long *)s.reserved, 2, 4, &bad);
	bad = sem_args_bad(&s);
	usize = pick_usize(c, sizeof(s), &szcls);
	place(c, &s, sizeof(s), usize, szcls, &p);
	k.fd = pick_region_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_SEM, usize), s.flags);
	k.a = (unsigned long long)s.op << 32 | s.index;
	k.b = s.count;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (op, index, count, flags or reserved)");
	if (p.in_stable && s.op == IPCCHAN_SEM_POST &&
	    s.count > IPCCHAN_SEM_VALUE_MAX)
		k.must_fail = 1;	/* past IPCCHAN_SEM_VALUE_MAX from any value */
	/* A post is done even when its result cannot be written back. */
	if ((p.pk == PK_RO || p.pk == PK_FLAP) && s.op != IPCCHAN_SEM_POST)
		k.must_fail = 1;
	issue(c, &k);
	if (!p.out_ok || usize < sizeof(s))
		return;
	o = (struct ipcchan_sem *)p.rw;
	/* -EINTR of an untimed wait is a restart: nothing is written back. */
	if (k.ret == -EINTR && !(s.flags & IPCCHAN_TIMEOUT))
		return;
	if (k.ret < 0 && k.ret != -EOVERFLOW && k.ret != -EAGAIN &&
	    k.ret != -ETIMEDOUT && k.ret != -EINTR)
		return;
	if (o->value > IPCCHAN_SEM_VALUE_MAX ||
	    (!k.ret && s.op == IPCCHAN_SEM_POST && o->value < s.count) ||
	    (k.ret == -EOVERFLOW &&
	     (unsigned long long)o->value + s.count <= IPCCHAN_SEM_VALUE_MAX) ||
	    ((k.ret == -EAGAIN || k.ret == -ETIMEDOUT) && o->value) ||
	    o->op != s.op || o->index != s.index || o->count != s.count ||
	    o->flags != s.flags || o->reserved[0] || o->reserved[1])
		violation(c, "SEM op %u index %u count %u flags %#llx -> %ld: value %u op %u index %u count %u reserved %#llx/%#llx",
			  s.op, s.index, s.count, (unsigned long long)s.flags,
			  k.ret, o->value, o->op, o->index, o->count,
			  (unsigned long long)o->reserved[0],
			  (unsigned long long)o->reserved[1]);
}

static void fuzz_region_info(struct ctx *c)
{
	struct ipcchan_region_info ri;
	struct icall k = { .cmd = C_REGION_INFO };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;
	const char *why;

	memset(&ri, 0, sizeof(ri));
	if (chance(c, 6)) {
		ri.flags = unknown_bits(c, 0);
		bad = 1;
	}
	if (chance(c, 30)) {	/* outputs: ignored on input */
		ri.region_size = ri.slots_free = ri.loans = rnd(c);
		ri.nr_slots = ri.slot_size = (unsigned int)rnd(c);
		ri.prot = rnd(c);
	}
	if (chance(c, 4)) {
		ri.pad = (unsigned int)rnd(c) | 1;
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)ri.reserved, 4, 4, &bad);
	usize = pick_usize(c, sizeof(ri), &szcls);
	place(c, &ri, sizeof(ri), usize, szcls, &p);
	k.fd = pick_region_fd(c, &k.slot);
	aim(&k, &p, ioc_resize(IPCCHAN_IOC_REGION_INFO, usize), ri.flags);
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, pad or reserved)");
	if (p.pk == PK_RO || p.pk == PK_FLAP)
		k.must_fail = 1;
	if (issue(c, &k) < 0 || !p.out_ok || usize < sizeof(ri))
		return;
	if (k.ret)
		violation(c, "REGION_INFO returned %ld", k.ret);
	if (((struct ipcchan_region_info *)p.rw)->flags)
		violation(c, "REGION_INFO wrote back flags %#llx",
			  (unsigned long long)((struct ipcchan_region_info *)p.rw)->flags);
	if (!region_info_sane((struct ipcchan_region_info *)p.rw, &why))
		report_region_info(c, "REGION_INFO",
				   (struct ipcchan_region_info *)p.rw, why);
}

/* Unknown numbers, wrong directions, foreign types: always -ENOTTY. */
static void fuzz_unknown(struct ctx *c)
{
	static const unsigned int known_ctl[] = {
		IPCCHAN_IOC_QUERY, IPCCHAN_IOC_CREATE, IPCCHAN_IOC_OPEN,
		IPCCHAN_IOC_UNLINK, IPCCHAN_IOC_SEND, IPCCHAN_IOC_RECV,
		IPCCHAN_IOC_SEND_BATCH, IPCCHAN_IOC_RECV_BATCH,
		IPCCHAN_IOC_STATS, IPCCHAN_IOC_NOTIFY, IPCCHAN_IOC_SLOT_LOAN,
		IPCCHAN_IOC_SLOT_RELEASE, IPCCHAN_IOC_SEM,
		IPCCHAN_IOC_REGION_INFO,
	};
	/* Types the VFS, pipes or /dev/null answer themselves. */
	static const unsigned char vfs_types[] = {
		0x00, 0x12, 0x15, 'T', 'W', 'X', 'f', 0x94, IPCCHAN_IOC_TYPE,
	};
	struct icall k = { .cmd = C_UNKNOWN };
	unsigned int dir, type = IPCCHAN_IOC_TYPE, nr, size, i, known;
	struct placed p;
	unsigned char junk[64];

	size = rn(c, 4) ? rn(c, 256) : rn(c, _IOC_SIZEMASK + 1);
	dir = rn(c, 4);
	switch (rn(c, 3)) {
	case 0:		/* an unknown number */
		nr = rn(c, 256);
		for (i = 0; i < ARRAY_SIZE(known_ctl); i++)
			if (_IOC_NR(known_ctl[i]) == nr)
				nr += 0x20;
		break;
	case 1:		/* a known number, another direction */
		known = known_ctl[rn(c, ARRAY_SIZE(known_ctl))];
		nr = _IOC_NR(known);
		dir = (_IOC_DIR(known) + 1 + rn(c, 3)) & 3;
		if (chance(c, 50))
			size = _IOC_SIZE(known);
		break;
	default:	/* another type */
		nr = rn(c, 256);
		do {
			type = rn(c, 256);
			for (i = 0; i < ARRAY_SIZE(vfs_types); i++)
				if (vfs_types[i] == type)
					break;
		} while (i < ARRAY_SIZE(vfs_types));
		break;
	}
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rnd(c);
	place(c, junk, sizeof(junk), sizeof(junk), SZ_NATIVE, &p);
	k.fd = pick_fd(c, &k.slot);
	k.ioc = _IOC(dir, type, nr, size);
	k.arg = p.arg;
	k.pk = p.pk;
	k.a = k.ioc;
	must(&k, ENOTTY, " (unknown command)");
	issue(c, &k);
}

/* ---- the races -------------------------------------------------------------------------- */

static void x_log(struct ctx *c, int op, int slot, int fd,
		  unsigned long long a, unsigned long long b, long ret)
{
	struct oplog o = {
		.step = c->step, .kind = NCMD + op, .slot = slot, .fd = fd,
		.pk = -1, .a = a, .b = b, .ret = ret,
	};

	op_log(c, &o);
	count_x(op, ret >= 0);
}

static void x_begin(struct ctx *c, int op, int fd)
{
	struct oplog o = { .step = c->step, .kind = NCMD + op, .fd = fd,
			   .pk = -1 };

	op_begin(c, &o);
}

static long sysret(long r)
{
	return r < 0 ? -errno : r;
}

static void x_close(struct ctx *c)
{
	int s, fd = pick_fd(c, &s);
	long r = -EBADF;

	if (!is_prot(fd))
		r = sysret(close(fd));
	x_log(c, X_CLOSE, s, fd, 0, 0, r);
}

static void x_dup(struct ctx *c)
{
	int s, fd = pick_fd(c, &s), d = rn(c, NSLOTS), leak = chance(c, 3);
	int how = rn(c, 3), minfd = 3 + rn(c, 64);
	long r;

	if (how == 0)
		r = sysret(dup(fd));
	else
		r = sysret(fcntl(fd, how == 1 ? F_DUPFD : F_DUPFD_CLOEXEC, minfd));
	if (r >= 0) {
		if (is_prot((int)r))
			violation(c, "dup returned an fd in use: %ld", r);
		else
			slot_put(d, (int)r, leak);
	}
	x_log(c, X_DUP, s, fd, d, how, r);
}

static void x_dup2(struct ctx *c)
{
	int s, fd = pick_fd(c, &s), d = rn(c, NSLOTS), large = chance(c, 20);
	int cloexec = chance(c, 50);
	int target = large ? LARGE_FD : slot_get(d);
	long r = -EBADF;

	if (!is_prot(target) && target != HUGE_FD) {
		if (cloexec)
			r = sysret(dup3(fd, target, O_CLOEXEC));
		else
			r = sysret(dup2(fd, target));
		if (r >= 0)
			slot_put(d, target, 1);
	}
	x_log(c, X_DUP2, s, fd, d, target, r);
}

/*
 * Valid shared-page attributes from one draw: half the time none, else a
 * region of 1..16 pages, maybe slots, maybe semaphores (or semaphores
 * alone).
 */
static void region_attrs(unsigned long long fr, unsigned long long *rsize,
			 unsigned int *ssize, unsigned int *nsems)
{
	static const unsigned int ssizes[] = { 0, 64, 256, 1024, 4096, 8192 };

	*rsize = 0;
	*ssize = 0;
	*nsems = (unsigned int)((fr >> 28) % 3 ? 0 : 1 + (fr >> 30) % 4);
	if (!(fr & 1))
		return;
	*rsize = page * (1 + (fr >> 8) % 16);
	*ssize = ssizes[(fr >> 16) % ARRAY_SIZE(ssizes)];
	if ((fr >> 20) % 4 == 0)
		*ssize = (unsigned int)*rsize;	/* one slot */
	if (*ssize > *rsize)
		*ssize = 0;
	*nsems = (unsigned int)((fr >> 24) % 5);
}

/* Fresh endpoints in the pool: anonymous, duplex or named, made properly. */
static void x_new(struct ctx *c)
{
	unsigned int kind = rn(c, 4), name = rn(c, ARRAY_SIZE(valid_names));
	unsigned long long fl = rnd(c), fr = rnd(c), rsize;
	int s0 = CTL_SLOTS + rn(c, NSLOTS - CTL_SLOTS);
	int s1 = CTL_SLOTS + rn(c, NSLOTS - CTL_SLOTS), fds[2], r;
	unsigned int ssize, nsems;

	region_attrs(fr, &rsize, &ssize, &nsems);

	if (kind == 3) {	/* a control fd, opened anew or dup'ed */
		s0 = rn(c, CTL_SLOTS);
		r = (fl & 1) ? sysret(open(IPCCHAN_DEVICE_PATH,
					   O_RDWR | ((fl & 2) ? O_CLOEXEC : 0))) :
			       sysret(dup(priv_ctl));
		if (r >= 0) {
			slot_put(s0, r, 0);
			r = 0;
		}
	} else if (kind < 2) {
		r = shm_create(priv_ctl, (fl & (IPCCHAN_FD_NONBLOCK |
						IPCCHAN_FD_CLOEXEC)) |
			       (kind ? IPCCHAN_CREATE_DUPLEX : 0),
			       0, (fl & 0x100) ? 2 : 0, rsize, ssize, nsems, fds);
		if (!r) {
			slot_put(s0, fds[0], 0);
			slot_put(s1, fds[1], 0);
		}
	} else {
		unsigned long long of = IPCCHAN_OPEN_CREATE |
			(fl & (IPCCHAN_FD_NONBLOCK | IPCCHAN_FD_CLOEXEC));

		switch ((fl >> 8) % 3) {
		case 0: of |= IPCCHAN_OPEN_SEND; break;
		case 1: of |= IPCCHAN_OPEN_RECV; break;
		default: of |= IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV; break;
		}
		r = shm_open_name(priv_ctl, valid_names[name], of, 0600, rsize,
				  ssize, nsems, NULL);
		if (r >= 0) {
			slot_put(s0, r, 0);
			r = 0;
		}
	}
	x_log(c, X_NEW, s0, -1, kind, fr, r);
}

static void run_steps(struct ctx *c, unsigned long n);

/* State, wchan, syscall and kernel stack of a task, on one line. */
static void proc_state(int pid, int tid, char *out, size_t n)
{
	static const char *const files[] = { "stat", "wchan", "syscall", "stack" };
	char path[96], buf[768];
	unsigned int i, j;
	size_t len = 0;
	ssize_t r;
	int fd;

	out[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(files) && len < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid,
			 files[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		for (j = 0; j < (unsigned int)r; j++)
			if (buf[j] == '\n')
				buf[j] = '|';
		len += snprintf(out + len, n - len, "%s%s: %s", len ? "; " : "",
				files[i], buf);
	}
}

/* Fork: the child takes a few nonblocking steps on the inherited pool. */
static void x_fork(struct ctx *c)
{
	unsigned long long cseed = rnd(c);
	unsigned int csteps = 1 + rn(c, 12);
	int status, waited;
	pid_t pid;

	if (c->child)
		return;
	x_begin(c, X_FORK, -1);
	pid = fork();
	if (pid == 0) {
		c->child = 1;
		c->rec = &sh->child[c->proc][c->thr];
		memset(c->rec, 0, sizeof(*c->rec));
		c->rec->tid = getpid();
		c->rng.s = cseed;
		run_steps(c, csteps);
		__atomic_fetch_add(&sh->child_steps, csteps, __ATOMIC_RELAXED);
		_exit(0);
	}
	if (pid < 0) {
		op_end(c);
		x_log(c, X_FORK, -1, -1, csteps, 0, -errno);
		return;
	}
	__atomic_fetch_add(&sh->forks, 1, __ATOMIC_RELAXED);
	for (waited = 0;; waited++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			violation(c, "waitpid(forked child %d): %s", pid,
				  strerror(errno));
			break;
		}
		if (waited == CHILD_WAIT_MS) {
			struct trec *cr = &sh->child[c->proc][c->thr];
			char what[320], st[1024];

			fmt_op(what, sizeof(what), &cr->cur);
			proc_state(pid, pid, st, sizeof(st));
			violation(c, "forked child %d still running after %d ms of %u nonblocking steps (done %llu; %s %s): %s",
				  pid, CHILD_WAIT_MS, csteps, cr->steps,
				  cr->op_start ? "in" : "after", what, st);
			kill(pid, SIGKILL);
		}
		sleep_ms(1);
	}
	op_end(c);
	if (WIFSIGNALED(status) && waited < CHILD_WAIT_MS)
		violation(c, "forked child killed by signal %d",
			  WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		violation(c, "forked child exited with %d", WEXITSTATUS(status));
	x_log(c, X_FORK, -1, pid, csteps, cseed, 0);
}

/* Map, unmap, reprotect part of the flapping regions. */
static void x_map(struct ctx *c)
{
	int data = chance(c, 60);
	unsigned char *base = data ? mem.flap_data : mem.flap_struct;
	size_t npages = (data ? mem.flap_data_len : mem.flap_struct_len) / page;
	size_t first = rn(c, npages), len;
	/* The struct region is never writable: it holds zeros, no pointers. */
	static const unsigned char struct_acts[] = { 0, 2, 3, 5, 6, 7 };
	unsigned int act = data ? rn(c, 8) :
			   struct_acts[rn(c, ARRAY_SIZE(struct_acts))];
	unsigned char *addr;
	void *m;
	long r = 0;

	len = (1 + rn(c, 4)) * page;
	if (first * page + len > npages * page)
		len = (npages - first) * page;
	addr = base + first * page;
	x_begin(c, X_MAP, -1);
	switch (act) {
	case 0:
		r = sysret(munmap(addr, len));
		break;
	case 1:
	case 2:
	case 3:
		m = mmap(addr, len, act == 1 ? PROT_READ | PROT_WRITE :
				    act == 2 ? PROT_READ : PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (m == MAP_FAILED) {
			r = -errno;
		} else if (m != addr) {	/* a kernel without NOREPLACE */
			munmap(m, len);
			r = -EEXIST;
		}
		break;
	case 4:
	case 5:
	case 6:
		r = sysret(mprotect(addr, len, act == 4 ? PROT_READ | PROT_WRITE :
					       act == 5 ? PROT_READ : PROT_NONE));
		break;
	default:
		r = sysret(madvise(addr, len, MADV_DONTNEED));
		break;
	}
	op_end(c);
	x_log(c, X_MAP, -1, -1, ptr64(addr), act, r);
}

static void x_signal(struct ctx *c)
{
	unsigned int how = rn(c, 4), t = rn(c, cfg.threads), p = rn(c, cfg.procs);
	int sig = safe_sigs[rn(c, ARRAY_SIZE(safe_sigs))];
	int tid = ctxs[t].rec ? ctxs[t].rec->tid : 0;
	int pid = sh->worker[p];
	long r = -ESRCH;

	switch (how) {
	case 0:
		if (tid > 0)
			r = sysret(sys_tgkill(getpid(), tid, SIGUSR1));
		break;
	case 1:
		if (pid > 0)	/* never 0: that is the process group */
			r = sysret(kill(pid, SIGUSR1));
		break;
	case 2:
		r = sysret(sys_tgkill(getpid(), sys_gettid(), sig));
		break;
	default: {
		union sigval v = { .sival_int = (int)rnd(c) };

		if (pid > 0)
			r = sysret(sigqueue(pid, sig, v));
		break;
	}
	}
	x_log(c, X_SIGNAL, -1, tid, how, sig, r);
}

static void x_fcntl(struct ctx *c)
{
	int s, fd = pick_fd(c, &s), pid = sh->worker[rn(c, cfg.procs)];
	unsigned int how = rn(c, 6);
	int sig = chance(c, 30) ? 0 : safe_sigs[rn(c, ARRAY_SIZE(safe_sigs))];
	long r, fl;

	x_begin(c, X_FCNTL, fd);
	switch (how) {
	case 0:
		fl = fcntl(fd, F_GETFL);
		r = fl < 0 ? -errno : sysret(fcntl(fd, F_SETFL, fl ^ O_NONBLOCK));
		break;
	case 1:
		fl = fcntl(fd, F_GETFL);
		r = fl < 0 ? -errno : sysret(fcntl(fd, F_SETFL, fl ^ O_ASYNC));
		break;
	case 2:		/* never a process group: not even our own */
		r = sysret(fcntl(fd, F_SETOWN, pid > 0 ? pid : getpid()));
		break;
	case 3:
		r = sysret(fcntl(fd, F_SETSIG, sig));
		break;
	case 4: {
		struct f_owner_ex ow = { .type = F_OWNER_TID,
					 .pid = sys_gettid() };

		r = sysret(fcntl(fd, F_SETOWN_EX, &ow));
		break;
	}
	default:
		r = sysret(fcntl(fd, F_SETFD, chance(c, 50) ? FD_CLOEXEC : 0));
		break;
	}
	op_end(c);
	x_log(c, X_FCNTL, s, fd, how, sig, r);
}

static void x_poll(struct ctx *c)
{
	struct pollfd pfd[4];
	unsigned int n = 1 + rn(c, 4), i;
	int s;
	long r;

	for (i = 0; i < n; i++) {
		pfd[i].fd = pick_fd(c, &s);
		pfd[i].events = POLLIN | POLLOUT | POLLPRI | POLLRDNORM |
				POLLWRNORM;
		pfd[i].revents = 0;
	}
	x_begin(c, X_POLL, pfd[0].fd);
	r = sysret(poll(pfd, n, 0));
	op_end(c);
	x_log(c, X_POLL, -1, pfd[0].fd, n, 0, r);
}

static void x_epoll(struct ctx *c)
{
	struct epoll_event ev = { 0 }, out[8];
	int s, fd = pick_fd(c, &s), ep = epfd[c->thr];
	unsigned int how = rn(c, 4);
	long r;

	ev.events = EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLERR |
		    (chance(c, 50) ? EPOLLET : 0);
	ev.data.u64 = rnd(c);
	x_begin(c, X_EPOLL, fd);
	switch (how) {
	case 0:
		r = sysret(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
		break;
	case 1:
		r = sysret(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
		break;
	case 2:
		r = sysret(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
		break;
	default:
		r = sysret(epoll_wait(ep, out, ARRAY_SIZE(out), 0));
		break;
	}
	op_end(c);
	x_log(c, X_EPOLL, s, fd, how, 0, r);
}

/* read(2)/write(2): endpoints and the control fd refuse them. */
static void x_rw(struct ctx *c)
{
	int s, fd = pick_fd(c, &s), wr = chance(c, 50);
	size_t len = rn(c, 128);
	long r;

	if (c->child)	/* a pipe may have lost O_NONBLOCK; no timer here */
		return;
	x_begin(c, X_RW, fd);
	if (wr)
		r = sysret(write(fd, mem.payload, len));
	else
		r = sysret(read(fd, mem.sink, len));
	op_end(c);
	x_log(c, X_RW, s, fd, wr, len, r);
}

/*
 * /proc/self/fdinfo of a pool fd, while others use and close it: the
 * region line must add up as REGION_INFO does.
 */
static void x_fdinfo(struct ctx *c)
{
	unsigned long long size, free, held, flight, here, loans, recl;
	int s, fd = pick_region_fd(c, &s), pfd, n;
	unsigned int ssize, nslots, nsems;
	char path[64], buf[2048], *l;
	long r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	x_begin(c, X_FDINFO, fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	r = pfd < 0 ? -errno : 0;
	if (pfd >= 0) {
		n = (int)read(pfd, buf, sizeof(buf) - 1);
		r = n < 0 ? -errno : n;
		buf[n > 0 ? n : 0] = '\0';
		close(pfd);
	}
	op_end(c);
	x_log(c, X_FDINFO, s, fd, 0, 0, r);
	if (r <= 0)
		return;
	l = strstr(buf, "ipcchan-region:");
	if (!l)
		return;
	if (sscanf(l, "ipcchan-region:\tsize=%llu slot_size=%u slots=%u free=%llu held=%llu in_flight=%llu held_here=%llu loans=%llu reclaimed=%llu sems=%u",
		   &size, &ssize, &nslots, &free, &held, &flight, &here, &loans,
		   &recl, &nsems) != 10 ||
	    size % page || nslots != (ssize ? size / ssize : 0) ||
	    free + held + flight != nslots || here > held ||
	    loans < held + flight || recl > loans || nsems > IPCCHAN_SEMS_MAX)
		violation(c, "fdinfo of fd %d: %.*s", fd,
			  (int)strcspn(l, "\n"), l);
}

/* ---- region mappings -------------------------------------------------------------------- */

/*
 * Touching mapped pages. A thread arms its range before it reads or writes
 * it; a fault there (si_code > 0: raised by the kernel for this access)
 * jumps back with the signal. Anything else is a signal someone sent
 * (kill, sigqueue, a notification: si_code <= 0, or F_SETSIG: POLL_*
 * with a small band where the address would be) and is ignored, as those
 * signals were before this handler existed; a real fault nobody expected
 * kills the process as it always did.
 */
static __thread sigjmp_buf touch_jb;
static __thread volatile sig_atomic_t touch_armed;
static __thread volatile int touch_sig;
static __thread unsigned char *volatile touch_lo, *volatile touch_hi;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	unsigned char *a = si->si_addr;

	(void)uc;
	if (touch_armed && si->si_code > 0 && a >= touch_lo && a < touch_hi) {
		touch_armed = 0;
		touch_sig = sig;
		siglongjmp(touch_jb, 1);
	}
	if (si->si_code <= 0 || (uintptr_t)a < 0x10000)
		return;
	signal(sig, SIG_DFL);	/* return and fault again, for good */
}

enum { T_OK, T_BUS, T_SEGV };

static int touch_result(int sig)
{
	return sig == SIGBUS ? T_BUS : sig == SIGSEGV ? T_SEGV : T_OK;
}

/* Copy @len bytes between a mapping and our memory; T_OK, T_BUS or T_SEGV. */
static int touch_copy(void *dst, const void *src, size_t len,
		      unsigned char *lo)
{
	touch_lo = lo;
	touch_hi = lo + len;
	touch_sig = 0;
	if (sigsetjmp(touch_jb, 1))
		return touch_result(touch_sig);
	touch_armed = 1;
	memcpy(dst, src, len);
	touch_armed = 0;
	return T_OK;
}

/* Read or write the byte at @a. */
static int touch_byte(unsigned char *a, int write, unsigned char v)
{
	unsigned char b = v;

	return write ? touch_copy(a, &b, 1, a) : touch_copy(&b, a, 1, a);
}

static void count_touch(int res)
{
	__atomic_fetch_add(&sh->touches[res], 1, __ATOMIC_RELAXED);
}

static const char *const t_names[] = { "no fault", "SIGBUS", "SIGSEGV" };

/* Put the PROT_NONE reservation back over @npages at @a. */
static void zone_reserve(unsigned char *a, size_t npages)
{
	if (!npages)
		return;
	if (mmap(a, npages * page, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		 -1, 0) != a) {
		dprintf(2, "# fuzz worker: re-reserving the region zone: %s\n",
			strerror(errno));
		_exit(3);
	}
}

static unsigned char *chunk_base(int i)
{
	return mem.rzone + (size_t)i * RZ_PAGES * page;
}

static void chunk_reset(struct rchunk *ch, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n && i < RZ_PAGES; i++) {
		ch->state[i] = PG_RES;
		ch->prot[i] = PROT_NONE;
		ch->inside[i] = 0;
	}
}

static void chunk_unknown(struct rchunk *ch, unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n && i < RZ_PAGES; i++)
		ch->state[i] = PG_UNK;
}

/*
 * What touching page @pg of a chunk may do: a bitmask of 1 << T_*. A page
 * known to be inside its region (the first page of any successful mapping:
 * mmap refuses an offset outside) cannot SIGBUS; any other mapped page may,
 * past the end of its region.
 */
static unsigned int touch_expect(const struct rchunk *ch, unsigned int pg,
				 int write)
{
	unsigned int in_or_out = 1 << T_OK | (ch->inside[pg] ? 0 : 1 << T_BUS);
	int p = ch->prot[pg];

	switch (ch->state[pg]) {
	case PG_RES:
		return 1 << T_SEGV;
	case PG_MAP:
		if (p == PROT_NONE)
			return 1 << T_SEGV;
		if (write)
			return (p & PROT_WRITE) ? in_or_out : 1 << T_SEGV;
		if (p & PROT_READ)
			return in_or_out;
		/* write-only, exec-only: reading is left to the CPU */
		/* fall through */
	default:
		return 1 << T_OK | 1 << T_BUS | 1 << T_SEGV;
	}
}

static const int map_prots[] = {
	PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
	PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
};

static const unsigned char map_prot_w[] = { 35, 40, 5, 5, 10, 5 };

#ifndef MAP_SYNC
#define MAP_SYNC	0x80000
#endif

/* errnos an mmap of a pool fd may give, whatever that fd is now */
static int mmap_errno_ok(int e, int prot, int flags)
{
	switch (e) {
	case EBADF: case ENODEV: case EINVAL: case EACCES: case ENOMEM:
	case EOVERFLOW: case EOPNOTSUPP:
		return 1;
	case EAGAIN:
		return !!(flags & MAP_LOCKED);
	case EPERM:
		return !!(prot & PROT_EXEC);
	default:
		return 0;
	}
}

static void rmap_map(struct ctx *c, int ci, struct rchunk *ch)
{
	unsigned char *base = chunk_base(ci);
	unsigned int npages = 1 + rn(c, RZ_PAGES - 1), i;
	int s, fd = pick_region_fd(c, &s), prot, flags, must_einval = 0, res;
	unsigned long long off, len = (unsigned long long)npages * page;
	void *m;
	long r;

	switch (rn(c, 12)) {
	case 0 ... 4: off = 0; break;
	case 5 ... 7: off = (1 + rn(c, 15)) * (unsigned long long)page; break;
	case 8: off = lim.max_region_size; break;
	case 9: off = 1 + rn(c, page - 1); must_einval = 1; break;
	case 10: off = 1ULL << 44; break;
	default: off = -(unsigned long long)page; break;
	}
	if (chance(c, 5)) {
		len = 0;
		must_einval = 1;
	} else if (chance(c, 5)) {
		len -= rn(c, page);	/* rounded up by mmap */
	}
	prot = map_prots[pick_weighted(c, map_prot_w, ARRAY_SIZE(map_prots))];
	switch (rn(c, 20)) {
	case 0 ... 13: flags = MAP_SHARED; break;
	case 14 ... 16: flags = MAP_PRIVATE; break;
	default: flags = MAP_SHARED_VALIDATE; break;
	}
	if (chance(c, 20))
		flags |= MAP_POPULATE;
	if (chance(c, 5))
		flags |= MAP_NORESERVE;
	if (chance(c, 3))
		flags |= MAP_LOCKED;
	if (chance(c, 3) && (flags & MAP_SHARED_VALIDATE) == MAP_SHARED_VALIDATE)
		flags |= MAP_SYNC;	/* not for these files: -EOPNOTSUPP */
	x_begin(c, X_RMAP, fd);
	m = mmap(base, len, prot, flags | MAP_FIXED, fd, (off_t)off);
	r = m == MAP_FAILED ? -errno : 0;
	op_end(c);
	x_log(c, X_RMAP, s, fd, off, ((unsigned long long)prot << 32) | flags,
	      r);
	if (r) {
		if (!mmap_errno_ok((int)-r, prot, flags))
			violation(c, "mmap(fd %d, off %#llx, len %llu, prot %#x, flags %#x): %s, not an errno this mmap can give",
				  fd, off, len, prot, flags, errname((int)-r));
		else if (must_einval && r != -EINVAL && r != -EBADF)
			violation(c, "mmap(fd %d, off %#llx, len %llu): %s, expected EINVAL",
				  fd, off, len, errname((int)-r));
		/* a failed MAP_FIXED may have unmapped what was there */
		zone_reserve(base, RZ_PAGES - 1);
		chunk_reset(ch, 0, RZ_PAGES);
		return;
	}
	if (m != base || must_einval || (flags & MAP_TYPE) == MAP_PRIVATE) {
		violation(c, "mmap(fd %d, off %#llx, len %llu, prot %#x, flags %#x) succeeded at %p (asked %p)",
			  fd, off, len, prot, flags, m, (void *)base);
		zone_reserve(base, RZ_PAGES - 1);
		chunk_reset(ch, 0, RZ_PAGES);
		return;
	}
	npages = (unsigned int)((len + page - 1) / page);
	for (i = 0; i < npages; i++) {
		ch->state[i] = PG_MAP;
		ch->prot[i] = (unsigned char)prot;
		ch->inside[i] = i == 0;
	}
	/* The first page of any mapping of a region is inside it. */
	if (prot & PROT_READ) {
		res = touch_byte(base, 0, 0);
		count_touch(res);
		if (res != T_OK)
			violation(c, "reading the first page of a new mapping (fd %d, off %#llx, prot %#x): %s",
				  fd, off, prot, t_names[res]);
	}
}

static void rmap_unmap(struct ctx *c, int ci, struct rchunk *ch)
{
	unsigned int first = rn(c, RZ_PAGES - 1);
	unsigned int n = 1 + rn(c, RZ_PAGES - 1 - first);
	unsigned char *a = chunk_base(ci) + (size_t)first * page;
	long r;

	x_begin(c, X_RMAP, -1);
	r = sysret(munmap(a, (size_t)n * page));
	op_end(c);
	x_log(c, X_RMAP, -1, -1, ptr64(a), n, r);
	if (r)
		violation(c, "munmap(%p, %u pages): %s", (void *)a, n,
			  errname((int)-r));
	zone_reserve(a, n);
	chunk_reset(ch, first, n);
}

static void rmap_protect(struct ctx *c, int ci, struct rchunk *ch)
{
	unsigned int first = rn(c, RZ_PAGES - 1);
	unsigned int n = 1 + rn(c, RZ_PAGES - 1 - first), i;
	int prot = map_prots[pick_weighted(c, map_prot_w,
					   ARRAY_SIZE(map_prots))];
	unsigned char *a = chunk_base(ci) + (size_t)first * page;
	long r;

	x_begin(c, X_RMAP, -1);
	r = sysret(mprotect(a, (size_t)n * page, prot));
	op_end(c);
	x_log(c, X_RMAP, -1, -1, ptr64(a), prot, r);
	if (r && r != -EACCES)
		violation(c, "mprotect(%p, %u pages, %#x): %s", (void *)a, n,
			  prot, errname((int)-r));
	for (i = first; i < first + n; i++) {
		/* a reservation page that changed is anonymous memory now */
		if (r || ch->state[i] != PG_MAP)
			ch->state[i] = PG_UNK;
		else
			ch->prot[i] = (unsigned char)prot;
	}
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

/*
 * mremap a chunk's mapping: shrink it, grow it in place (VM_DONTEXPAND:
 * -EFAULT), move it to another chunk, move it keeping the old range
 * (MREMAP_DONTUNMAP: -EINVAL with VM_DONTEXPAND), or duplicate it
 * (old_len 0: -EFAULT, it would grow from nothing).
 */
static void rmap_remap(struct ctx *c, int ci, struct rchunk *ch)
{
	unsigned int how = rn(c, 5), n = 1 + rn(c, RZ_PAGES - 2);
	unsigned int m = 1 + rn(c, RZ_PAGES - 2), i;
	int di = (ci + 1 + (int)rn(c, RZ_CHUNKS - 1)) % RZ_CHUNKS;
	struct rchunk *dst = &rchunks[di];
	struct rchunk *lo = ci < di ? ch : dst, *hi = ci < di ? dst : ch;
	unsigned char *a = chunk_base(ci), *d = chunk_base(di);
	int region = ch->state[0] == PG_MAP, want = 0;
	size_t old_len = (size_t)n * page, new_len = (size_t)m * page;
	void *res;
	long r;

	/* ch is locked; lock both in order */
	if (how >= 2) {
		pthread_mutex_unlock(&ch->lock);
		pthread_mutex_lock(&lo->lock);
		pthread_mutex_lock(&hi->lock);
		region = ch->state[0] == PG_MAP;
		/* on anonymous memory these would only exercise mm */
		if (!region && how >= 3)
			how = 2;
	}
	x_begin(c, X_RMAP, -1);
	switch (how) {
	case 0:		/* shrink (or keep) in place */
		if (m > n) {
			unsigned int t = m;

			m = n;
			n = t;
			old_len = (size_t)n * page;
			new_len = (size_t)m * page;
		}
		res = mremap(a, old_len, new_len, 0);
		break;
	case 1:		/* grow in place */
		if (m <= n)
			m = n + 1;
		new_len = (size_t)m * page;
		res = mremap(a, old_len, new_len, 0);
		want = region ? EFAULT : 0;
		break;
	case 2:		/* move */
		new_len = old_len;
		res = mremap(a, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
			     d);
		break;
	case 3:
		new_len = old_len;
		res = mremap(a, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED |
			     MREMAP_DONTUNMAP, d);
		want = region ? EINVAL : 0;
		break;
	default:
		old_len = 0;
		res = mremap(a, 0, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, d);
		want = region ? EFAULT : 0;
		break;
	}
	r = res == MAP_FAILED ? -errno : 0;
	op_end(c);
	x_log(c, X_RMAP, -1, -1, ptr64(a), (unsigned long long)how << 32 | m,
	      r);
	if (want && r != -want)
		violation(c, "mremap #%u of a region mapping (%zu -> %zu bytes): %s, expected %s",
			  how, old_len, new_len, errname((int)-r),
			  errname(want));
	else if (r && r != -EFAULT && r != -EINVAL && r != -ENOMEM &&
		 r != -EAGAIN)
		violation(c, "mremap #%u (%zu -> %zu bytes): %s", how, old_len,
			  new_len, errname((int)-r));
	if (how == 0 || how == 1) {
		if (!r && new_len < old_len) {
			zone_reserve(a + new_len, n - m);
			chunk_reset(ch, m, n - m);
		} else if (!r && new_len > old_len) {
			chunk_unknown(ch, 0, m);
		}
		return;
	}
	/* The destination was unmapped first, whatever came next. */
	if (!r && how == 2) {
		for (i = 0; i < n; i++) {
			dst->state[i] = ch->state[i];
			dst->prot[i] = ch->prot[i];
			dst->inside[i] = ch->inside[i];
		}
		zone_reserve(a, n);
		chunk_reset(ch, 0, n);
		if (n < RZ_PAGES - 1) {
			zone_reserve(d + old_len, RZ_PAGES - 1 - n);
			chunk_reset(dst, n, RZ_PAGES - 1 - n);
		}
	} else {
		zone_reserve(d, RZ_PAGES - 1);
		chunk_reset(dst, 0, RZ_PAGES);
		if (!r)		/* not expected: state unknown */
			chunk_unknown(ch, 0, RZ_PAGES - 1);
	}
	pthread_mutex_unlock(&dst->lock);
}

static void rmap_advise(struct ctx *c, int ci, struct rchunk *ch)
{
	static const int advs[] = {
		MADV_DONTNEED, MADV_REMOVE, MADV_WILLNEED, MADV_DONTFORK,
		MADV_DOFORK, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_COLD, MADV_PAGEOUT, MADV_FREE, MADV_NOHUGEPAGE,
	};
	unsigned int first = rn(c, RZ_PAGES - 1);
	unsigned int n = 1 + rn(c, RZ_PAGES - 1 - first);
	int adv = advs[rn(c, ARRAY_SIZE(advs))];
	unsigned char *a = chunk_base(ci) + (size_t)first * page;
	long r;

	(void)ch;
	x_begin(c, X_RMAP, -1);
	r = sysret(madvise(a, (size_t)n * page, adv));
	op_end(c);
	x_log(c, X_RMAP, -1, -1, ptr64(a), adv, r);
	/* EBADF: MADV_WILLNEED of anonymous memory without swap */
	if (r && r != -EINVAL && r != -EACCES && r != -ENOMEM &&
	    r != -EFAULT && r != -EPERM && r != -EAGAIN &&
	    !(r == -EBADF && adv == MADV_WILLNEED))
		violation(c, "madvise(%p, %u pages, %d): %s", (void *)a, n,
			  adv, errname((int)-r));
}

/* mmap, munmap, mprotect, mremap or madvise a chunk of the zone. */
static void x_rmap(struct ctx *c)
{
	int ci = rn(c, RZ_CHUNKS);
	unsigned int act = rn(c, 10);
	struct rchunk *ch = &rchunks[ci];

	if (c->child)	/* the zone's locks may be held by lost threads */
		return;
	pthread_mutex_lock(&ch->lock);
	switch (act) {
	case 0 ... 4: rmap_map(c, ci, ch); break;
	case 5: rmap_unmap(c, ci, ch); break;
	case 6: rmap_protect(c, ci, ch); break;
	case 7 ... 8: rmap_remap(c, ci, ch); break;
	default: rmap_advise(c, ci, ch); break;
	}
	pthread_mutex_unlock(&ch->lock);
}

/* Read or write a page of a chunk; the result must fit what it holds. */
static void x_touch(struct ctx *c)
{
	int ci = rn(c, RZ_CHUNKS), write = chance(c, 40), res;
	unsigned int pg = rn(c, RZ_PAGES), off = rn(c, page), i, n;
	unsigned int mapped = chance(c, 75);
	unsigned char v = (unsigned char)rnd(c), *a;
	struct rchunk *ch = &rchunks[ci];
	unsigned int want;

	if (c->child)
		return;
	pthread_mutex_lock(&ch->lock);
	/* mostly a mapped page, if the chunk has one: the pg-th of them */
	for (i = 0, n = 0; mapped && i < RZ_PAGES; i++)
		n += ch->state[i] == PG_MAP;
	if (n) {
		n = pg % n;
		for (i = 0; i < RZ_PAGES; i++)
			if (ch->state[i] == PG_MAP && !n--)
				break;
		pg = i;
	}
	a = chunk_base(ci) + (size_t)pg * page + off;
	want = touch_expect(ch, pg, write);
	x_begin(c, X_TOUCH, -1);
	res = touch_byte(a, write, v);
	op_end(c);
	if (!(want & 1 << res))
		violation(c, "%s page %u of chunk %d (state %u prot %#x inside %u): %s",
			  write ? "writing" : "reading", pg, ci, ch->state[pg],
			  ch->prot[pg], ch->inside[pg], t_names[res]);
	pthread_mutex_unlock(&ch->lock);
	count_touch(res);
	x_log(c, X_TOUCH, -1, -1, ptr64(a), write, res == T_OK ? 0 :
	      res == T_BUS ? -EFAULT : -EACCES);
}

/* Plain, valid traffic so that receives find messages. */
static void traffic(struct ctx *c)
{
	struct ipcchan_send s = { .flags = IPCCHAN_NONBLOCK };
	struct ipcchan_recv r = { .flags = IPCCHAN_NONBLOCK };
	struct icall k = { .cmd = C_SEND };

	s.len = rn(c, 200);
	s.buf = ptr64(mem.payload);
	s.prio = rn(c, 4);
	k.fd = pick_ep_fd(c, &k.slot);
	k.ioc = IPCCHAN_IOC_SEND;
	k.arg = &s;
	k.a = s.len;
	if (issue(c, &k) > 0)
		violation(c, "SEND returned %ld", k.ret);

	if (chance(c, 30))
		r.flags |= IPCCHAN_RECV_CREDS;
	r.buf = ptr64(mem.sink);
	r.len = 65536;
	memset(&k, 0, sizeof(k));
	k.cmd = C_RECV;
	k.fd = pick_ep_fd(c, &k.slot);
	k.ioc = IPCCHAN_IOC_RECV;
	k.arg = &r;
	k.flags = r.flags;
	k.a = r.len;
	if (issue(c, &k) >= 0)
		check_recv_out(c, &r, k.flags, 65536, k.ret);
}

/*
 * Valid slot traffic on the pool: loan, send the slot (or give it back
 * when the send fails), receive slots and release them, or keep some for
 * the fuzzed sends and releases. Which slot and what size come from the
 * kernel; the draws do not depend on them.
 */
static void slot_traffic(struct ctx *c)
{
	struct ipcchan_slot_loan l = { .flags = IPCCHAN_NONBLOCK };
	struct ipcchan_send s = { .flags = IPCCHAN_NONBLOCK | IPCCHAN_SEND_SLOT };
	struct ipcchan_recv r = { .flags = IPCCHAN_NONBLOCK };
	struct ipcchan_slot_release rel = { 0 };
	struct icall k = { .cmd = C_SLOT_LOAN };
	unsigned int frac = rn(c, 101), prio = rn(c, 4);
	int keep = chance(c, 25), keep_rx = chance(c, 30), slot_rx = chance(c, 70);
	int fd = pick_region_fd(c, &k.slot), rs;
	int rfd = pick_region_fd(c, &rs);

	k.fd = fd;
	k.ioc = IPCCHAN_IOC_SLOT_LOAN;
	k.arg = &l;
	if (issue(c, &k) == 0) {
		s.slot = l.slot;
		s.len = l.size * frac / 100;
		s.prio = prio;
		memset(&k, 0, sizeof(k));
		k.cmd = C_SEND;
		k.fd = fd;
		k.ioc = IPCCHAN_IOC_SEND;
		k.arg = &s;
		k.flags = s.flags;
		k.a = s.len;
		k.b = s.slot;
		if (issue(c, &k) && !keep) {
			rel.slot = l.slot;
			memset(&k, 0, sizeof(k));
			k.cmd = C_SLOT_RELEASE;
			k.fd = fd;
			k.ioc = IPCCHAN_IOC_SLOT_RELEASE;
			k.arg = &rel;
			k.a = rel.slot;
			issue(c, &k);
		} else if (k.ret) {
			held_add(c, fd, l.slot);
		}
	}

	if (slot_rx)
		r.flags |= IPCCHAN_RECV_SLOT;
	r.buf = ptr64(mem.sink);
	r.len = 65536;
	memset(&k, 0, sizeof(k));
	k.cmd = C_RECV;
	k.fd = rfd;
	k.slot = rs;
	k.ioc = IPCCHAN_IOC_RECV;
	k.arg = &r;
	k.flags = r.flags;
	k.a = r.len;
	if (issue(c, &k) < 0)
		return;
	check_recv_out(c, &r, k.flags, 65536, k.ret);
	if (!slot_rx || r.slot == IPCCHAN_SLOT_NONE)
		return;
	if (keep_rx) {
		held_add(c, rfd, r.slot);
		return;
	}
	rel.slot = r.slot;
	memset(&k, 0, sizeof(k));
	k.cmd = C_SLOT_RELEASE;
	k.fd = rfd;
	k.ioc = IPCCHAN_IOC_SLOT_RELEASE;
	k.arg = &rel;
	k.a = rel.slot;
	issue(c, &k);
}

static void fuzz_ioctl(struct ctx *c)
{
	static const unsigned char w[NCMD] = {
		4, 7, 8, 4, 14, 14, 6, 7, 5, 6, 6, 5, 8, 5, 6,
	};

	switch (pick_weighted(c, w, NCMD)) {
	case C_QUERY: fuzz_query(c); break;
	case C_CREATE: fuzz_create(c); break;
	case C_OPEN: fuzz_open(c); break;
	case C_UNLINK: fuzz_unlink(c); break;
	case C_SEND: fuzz_send(c); break;
	case C_RECV: fuzz_recv(c); break;
	case C_SEND_BATCH: fuzz_batch(c, 0); break;
	case C_RECV_BATCH: fuzz_batch(c, 1); break;
	case C_STATS: fuzz_stats(c); break;
	case C_NOTIFY: fuzz_notify(c); break;
	case C_SLOT_LOAN: fuzz_slot_loan(c); break;
	case C_SLOT_RELEASE: fuzz_slot_release(c); break;
	case C_SEM: fuzz_sem(c); break;
	case C_REGION_INFO: fuzz_region_info(c); break;
	default: fuzz_unknown(c); break;
	}
}

/*
 * The mix, per mille. Shared pages took their share from the others
 * (the ioctls of the old commands, the flapping mappings, epoll, fcntl,
 * poll and read/write) rather than from the time budget.
 */
static void one_step(struct ctx *c)
{
	unsigned int r = rn(c, 1000);

	if (r < 655)
		fuzz_ioctl(c);
	else if (r < 685)
		traffic(c);
	else if (r < 705)
		slot_traffic(c);
	else if (r < 730)
		x_close(c);
	else if (r < 752)
		x_dup(c);
	else if (r < 770)
		x_dup2(c);
	else if (r < 825)
		x_new(c);
	else if (r < 830)
		x_fork(c);
	else if (r < 850)
		x_map(c);
	else if (r < 880)
		x_rmap(c);
	else if (r < 900)
		x_touch(c);
	else if (r < 915)
		x_signal(c);
	else if (r < 930)
		x_fcntl(c);
	else if (r < 950)
		x_poll(c);
	else if (r < 975)
		x_epoll(c);
	else if (r < 995)
		x_rw(c);
	else
		x_fdinfo(c);
}

static void run_steps(struct ctx *c, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (!c->child && !(i & 31) && cfg.budget &&
		    now_ns(CLOCK_MONOTONIC) - t_start >
		    cfg.budget * NSEC_PER_SEC) {
			__atomic_store_n(&sh->budget_hit, 1, __ATOMIC_RELAXED);
			break;
		}
		one_step(c);
		c->step++;
		if (c->rec)
			__atomic_store_n(&c->rec->steps, c->step,
					 __ATOMIC_RELAXED);
	}
}

/* ---- known channels ------------------------------------------------------------------------- */

/*
 * One thread per worker process owns one region channel at a time and
 * models it exactly. It has a file descriptor table of its own
 * (unshare(CLONE_FILES)), so no fuzz thread can reach its fds through a
 * stale pool number and no forked child inherits them; the channel is
 * anonymous, duplex or named with a name no one else uses. Everything it
 * does therefore has one right answer, computed from the model in the
 * order the kernel checks things. A wrong answer is a violation, after
 * which the channel is dropped and a new one made (the model is no longer
 * worth comparing with).
 */
#define K_SLOTS		1024
#define K_QCAP		16
#define K_SEMS		4
#define K_BUF		(64 * 1024)	/* the largest slot: a 16-page region */
#define K_BATCH		4

enum { KK_ANON, KK_DUPLEX, KK_NAMED };
static const char *const kk_names[] = { "anonymous", "duplex", "named" };
enum { KS_FREE, KS_HELD0, KS_HELD1, KS_FLIGHT };

struct kmsg {
	int slot;			/* -1: a plain message */
	unsigned int len, prio;
	unsigned long long tag;		/* plain: its payload is kfill(tag) */
	unsigned long long seq;
};

struct kqueue {
	struct kmsg m[K_QCAP];		/* in receive order */
	int n, peak;
	unsigned long long bytes, seq, sent, received, dropped;
};

static struct known {
	int live, kind, ctl, bad;
	int fd[2], nb[2];
	unsigned long long rsize, qbytes;
	unsigned int ssize, nslots, nsems, qcap, msz;
	unsigned char st[K_SLOTS];	/* KS_* */
	unsigned char known[K_SLOTS];	/* its bytes are kfill(tag[], slen[]) */
	unsigned long long tag[K_SLOTS];
	unsigned int slen[K_SLOTS];
	struct kqueue q[2];
	unsigned long long loans, reclaimed, next_tag;
	unsigned int sval[K_SEMS];
	long long undo[2][K_SEMS];
	unsigned char *map[2];		/* each endpoint's mapping; kept after close */
	size_t mlen[2];
	char name[32];
	unsigned char *buf, *sink, *chk;
} K;

static volatile int known_stop;

/* Payload @tag: each 8 bytes are the hash of (tag, their index). */
static unsigned long long kword(unsigned long long tag, size_t w)
{
	return mix64(tag * 0x100000001b3ULL + w);
}

static void kfill(unsigned char *d, unsigned long long tag, size_t len)
{
	unsigned long long v;
	size_t i;

	for (i = 0; i < len; i += 8) {
		v = kword(tag, i / 8);
		memcpy(d + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* -1 if @d holds kfill(tag, len), else the first byte that differs. */
static long kdiff(const unsigned char *d, unsigned long long tag, size_t len)
{
	unsigned char w[8];
	unsigned long long v;
	size_t i, j, n;

	for (i = 0; i < len; i += 8) {
		v = kword(tag, i / 8);
		memcpy(w, &v, 8);
		n = len - i < 8 ? len - i : 8;
		if (memcmp(d + i, w, n))
			for (j = 0; j < n; j++)
				if (d[i + j] != w[j])
					return (long)(i + j);
	}
	return -1;
}

static int k_tx(int e)
{
	return K.kind == KK_DUPLEX || e == 1;
}

static int k_rx(int e)
{
	return K.kind != KK_ANON || e == 0;
}

/* The queue an endpoint sends to, and the one it receives from. */
static int k_txq(int e)
{
	return K.kind == KK_DUPLEX && e == 0;
}

static int k_rxq(int e)
{
	return K.kind == KK_DUPLEX ? e : 0;
}

static int k_nq(void)
{
	return K.kind == KK_DUPLEX ? 2 : 1;
}

static int k_senders(int q)
{
	int e, n = 0;

	for (e = 0; e < 2; e++)
		n += K.fd[e] >= 0 && k_tx(e) && k_txq(e) == q;
	return n;
}

static int k_receivers(int q)
{
	int e, n = 0;

	for (e = 0; e < 2; e++)
		n += K.fd[e] >= 0 && k_rx(e) && k_rxq(e) == q;
	return n;
}

/* A named channel stays linked until it is destroyed. */
static int k_broken(int q)
{
	return !k_receivers(q) && K.kind != KK_NAMED;
}

static int k_hup(int q)
{
	return !k_senders(q) && K.kind != KK_NAMED;
}

static int k_count(int state)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < K.nslots; i++)
		n += K.st[i] == state;
	return n;
}

/* A random slot in @state, or -1. */
static int k_pick(struct ctx *c, int state)
{
	int n = k_count(state), i, k;

	if (!n)
		return -1;
	k = (int)rn(c, n);
	for (i = 0; i < (int)K.nslots; i++)
		if (K.st[i] == state && !k--)
			return i;
	return -1;
}

/* An open endpoint, preferring @e; -1 if none. */
static int k_open_ep(int e)
{
	if (K.fd[e] >= 0)
		return e;
	return K.fd[e ^ 1] >= 0 ? e ^ 1 : -1;
}

/* An open endpoint that can @tx (send) or receive; -1 if none. */
static int k_ep_that(struct ctx *c, int tx)
{
	int e = (int)rn(c, 2), i;

	for (i = 0; i < 2; i++, e ^= 1)
		if (K.fd[e] >= 0 && (tx ? k_tx(e) : k_rx(e)))
			return e;
	return -1;
}

static void kq_push(struct kqueue *q, int slot, unsigned int len,
		    unsigned int prio, unsigned long long tag)
{
	int i = q->n;

	while (i > 0 && q->m[i - 1].prio < prio) {
		q->m[i] = q->m[i - 1];
		i--;
	}
	q->m[i].slot = slot;
	q->m[i].len = len;
	q->m[i].prio = prio;
	q->m[i].tag = tag;
	q->m[i].seq = ++q->seq;
	q->n++;
	if (q->n > q->peak)
		q->peak = q->n;
	q->bytes += slot < 0 ? len : 0;
	q->sent++;
}

static void kq_pop(struct kqueue *q)
{
	q->bytes -= q->m[0].slot < 0 ? q->m[0].len : 0;
	memmove(&q->m[0], &q->m[1], sizeof(q->m[0]) * (q->n - 1));
	q->n--;
	q->received++;
}

/* No receiver can come: what is queued is dropped, slots reclaimed. */
static void kq_drop(struct kqueue *q)
{
	int i;

	for (i = 0; i < q->n; i++)
		if (q->m[i].slot >= 0) {
			K.st[q->m[i].slot] = KS_FREE;
			K.reclaimed++;
		}
	q->dropped += q->n;
	q->n = 0;
	q->bytes = 0;
}

static const char *kstate(void)
{
	static __thread char buf[200];

	snprintf(buf, sizeof(buf),
		 "[known %s channel: region %llu slot_size %u slots %u (free %d held %d+%d in flight %d) sems %u queues %d/%d fds %d/%d]",
		 kk_names[K.kind], K.rsize, K.ssize, K.nslots, k_count(KS_FREE),
		 k_count(KS_HELD0), k_count(KS_HELD1), k_count(KS_FLIGHT),
		 K.nsems, K.q[0].n, K.q[1].n, K.fd[0], K.fd[1]);
	return buf;
}

/* errnos that say "not now" for a reason outside the model: nothing changed */
#define KT_RES	1	/* ENOSPC, ENOMEM, EMFILE, ENFILE */
#define KT_INTR	2	/* EINTR (a timed wait) */

/*
 * Compare a result with the model's. 1: as expected; 0: a tolerated
 * failure (nothing changed); -1: a violation, reported (the model is
 * dropped after this operation).
 */
static int kexpect(struct ctx *c, const char *what, long got, long want,
		   int tol)
{
	int e = got < 0 ? (int)-got : 0;

	if (got == want)
		return 1;
	if (((tol & KT_RES) &&
	     (e == ENOSPC || e == ENOMEM || e == EMFILE || e == ENFILE)) ||
	    ((tol & KT_INTR) && e == EINTR))
		return 0;
	violation(c, "%s: returned %s, the model says %s %s", what,
		  got < 0 ? errname(e) : "success",
		  want < 0 ? errname((int)-want) : "success", kstate());
	if (got >= 0 && want >= 0)
		violation(c, "%s: returned %ld, the model says %ld", what, got,
			  want);
	K.bad = 1;
	return -1;
}

static long kcall(struct ctx *c, int cmd, int fd, unsigned long ioc,
		  void *arg, unsigned long long a, unsigned long long b)
{
	struct icall k = {
		.cmd = cmd, .ioc = ioc, .fd = fd, .slot = -1, .arg = arg,
		.pk = -1, .a = a, .b = b,
	};

	return issue(c, &k);
}

/* Where a known op's struct goes: mostly fine, sometimes not. */
enum { KP_OK, KP_RO, KP_UNAL, KP_SHORT, KP_LONG };

struct kplaced {
	int kp;
	unsigned int usize;
	void *arg;		/* what the kernel gets */
	void *out;		/* where it writes, if it can */
};

static void kplace(struct ctx *c, const void *s, size_t native,
		   struct kplaced *p)
{
	unsigned int r = rn(c, 100), off = 0;

	p->kp = r < 84 ? KP_OK : r < 90 ? KP_RO : r < 95 ? KP_UNAL :
		r < 98 ? KP_SHORT : KP_LONG;
	if (p->kp == KP_UNAL)
		off = 1 + rn(c, 7);
	memcpy(c->sarea + off, s, native);
	p->usize = (unsigned int)native;
	if (p->kp == KP_SHORT) {
		p->usize = (unsigned int)native - 8;
	} else if (p->kp == KP_LONG) {
		p->usize = (unsigned int)native + 8;
		memset(c->sarea + off + native, 0, 8);
		c->sarea[off + native + rn(c, 8)] = (unsigned char)(1 + rn(c, 255));
	}
	p->out = c->sarea + off;
	p->arg = p->kp == KP_RO ? (void *)(c->sarea_ro + off) : p->out;
}

/* The struct size and the "may not grow" tail decide first. */
static long kplace_want(const struct kplaced *p, long want)
{
	if (p->kp == KP_SHORT)
		return -EINVAL;
	if (p->kp == KP_LONG)
		return -E2BIG;
	return want;
}

/* REGION_INFO and (if @stats) STATS of endpoint @e against the model. */
static void k_verify_opt(struct ctx *c, int e, int stats)
{
	struct ipcchan_region_info ri, w;
	struct ipcchan_stats st;
	struct kqueue *q;
	const char *why;
	long r;
	int qi;

	if (K.fd[e] < 0 || K.bad)
		return;
	memset(&ri, 0, sizeof(ri));
	r = kcall(c, C_REGION_INFO, K.fd[e], IPCCHAN_IOC_REGION_INFO, &ri, e, 0);
	if (kexpect(c, "known REGION_INFO", r, 0, 0) < 0)
		return;
	memset(&w, 0, sizeof(w));
	w.region_size = K.rsize;
	w.slot_size = K.ssize;
	w.nr_slots = K.nslots;
	w.nr_sems = K.nsems;
	w.prot = K.rsize ? IPCCHAN_PROT_READ |
			   (k_tx(e) ? IPCCHAN_PROT_WRITE : 0) : 0;
	w.slots_free = k_count(KS_FREE);
	w.slots_held = k_count(KS_HELD0) + k_count(KS_HELD1);
	w.slots_in_flight = k_count(KS_FLIGHT);
	w.slots_held_here = k_count(e ? KS_HELD1 : KS_HELD0);
	w.loans = K.loans;
	w.slots_reclaimed = K.reclaimed;
	if (memcmp(&ri, &w, sizeof(ri))) {
		violation(c, "known REGION_INFO of endpoint %d: region %llu slot_size %u slots %u sems %u prot %#llx free %llu held %llu in_flight %llu here %llu loans %llu reclaimed %llu; the model says %llu %u %u %u %#llx %llu %llu %llu %llu %llu %llu %s",
			  e, (unsigned long long)ri.region_size, ri.slot_size,
			  ri.nr_slots, ri.nr_sems, (unsigned long long)ri.prot,
			  (unsigned long long)ri.slots_free,
			  (unsigned long long)ri.slots_held,
			  (unsigned long long)ri.slots_in_flight,
			  (unsigned long long)ri.slots_held_here,
			  (unsigned long long)ri.loans,
			  (unsigned long long)ri.slots_reclaimed,
			  (unsigned long long)w.region_size, w.slot_size,
			  w.nr_slots, w.nr_sems, (unsigned long long)w.prot,
			  (unsigned long long)w.slots_free,
			  (unsigned long long)w.slots_held,
			  (unsigned long long)w.slots_in_flight,
			  (unsigned long long)w.slots_held_here,
			  (unsigned long long)w.loans,
			  (unsigned long long)w.slots_reclaimed, kstate());
		K.bad = 1;
		return;
	}
	if (!region_info_sane(&ri, &why))
		report_region_info(c, "known REGION_INFO", &ri, why);
	if (!stats)
		return;

	qi = k_rx(e) ? k_rxq(e) : k_txq(e);
	q = &K.q[qi];
	memset(&st, 0, sizeof(st));
	r = kcall(c, C_STATS, K.fd[e], IPCCHAN_IOC_STATS, &st, e, 0);
	if (kexpect(c, "known STATS", r, 0, 0) < 0)
		return;
	if (st.msg_size_max != K.msz || st.queue_msgs != K.qcap ||
	    st.queue_bytes != K.qbytes ||
	    st.queued_msgs != (unsigned int)q->n ||
	    st.queued_bytes != q->bytes ||
	    st.peak_msgs != (unsigned int)q->peak ||
	    st.sent != q->sent || st.received != q->received ||
	    st.dropped != q->dropped ||
	    st.senders != (unsigned int)k_senders(qi) ||
	    st.receivers != (unsigned int)k_receivers(qi) ||
	    st.waiting_senders || st.waiting_receivers) {
		violation(c, "known STATS of endpoint %d: queued %llu (%llu bytes) peak %llu sent %llu received %llu dropped %llu senders %u receivers %u; the model says %d (%llu) %d %llu %llu %llu %d %d %s",
			  e, (unsigned long long)st.queued_msgs,
			  (unsigned long long)st.queued_bytes,
			  (unsigned long long)st.peak_msgs,
			  (unsigned long long)st.sent,
			  (unsigned long long)st.received,
			  (unsigned long long)st.dropped, st.senders,
			  st.receivers, q->n, q->bytes, q->peak, q->sent,
			  q->received, q->dropped, k_senders(qi),
			  k_receivers(qi), kstate());
		K.bad = 1;
	}
}

static void k_verify(struct ctx *c, int e)
{
	k_verify_opt(c, e, 1);
}

/* The bytes of slot @s as every mapping shows them, against the model. */
static void k_check_slot(struct ctx *c, int s, const char *when)
{
	unsigned char *m = K.map[1] ? K.map[1] : K.map[0];
	unsigned char *a;
	long d;
	int res;

	if (!m || s < 0 || !K.known[s])
		return;
	a = m + (size_t)s * K.ssize;
	res = touch_copy(K.chk, a, K.slen[s], a);
	count_touch(res);
	if (res != T_OK) {
		violation(c, "known: reading slot %d (%u bytes) %s: %s %s", s,
			  K.slen[s], when, t_names[res], kstate());
		K.bad = 1;
		return;
	}
	d = kdiff(K.chk, K.tag[s], K.slen[s]);
	if (d >= 0) {
		violation(c, "known: slot %d differs at byte %ld of %u %s %s",
			  s, d, K.slen[s], when, kstate());
		K.bad = 1;
	}
}

/* Put the known thread's mapping areas back to reservations. */
static void k_unmap_all(void)
{
	int i;

	for (i = 0; i < KZ_AREAS; i++)
		zone_reserve(mem.kzone + (size_t)i * RZ_PAGES * page,
			     RZ_PAGES - 1);
	K.map[0] = K.map[1] = NULL;
}

/* Drop the channel without checking anything (after a violation). */
static void k_resync(void)
{
	int e;

	for (e = 0; e < 2; e++)
		if (K.fd[e] >= 0)
			close(K.fd[e]);
	if (K.kind == KK_NAMED)
		chan_unlink(K.ctl, K.name);
	k_unmap_all();
	K.fd[0] = K.fd[1] = -1;
	K.live = 0;
	K.bad = 0;
}

static unsigned char *k_area(int i)
{
	return mem.kzone + (size_t)i * RZ_PAGES * page;
}

/* Map endpoint @e as its rights allow (after checking what they refuse). */
static void k_map(struct ctx *c, int e)
{
	unsigned char *a = k_area(e);
	size_t len;
	void *m;
	long r;

	K.map[e] = NULL;
	if (!K.rsize) {
		m = mmap(a, page, PROT_READ, MAP_SHARED | MAP_FIXED, K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		zone_reserve(a, RZ_PAGES - 1);
		kexpect(c, "known mmap of a channel without pages", r, -ENODEV,
			0);
		return;
	}
	len = K.rsize + page * (1 + rn(c, 2));
	if (!k_tx(e)) {
		m = mmap(a, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		zone_reserve(a, RZ_PAGES - 1);
		if (kexpect(c, "known mmap(PROT_WRITE) of a receive-only endpoint",
			    r, -EACCES, 0) < 0)
			return;
	}
	m = mmap(a, len, PROT_READ | (k_tx(e) ? PROT_WRITE : 0),
		 MAP_SHARED | MAP_FIXED, K.fd[e], 0);
	r = m == MAP_FAILED ? -errno : m == a ? 0 : -ENOTRECOVERABLE;
	if (kexpect(c, "known mmap of an endpoint", r, 0, 0) < 0) {
		zone_reserve(a, RZ_PAGES - 1);
		return;
	}
	K.map[e] = a;
	K.mlen[e] = len;
}

static void k_init(struct ctx *c)
{
	static const unsigned int ssizes[] = {
		0, 0, 64, 128, 256, 512, 1024, 2048, 4096,
	};
	unsigned long long flags, rsize;
	unsigned int ssize, nsems, created = 0, i;
	struct ipcchan_create cr;
	struct ipcchan_open op;
	long r;
	int e;

	memset(&K.st, 0, sizeof(K.st));
	memset(&K.known, 0, sizeof(K.known));
	memset(&K.q, 0, sizeof(K.q));
	memset(&K.sval, 0, sizeof(K.sval));
	memset(&K.undo, 0, sizeof(K.undo));
	K.loans = K.reclaimed = 0;
	K.fd[0] = K.fd[1] = -1;
	K.bad = 0;
	K.kind = (int)rn(c, 3);
	rsize = rn(c, 20) ? page * (1 + rn(c, 16)) : 0;
	switch (rn(c, 12)) {
	case 0 ... 8: ssize = ssizes[rn(c, ARRAY_SIZE(ssizes))]; break;
	case 9: ssize = (unsigned int)(2 * page); break;
	case 10: ssize = (unsigned int)rsize; break;
	default: ssize = 64 * (1 + rn(c, 64)); break;
	}
	if (ssize > rsize)
		ssize = 0;
	nsems = rn(c, K_SEMS + 1);
	if (!rsize && !nsems && rn(c, 4))
		nsems = 1 + rn(c, K_SEMS);
	K.rsize = rsize;
	K.ssize = ssize;
	K.nslots = ssize ? (unsigned int)(rsize / ssize) : 0;
	K.nsems = nsems;
	K.qcap = 2 + rn(c, K_QCAP - 1);
	K.msz = 64 * (1 + rn(c, 64));
	K.qbytes = (unsigned long long)K.qcap * K.msz;
	if (K.qbytes > lim.max_queue_bytes)
		K.qbytes = lim.max_queue_bytes;
	K.nb[0] = chance(c, 30);
	K.nb[1] = K.kind == KK_NAMED ? chance(c, 30) : K.nb[0];

	if (K.kind != KK_NAMED) {
		memset(&cr, 0, sizeof(cr));
		cr.flags = IPCCHAN_FD_CLOEXEC |
			   (K.nb[0] ? IPCCHAN_FD_NONBLOCK : 0) |
			   (K.kind == KK_DUPLEX ? IPCCHAN_CREATE_DUPLEX : 0);
		cr.msg_size_max = K.msz;
		cr.queue_msgs = K.qcap;
		cr.region_size = rsize;
		cr.slot_size = ssize;
		cr.nr_sems = nsems;
		r = kcall(c, C_CREATE, K.ctl, IPCCHAN_IOC_CREATE, &cr, cr.flags,
			  rsize);
		if (kexpect(c, "known CREATE", r, 0, KT_RES) <= 0)
			goto fail;
		K.fd[0] = cr.fds[0];
		K.fd[1] = cr.fds[1];
		if (cr.msg_size_max != K.msz || cr.queue_msgs != K.qcap ||
		    cr.queue_bytes != K.qbytes || cr.region_size != rsize ||
		    cr.slot_size != ssize || cr.nr_sems != nsems) {
			violation(c, "known CREATE wrote back %u/%u/%llu region %llu/%u/%u, expected %u/%u/%llu %llu/%u/%u",
				  cr.msg_size_max, cr.queue_msgs,
				  (unsigned long long)cr.queue_bytes,
				  (unsigned long long)cr.region_size,
				  cr.slot_size, cr.nr_sems, K.msz, K.qcap,
				  K.qbytes, rsize, ssize, nsems);
			goto fail;
		}
	} else {
		chan_unlink(K.ctl, K.name);
		memset(&op, 0, sizeof(op));
		flags = IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV |
			IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL |
			IPCCHAN_FD_CLOEXEC | (K.nb[1] ? IPCCHAN_FD_NONBLOCK : 0);
		op.flags = flags;
		op.name = ptr64(K.name);
		op.mode = 0600;
		op.msg_size_max = K.msz;
		op.queue_msgs = K.qcap;
		op.region_size = rsize;
		op.slot_size = ssize;
		op.nr_sems = nsems;
		r = kcall(c, C_OPEN, K.ctl, IPCCHAN_IOC_OPEN, &op, flags, rsize);
		if (kexpect(c, "known OPEN(CREATE|EXCL)", r, 0, KT_RES) <= 0)
			goto fail;
		K.fd[1] = op.fd;
		if (op.created != 1 || op.region_size != rsize ||
		    op.slot_size != ssize || op.nr_sems != nsems ||
		    op.msg_size_max != K.msz || op.queue_msgs != K.qcap ||
		    op.queue_bytes != K.qbytes) {
			violation(c, "known OPEN(CREATE) wrote back created %u %u/%u/%llu region %llu/%u/%u",
				  op.created, op.msg_size_max, op.queue_msgs,
				  (unsigned long long)op.queue_bytes,
				  (unsigned long long)op.region_size,
				  op.slot_size, op.nr_sems);
			goto fail;
		}
		/* A later opener's attributes are ignored, even with CREATE. */
		K.fd[0] = shm_open_name(K.ctl, K.name, IPCCHAN_OPEN_RECV |
					IPCCHAN_FD_CLOEXEC |
					(chance(c, 50) ? IPCCHAN_OPEN_CREATE : 0) |
					(K.nb[0] ? IPCCHAN_FD_NONBLOCK : 0),
					0600, rsize + page, 64, 1, &created);
		if (kexpect(c, "known OPEN(RECV) of an existing name",
			    K.fd[0] < 0 ? K.fd[0] : 0, 0, KT_RES) <= 0) {
			K.fd[0] = -1;
			goto fail;
		}
		if (created) {
			violation(c, "known OPEN of an existing name says created=%u",
				  created);
			goto fail;
		}
	}
	for (i = 0; i < K.nslots; i++)
		K.st[i] = KS_FREE;
	K.live = 1;
	for (e = 0; e < 2 && !K.bad; e++)
		k_map(c, e);
	if (K.bad)
		goto fail;
	__atomic_fetch_add(&sh->kchans, 1, __ATOMIC_RELAXED);
	k_verify(c, 0);
	k_verify(c, 1);
	return;
fail:
	k_resync();
}

/* A nonblocking loan for endpoint @e; the slot or -1. */
static int k_loan(struct ctx *c, int e, int use_place)
{
	struct ipcchan_slot_loan l;
	struct ipcchan_slot_loan *o;
	struct kplaced p = { .kp = KP_OK };
	unsigned int fr = rn(c, 20);
	int free_slots = k_count(KS_FREE), nonblock;
	long want, r;

	memset(&l, 0, sizeof(l));
	if (!use_place)
		fr = 0;
	if (fr < 10 || (fr >= 17 && fr < 19 && !free_slots && !K.nb[e])) {
		l.flags = IPCCHAN_NONBLOCK;
	} else if (fr < 14) {
		l.flags = IPCCHAN_TIMEOUT;
		l.timeout_ns = NSEC_PER_MSEC;
	} else if (fr < 17) {
		l.flags = IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME;
		l.timeout_ns = 1;	/* long past */
	} else if (fr == 19) {
		l.flags = chance(c, 50) ? IPCCHAN_ABSTIME : 1ULL << 20;
	}
	nonblock = (l.flags & IPCCHAN_NONBLOCK) || K.nb[e];
	if (fr == 19)
		want = -EINVAL;
	else if (!k_tx(e))
		want = -EBADF;
	else if (!K.nslots)
		want = -ENODEV;
	else if (free_slots)
		want = 0;
	else
		want = nonblock ? -EAGAIN : -ETIMEDOUT;
	if (use_place) {
		kplace(c, &l, sizeof(l), &p);
	} else {
		memcpy(c->sarea, &l, sizeof(l));
		p.arg = p.out = c->sarea;
		p.usize = sizeof(l);
	}
	want = kplace_want(&p, want);
	if (p.kp == KP_RO && !want)
		want = -EFAULT;		/* loaned, then given back */
	r = kcall(c, C_SLOT_LOAN, K.fd[e],
		  ioc_resize(IPCCHAN_IOC_SLOT_LOAN, p.usize), p.arg, l.flags, e);
	if (kexpect(c, "known SLOT_LOAN", r, want, KT_INTR) <= 0)
		return -1;
	if (r == -EFAULT)
		K.loans++;
	if (r)
		return -1;
	o = p.out;
	if (o->slot >= K.nslots || K.st[o->slot] != KS_FREE ||
	    o->offset != (unsigned long long)o->slot * K.ssize ||
	    o->size != K.ssize || o->pad || o->reserved[0] || o->reserved[1]) {
		violation(c, "known SLOT_LOAN gave slot %u (state %d) offset %llu size %llu %s",
			  o->slot, o->slot < K.nslots ? K.st[o->slot] : -1,
			  (unsigned long long)o->offset,
			  (unsigned long long)o->size, kstate());
		K.bad = 1;
		return -1;
	}
	K.st[o->slot] = e ? KS_HELD1 : KS_HELD0;
	K.loans++;
	return (int)o->slot;
}

static void k_op_loan(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2));

	if (e >= 0)
		k_loan(c, e, 1);
}

/* Send a slot message: what the send must return, in the kernel's order. */
static long k_send_want(int e, const struct ipcchan_send *s)
{
	int held = s->slot < K.nslots &&
		   K.st[s->slot] == (e ? KS_HELD1 : KS_HELD0);

	if ((s->flags & IPCCHAN_SEND_IOV) && (s->flags & IPCCHAN_SEND_SLOT))
		return -EINVAL;
	if (s->slot && !(s->flags & IPCCHAN_SEND_SLOT))
		return -EINVAL;
	if (!k_tx(e))
		return -EBADF;
	if (k_broken(k_txq(e)))
		return -EPIPE;
	if (!(s->flags & IPCCHAN_SEND_SLOT)) {
		if (s->prio >= IPCCHAN_PRIO_MAX)
			return -EINVAL;
		if (s->len > K.msz)
			return -EMSGSIZE;
		if (K.q[k_txq(e)].n >= (int)K.qcap ||
		    K.q[k_txq(e)].bytes + s->len > K.qbytes)
			return -EAGAIN;
		return 0;
	}
	if (s->buf || s->prio >= IPCCHAN_PRIO_MAX)
		return -EINVAL;
	if (!K.nslots)
		return -ENODEV;
	if (!held)
		return -EINVAL;
	if (s->len > K.ssize)
		return -EMSGSIZE;
	if (K.q[k_txq(e)].n >= (int)K.qcap)
		return -EAGAIN;
	return 0;
}

static void k_send(struct ctx *c, int e, struct ipcchan_send *s,
		   unsigned long long tag, const char *what)
{
	struct kplaced p;
	long want = k_send_want(e, s), r;

	kplace(c, s, sizeof(*s), &p);	/* read-only is fine: input only */
	want = kplace_want(&p, want);
	r = kcall(c, C_SEND, K.fd[e], ioc_resize(IPCCHAN_IOC_SEND, p.usize),
		  p.arg, s->flags, s->slot);
	if (kexpect(c, what, r, want, KT_RES) <= 0 || r)
		return;
	if (s->flags & IPCCHAN_SEND_SLOT) {
		K.st[s->slot] = KS_FLIGHT;
		kq_push(&K.q[k_txq(e)], (int)s->slot, (unsigned int)s->len,
			s->prio, 0);
	} else {
		kq_push(&K.q[k_txq(e)], -1, (unsigned int)s->len, s->prio, tag);
	}
}

/* Loan if need be, write a payload in place, send the slot. */
static void k_op_send_slot(struct ctx *c)
{
	int e = k_ep_that(c, 1), slot, res;
	struct ipcchan_send s;
	unsigned char *a;
	unsigned int len;

	if (e < 0 || !K.nslots)
		return;
	slot = k_pick(c, e ? KS_HELD1 : KS_HELD0);
	if (slot < 0)
		slot = k_loan(c, e, 0);
	if (slot < 0)
		return;
	len = rn(c, K.ssize + 1);
	K.tag[slot] = ++K.next_tag;
	K.slen[slot] = len;
	K.known[slot] = 1;
	kfill(K.buf, K.tag[slot], len);
	a = K.map[e] + (size_t)slot * K.ssize;
	res = touch_copy(a, K.buf, len, a);
	count_touch(res);
	if (res != T_OK) {
		violation(c, "known: writing %u bytes into slot %d through endpoint %d's mapping: %s %s",
			  len, slot, e, t_names[res], kstate());
		K.bad = 1;
		return;
	}
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_NONBLOCK | IPCCHAN_SEND_SLOT;
	s.slot = (unsigned int)slot;
	s.len = len;
	s.prio = chance(c, 3) ? IPCCHAN_PRIO_MAX : rn(c, 4);
	k_send(c, e, &s, 0, "known SEND_SLOT");
}

/* Sends that must fail, and change nothing. */
static void k_op_send_forged(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2)), v = (int)rn(c, 10), slot = -1;
	unsigned int num = K.nslots;	/* the first slot out of range */
	struct ipcchan_send s;

	if (e < 0)
		return;
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_NONBLOCK | IPCCHAN_SEND_SLOT;
	s.len = K.ssize ? rn(c, K.ssize + 1) : 0;
	switch (v) {
	case 0:	slot = k_pick(c, e ? KS_HELD0 : KS_HELD1); break;
	case 1: slot = k_pick(c, KS_FREE); break;
	case 2: slot = k_pick(c, KS_FLIGHT); break;
	case 4: num = chance(c, 50) ? IPCCHAN_SLOT_NONE : IPCCHAN_SLOTS_MAX;
		break;
	case 5 ... 7:
		slot = k_pick(c, e ? KS_HELD1 : KS_HELD0);
		if (slot < 0)
			break;
		if (v == 5)
			s.len = K.ssize + 1 + rn(c, 64);
		else if (v == 6)
			s.buf = ptr64(K.buf);
		else
			s.flags |= IPCCHAN_SEND_IOV;
		break;
	case 8:		/* a slot number without SEND_SLOT */
		s.flags = IPCCHAN_NONBLOCK;
		s.buf = ptr64(K.buf);
		s.len = 1;
		slot = 1 + (int)rn(c, 5);
		break;
	default:
		break;
	}
	s.slot = slot >= 0 ? (unsigned int)slot : num;
	if (!k_send_want(e, &s)) {	/* the fallbacks are all refused */
		violation(c, "known: forged send variant %d is valid (a fuzzer bug) %s",
			  v, kstate());
		K.bad = 1;
		return;
	}
	k_send(c, e, &s, 0, "known forged SEND");
}

static void k_op_send_plain(struct ctx *c)
{
	int e = k_ep_that(c, 1);
	struct ipcchan_send s;
	unsigned long long tag = ++K.next_tag;

	if (e < 0)
		return;
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_NONBLOCK;
	s.len = chance(c, 5) ? K.msz + 1 + rn(c, 100) : rn(c, K.msz + 1);
	s.prio = rn(c, 4);
	s.buf = ptr64(K.buf);
	kfill(K.buf, tag, s.len);
	k_send(c, e, &s, tag, "known SEND");
}

/* Check a received payload (in @d, or in place for a held slot). */
static void k_check_payload(struct ctx *c, const struct kmsg *h,
			    const unsigned char *d, const char *how)
{
	long diff;

	if (h->slot >= 0) {
		if (!K.known[h->slot])
			return;
		if (K.slen[h->slot] != h->len) {
			violation(c, "known: the model lost slot %d's length (a fuzzer bug)",
				  h->slot);
			return;
		}
		diff = kdiff(d, K.tag[h->slot], h->len);
	} else {
		diff = kdiff(d, h->tag, h->len);
	}
	if (diff >= 0) {
		violation(c, "known %s: payload of seq %llu (slot %d, %u bytes) differs at byte %ld %s",
			  how, h->seq, h->slot, h->len, diff, kstate());
		K.bad = 1;
	}
}

static void k_recv_batch(struct ctx *c, int e)
{
	struct ipcchan_msghdr *h = c->hdr;
	struct kqueue *q = &K.q[k_rxq(e)];
	struct ipcchan_batch b;
	struct kplaced p;
	unsigned int n = 1 + rn(c, K_BATCH), i;
	long want, r;

	for (i = 0; i < n; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].buf = ptr64(K.sink + (size_t)i * K_BUF);
		h[i].len = K_BUF;
	}
	memset(&b, 0, sizeof(b));
	b.flags = IPCCHAN_NONBLOCK;
	b.msgs = ptr64(h);
	b.count = n;
	if (!q->n)
		want = k_hup(k_rxq(e)) ? 0 : -EAGAIN;
	else
		want = q->n < (int)n ? q->n : (int)n;
	/*
	 * Read-only: once messages moved, their count is the result even if
	 * done cannot be written; with none (end of channel), -EFAULT.
	 */
	kplace(c, &b, sizeof(b), &p);
	want = kplace_want(&p, want);
	if (p.kp == KP_RO && !want)
		want = -EFAULT;
	r = kcall(c, C_RECV_BATCH, K.fd[e],
		  ioc_resize(IPCCHAN_IOC_RECV_BATCH, p.usize), p.arg, n, e);
	if (kexpect(c, "known RECV_BATCH", r, want, KT_RES) <= 0 || r <= 0)
		return;
	if (p.kp != KP_RO && ((struct ipcchan_batch *)p.out)->done != r)
		violation(c, "known RECV_BATCH returned %ld, done %u", r,
			  ((struct ipcchan_batch *)p.out)->done);
	for (i = 0; i < (unsigned int)r; i++) {
		struct kmsg m = q->m[0];

		if (h[i].len != m.len || h[i].prio != m.prio ||
		    h[i].seq != m.seq || h[i].pad) {
			violation(c, "known RECV_BATCH msgs[%u]: len %llu prio %u seq %llu pad %u, the model says %u %u %llu %s",
				  i, (unsigned long long)h[i].len, h[i].prio,
				  (unsigned long long)h[i].seq, h[i].pad,
				  m.len, m.prio, m.seq, kstate());
			K.bad = 1;
			return;
		}
		k_check_payload(c, &m, K.sink + (size_t)i * K_BUF, "RECV_BATCH");
		kq_pop(q);
		if (m.slot >= 0)
			K.st[m.slot] = KS_FREE;
	}
}

static void k_op_recv(struct ctx *c)
{
	int e = k_ep_that(c, 0), mode = (int)rn(c, 20), creds = chance(c, 30);
	struct ipcchan_recv r, *o;
	struct kplaced p;
	struct kqueue *q;
	struct kmsg h;
	long want, ret;
	int slotmsg, take;

	if (e < 0)
		return;
	if (mode >= 15 && mode < 18) {
		k_recv_batch(c, e);
		return;
	}
	q = &K.q[k_rxq(e)];
	memset(&r, 0, sizeof(r));
	r.flags = IPCCHAN_NONBLOCK | (creds ? IPCCHAN_RECV_CREDS : 0);
	if (mode < 7 || mode == 18)
		r.flags |= IPCCHAN_RECV_SLOT;
	if ((mode >= 12 && mode < 15) || mode == 18)
		r.flags |= IPCCHAN_RECV_PEEK;
	r.buf = ptr64(K.sink);
	/* RECV_SLOT: a slot message needs no buffer, a plain one does */
	r.len = mode == 19 || (mode < 7 && chance(c, 30)) ? rn(c, 64) : K_BUF;
	memset(&h, 0, sizeof(h));
	h.slot = -1;
	slotmsg = take = 0;
	if (mode == 18) {
		want = -EINVAL;
	} else if (!q->n) {
		want = k_hup(k_rxq(e)) ? 0 : -EAGAIN;
	} else {
		h = q->m[0];
		slotmsg = h.slot >= 0 && (r.flags & IPCCHAN_RECV_SLOT);
		if (!slotmsg && h.len > r.len)
			want = -EMSGSIZE;
		else
			want = h.len;
		take = !(r.flags & IPCCHAN_RECV_PEEK);
	}
	kplace(c, &r, sizeof(r), &p);
	want = kplace_want(&p, want);
	if (p.kp == KP_RO && (want >= 0 || want == -EMSGSIZE))
		want = -EFAULT;	/* the message stays queued */
	ret = kcall(c, C_RECV, K.fd[e], ioc_resize(IPCCHAN_IOC_RECV, p.usize),
		    p.arg, r.flags, e);
	/* ENOMEM: copying a slot out of the region; it stays queued */
	if (kexpect(c, "known RECV", ret, want, KT_RES) <= 0)
		return;
	o = p.out;
	if (ret == -EMSGSIZE && o->len != h.len) {
		violation(c, "known RECV: EMSGSIZE with len %llu, the message has %u",
			  (unsigned long long)o->len, h.len);
		K.bad = 1;
	}
	if (ret < 0)
		return;
	if (o->len != (unsigned long long)ret || o->prio != h.prio ||
	    o->seq != (q->n ? h.seq : 0) ||
	    o->slot != (slotmsg ? (unsigned int)h.slot :
			(r.flags & IPCCHAN_RECV_SLOT) ? IPCCHAN_SLOT_NONE : 0) ||
	    (creds && q->n && (o->pid != (unsigned int)getpid() ||
			       o->uid != geteuid() || o->gid != getegid() ||
			       !o->timestamp_ns)) ||
	    (!creds && (o->pid || o->uid || o->gid || o->timestamp_ns)) ||
	    o->pad || o->reserved) {
		violation(c, "known RECV (flags %#llx) returned %ld: len %llu prio %u seq %llu slot %u pid %u uid %u; the model says prio %u seq %llu slot %d %s",
			  (unsigned long long)r.flags, ret,
			  (unsigned long long)o->len, o->prio,
			  (unsigned long long)o->seq, o->slot, o->pid, o->uid,
			  h.prio, q->n ? h.seq : 0, slotmsg ? h.slot : -1,
			  kstate());
		K.bad = 1;
		return;
	}
	if (!q->n)
		return;		/* end of channel */
	if (slotmsg)
		k_check_slot(c, h.slot, "received with RECV_SLOT");
	else
		k_check_payload(c, &h, K.sink, "RECV");
	if (!take)
		return;
	kq_pop(q);
	if (h.slot >= 0)
		K.st[h.slot] = slotmsg ? (e ? KS_HELD1 : KS_HELD0) : KS_FREE;
}

static void k_release(struct ctx *c, int e, struct ipcchan_slot_release *rel,
		      const char *what)
{
	int fd = K.fd[e], dupfd = -1;
	struct kplaced p;
	long want, r;

	/* A dup is the same file: it holds what the endpoint holds. */
	if (chance(c, 20)) {
		dupfd = dup(K.fd[e]);
		if (dupfd >= 0)
			fd = dupfd;
	}

	if (rel->flags || rel->pad)
		want = -EINVAL;
	else if (!K.nslots)
		want = -ENODEV;
	else if (rel->slot < K.nslots &&
		 K.st[rel->slot] == (e ? KS_HELD1 : KS_HELD0))
		want = 0;
	else
		want = -EINVAL;
	kplace(c, rel, sizeof(*rel), &p);	/* input only */
	want = kplace_want(&p, want);
	r = kcall(c, C_SLOT_RELEASE, fd,
		  ioc_resize(IPCCHAN_IOC_SLOT_RELEASE, p.usize), p.arg,
		  rel->slot, e);
	if (dupfd >= 0)
		close(dupfd);
	if (kexpect(c, what, r, want, 0) > 0 && !r)
		K.st[rel->slot] = KS_FREE;
}

static void k_op_release(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2)), slot;
	struct ipcchan_slot_release rel = { 0 };

	if (e < 0)
		return;
	slot = k_pick(c, e ? KS_HELD1 : KS_HELD0);
	if (slot < 0)
		return;
	rel.slot = (unsigned int)slot;
	k_release(c, e, &rel, "known SLOT_RELEASE");
}

/* Foreign, free (a double release), in flight, out of range, bad fields. */
static void k_op_release_forged(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2)), v = (int)rn(c, 7), slot = -1;
	struct ipcchan_slot_release rel = { 0 };
	unsigned int num = K.nslots;

	if (e < 0)
		return;
	switch (v) {
	case 0: slot = k_pick(c, e ? KS_HELD0 : KS_HELD1); break;
	case 1: slot = k_pick(c, KS_FREE); break;
	case 2: slot = k_pick(c, KS_FLIGHT); break;
	case 4: num = IPCCHAN_SLOT_NONE; break;
	case 5: rel.flags = 1ULL << rn(c, 64); break;
	case 6: rel.pad = 1 + rn(c, 1000); break;
	default: break;
	}
	if (v >= 5)	/* even a slot it holds: the fields decide first */
		slot = k_pick(c, e ? KS_HELD1 : KS_HELD0);
	rel.slot = slot >= 0 ? (unsigned int)slot : num;
	k_release(c, e, &rel, "known forged SLOT_RELEASE");
}

static void k_op_sem(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2)), kind = (int)rn(c, 20), bad = -1;
	struct ipcchan_sem s, *o;
	struct kplaced p;
	unsigned int idx = K.nsems ? rn(c, K.nsems) : 0, val, cnt = 0;
	int undo = chance(c, 40), timed = 0, wrote;
	long want, r;

	if (e < 0)
		return;
	memset(&s, 0, sizeof(s));
	if (kind < 7) {
		s.op = IPCCHAN_SEM_POST;
		switch (rn(c, 20)) {
		case 0 ... 15: cnt = 1 + rn(c, 3); break;
		case 16:	/* up to the maximum */
			cnt = IPCCHAN_SEM_VALUE_MAX -
			      (idx < K.nsems ? K.sval[idx] : 0);
			break;
		case 17 ... 18:
			cnt = IPCCHAN_SEM_VALUE_MAX + 1 -
			      (idx < K.nsems ? K.sval[idx] : 0);
			break;	/* one past it */
		default: cnt = 0xffffffffU; break;
		}
		if (!cnt)
			cnt = 1;
		s.count = cnt;
	} else if (kind < 14) {
		s.op = IPCCHAN_SEM_WAIT;
		if (kind < 11) {
			s.flags = IPCCHAN_NONBLOCK;
		} else if (chance(c, 50)) {
			s.flags = IPCCHAN_TIMEOUT;
			s.timeout_ns = NSEC_PER_MSEC;
			timed = 1;
		} else {
			s.flags = IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME;
			s.timeout_ns = 1;	/* long past */
			timed = 1;
		}
	} else {
		s.op = IPCCHAN_SEM_GETVALUE;
		undo = 0;
	}
	if (undo)
		s.flags |= IPCCHAN_SEM_UNDO;
	s.index = idx;
	if (kind >= 17) {	/* refused, whatever the value */
		bad = (int)rn(c, 8);
		switch (bad) {
		case 0: s.index = K.nsems; break;
		case 1: s.index = chance(c, 50) ? IPCCHAN_SEMS_MAX : ~0U; break;
		case 2: s.op = chance(c, 50) ? 0 : IPCCHAN_SEM_GETVALUE + 1; break;
		case 3: s.op = IPCCHAN_SEM_WAIT; s.count = 1; break;
		case 4: s.op = IPCCHAN_SEM_POST; s.count = 0; break;
		case 5: s.op = IPCCHAN_SEM_POST; s.count = 1;
			s.flags |= IPCCHAN_NONBLOCK; break;
		case 6: s.op = IPCCHAN_SEM_GETVALUE; s.flags = IPCCHAN_SEM_UNDO;
			break;
		default: s.reserved[1] = 1; break;
		}
	}
	s.value = (unsigned int)rnd(c);	/* output only */
	val = s.index < K.nsems ? K.sval[s.index] : 0;
	if (sem_args_bad(&s) || s.index >= K.nsems)
		want = -EINVAL;
	else if (s.op == IPCCHAN_SEM_POST)
		want = s.count > IPCCHAN_SEM_VALUE_MAX - val ? -EOVERFLOW : 0;
	else if (s.op == IPCCHAN_SEM_WAIT)
		want = val ? 0 : timed ? -ETIMEDOUT : -EAGAIN;
	else
		want = 0;
	if (bad >= 0 && want != -EINVAL) {
		violation(c, "known: refused semaphore variant %d is valid (a fuzzer bug)",
			  bad);
		return;
	}
	kplace(c, &s, sizeof(s), &p);
	want = kplace_want(&p, want);
	/* read-only: a post is done anyway; a wait gives its unit back */
	if (p.kp == KP_RO && !want && s.op != IPCCHAN_SEM_POST)
		want = -EFAULT;
	r = kcall(c, C_SEM, K.fd[e], ioc_resize(IPCCHAN_IOC_SEM, p.usize),
		  p.arg, s.flags, (unsigned long long)s.op << 32 | s.index);
	if (kexpect(c, "known SEM", r, want, (timed ? KT_INTR : 0) |
		    (undo ? KT_RES : 0)) <= 0)
		return;
	if (!r && s.op == IPCCHAN_SEM_POST) {
		K.sval[s.index] += s.count;
		if (undo)
			K.undo[e][s.index] -= s.count;
	} else if (!r && s.op == IPCCHAN_SEM_WAIT) {
		K.sval[s.index]--;
		if (undo)
			K.undo[e][s.index]++;
	}
	wrote = p.kp != KP_RO && p.kp != KP_SHORT && p.kp != KP_LONG &&
		(r >= 0 || r == -EOVERFLOW || r == -EAGAIN || r == -ETIMEDOUT);
	o = p.out;
	if (wrote && o->value != (s.index < K.nsems ? K.sval[s.index] : 0)) {
		violation(c, "known SEM op %u index %u count %u flags %#llx -> %ld: value %u, the model says %u %s",
			  s.op, s.index, s.count, (unsigned long long)s.flags,
			  r, o->value, K.sval[s.index], kstate());
		K.bad = 1;
	}
}

/*
 * Process-shared futexes on region words (no FUTEX_PRIVATE_FLAG: the key
 * is the page of the shmem file): a wait with the wrong value is EAGAIN,
 * with the right one it times out, a wake finds no one; past the end of
 * the region the page cannot be found: EFAULT.
 */
static void k_futex(struct ctx *c, int e)
{
	struct timespec ts = { 0, 1000000 };
	unsigned char *m = K.map[e];
	unsigned int *w, val = 0;
	long r;
	int past = chance(c, 20), res;

	w = (unsigned int *)(m + (past ? K.rsize + rn(c, K.mlen[e] - K.rsize) :
				      rn(c, K.rsize)) / 4 * 4);
	res = touch_copy(&val, w, sizeof(val), (unsigned char *)w);
	count_touch(res);
	if (res != (past ? T_BUS : T_OK)) {
		violation(c, "known: reading a futex word %s the region: %s %s",
			  past ? "past" : "inside", t_names[res], kstate());
		K.bad = 1;
		return;
	}
	r = sysret(syscall(SYS_futex, w, FUTEX_WAIT, val + 1, &ts, NULL, 0));
	if (kexpect(c, "known FUTEX_WAIT on a region word, wrong value", r,
		    past ? -EFAULT : -EAGAIN, 0) <= 0)
		return;
	r = sysret(syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0));
	if (kexpect(c, "known FUTEX_WAKE on a region word", r,
		    past ? -EFAULT : 0, 0) <= 0 || past)
		return;
	r = sysret(syscall(SYS_futex, w, FUTEX_WAIT, val, &ts, NULL, 0));
	kexpect(c, "known FUTEX_WAIT on a region word", r, -ETIMEDOUT,
		KT_INTR);
}

/* Touch the known mappings: inside, past the end, through read-only. */
static void k_op_touch(struct ctx *c)
{
	int e = (int)rn(c, 2), v = (int)rn(c, 7), res, want, s;
	unsigned char *m = K.map[e], *a, before, after;
	size_t off;

	if (!m)
		return;
	switch (v) {
	case 0:		/* what a slot out of the pool holds */
		s = k_pick(c, KS_FLIGHT);
		if (s < 0)
			s = k_pick(c, chance(c, 50) ? KS_HELD0 : KS_HELD1);
		k_check_slot(c, s, "in place");
		return;
	case 1:
		off = rn(c, K.rsize);
		want = T_OK;
		res = touch_byte(m + off, 0, 0);
		break;
	case 2:		/* past the end of the region */
	case 3:
		off = K.rsize + rn(c, K.mlen[e] - K.rsize);
		want = v == 2 || k_tx(e) ? T_BUS : T_SEGV;
		res = touch_byte(m + off, v == 3, 0x5a);
		break;
	case 4:		/* a read-only mapping stays read-only */
		if (k_tx(e)) {
			s = k_pick(c, KS_FREE);
			if (s < 0)
				return;
			off = (size_t)s * K.ssize + rn(c, K.ssize);
			K.known[s] = 0;
			want = T_OK;
			res = touch_byte(m + off, 1, (unsigned char)rnd(c));
			break;
		}
		off = rn(c, K.rsize);
		a = m + off;
		if (touch_copy(&before, a, 1, a) != T_OK)
			before = 0;
		want = T_SEGV;
		res = touch_byte(a, 1, (unsigned char)~before);
		if (touch_copy(&after, a, 1, a) == T_OK && after != before) {
			violation(c, "known: a write through a read-only mapping changed byte %zu %s",
				  off, kstate());
			K.bad = 1;
		}
		break;
	case 6:
		k_futex(c, e);
		return;
	default:	/* the reservation after the mapping */
		off = K.mlen[e] + rn(c, (RZ_PAGES - 1) * page - K.mlen[e]);
		want = T_SEGV;
		res = touch_byte(m + off, chance(c, 50), 0);
		break;
	}
	count_touch(res);
	if (res != want) {
		violation(c, "known: %s byte %zu of endpoint %d's mapping (%zu bytes, %s): %s, expected %s %s",
			  v == 3 || v == 4 ? "writing" : "reading", off, e,
			  K.mlen[e], k_tx(e) ? "read-write" : "read-only",
			  t_names[res], t_names[want], kstate());
		K.bad = 1;
	}
}

/* One exact mmap/mprotect/mremap/madvise case in the scratch area. */
static void k_op_mmap(struct ctx *c)
{
	unsigned char *a = k_area(2), *ref;
	int e = k_open_ep((int)rn(c, 2)), v = (int)rn(c, 9), res;
	size_t len, pages = K.rsize / page;
	unsigned long long off;
	void *m;
	long r;
	int prot;

	if (e < 0)
		return;
	ref = K.map[1] ? K.map[1] : K.map[0];
	if (!K.rsize || !ref)
		v = v % 2;
	switch (v) {
	case 0:		/* MAP_PRIVATE */
		m = mmap(a, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		kexpect(c, "known mmap(MAP_PRIVATE)", r,
			K.rsize ? -EINVAL : -ENODEV, 0);
		break;
	case 1:		/* an offset outside the region */
		off = chance(c, 20) ? 1ULL << 40 :
		      K.rsize + page * rn(c, 4);
		m = mmap(a, page, PROT_READ, MAP_SHARED | MAP_FIXED, K.fd[e],
			 (off_t)off);
		r = m == MAP_FAILED ? -errno : 0;
		kexpect(c, "known mmap at an offset past the region", r,
			K.rsize ? -EINVAL : -ENODEV, 0);
		break;
	case 2:		/* the last page, and one past it */
		m = mmap(a, 2 * page, PROT_READ, MAP_SHARED | MAP_FIXED,
			 K.fd[e], (off_t)(K.rsize - page));
		r = m == MAP_FAILED ? -errno : 0;
		if (kexpect(c, "known mmap of the last page", r, 0, 0) <= 0)
			break;
		res = touch_copy(K.chk, a, 64, a);
		if (res != T_OK || memcmp(K.chk, ref + K.rsize - page, 64)) {
			violation(c, "known: the last page mapped alone reads %s or other bytes %s",
				  t_names[res], kstate());
			K.bad = 1;
		}
		res = touch_byte(a + page + rn(c, page), 0, 0);
		count_touch(res);
		if (res != T_BUS) {
			violation(c, "known: reading past the region through a 2-page mapping: %s, expected SIGBUS %s",
				  t_names[res], kstate());
			K.bad = 1;
		}
		break;
	case 3:		/* rights: what mprotect may and may not add */
		prot = k_tx(e) ? PROT_READ | PROT_WRITE : PROT_READ;
		m = mmap(a, K.rsize, prot, MAP_SHARED | MAP_FIXED, K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		if (kexpect(c, "known mmap", r, 0, 0) <= 0)
			break;
		r = sysret(mprotect(a, page, PROT_READ | PROT_WRITE));
		kexpect(c, "known mprotect(PROT_READ|PROT_WRITE)", r,
			k_tx(e) ? 0 : -EACCES, 0);
		r = sysret(mprotect(a, page, PROT_NONE));
		kexpect(c, "known mprotect(PROT_NONE)", r, 0, 0);
		res = touch_byte(a + rn(c, page), 0, 0);
		count_touch(res);
		if (res != T_SEGV) {
			violation(c, "known: reading a PROT_NONE page of a region: %s",
				  t_names[res]);
			K.bad = 1;
		}
		r = sysret(mprotect(a, page, PROT_READ));
		kexpect(c, "known mprotect(PROT_READ)", r, 0, 0);
		break;
	case 4:		/* mremap: no growing, shrinking is fine */
	case 5:		/* moving, keeping the old range, duplicating */
		len = (pages < 10 ? pages : 10) * page;
		m = mmap(a, len, PROT_READ, MAP_SHARED | MAP_FIXED, K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		if (kexpect(c, "known mmap", r, 0, 0) <= 0)
			break;
		if (v == 4) {
			m = mremap(a, len, len + page, 0);
			r = m == MAP_FAILED ? -errno : 0;
			kexpect(c, "known mremap growing a region mapping", r,
				-EFAULT, 0);
			if (len > page) {
				m = mremap(a, len, page, 0);
				r = m == MAP_FAILED ? -errno : 0;
				kexpect(c, "known mremap shrinking a region mapping",
					r, 0, 0);
			}
			break;
		}
		m = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED |
			   MREMAP_DONTUNMAP, a + 12 * page);
		r = m == MAP_FAILED ? -errno : 0;
		kexpect(c, "known mremap(MREMAP_DONTUNMAP) of a region mapping",
			r, -EINVAL, 0);
		m = mremap(a, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   a + 12 * page);
		r = m == MAP_FAILED ? -errno : 0;
		kexpect(c, "known mremap duplicating a region mapping (old_len 0)",
			r, -EFAULT, 0);
		m = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   a + 12 * page);
		r = m == MAP_FAILED ? -errno : 0;
		if (kexpect(c, "known mremap moving a region mapping", r, 0,
			    0) <= 0)
			break;
		res = touch_copy(K.chk, a + 12 * page, len, a + 12 * page);
		if (res != T_OK || memcmp(K.chk, ref, len)) {
			violation(c, "known: a moved mapping reads %s or other bytes %s",
				  t_names[res], kstate());
			K.bad = 1;
		}
		res = touch_byte(a, 0, 0);
		count_touch(res);
		if (res != T_SEGV) {
			violation(c, "known: the old range of a moved mapping reads: %s",
				  t_names[res]);
			K.bad = 1;
		}
		break;
	case 6:		/* MADV_DONTNEED drops PTEs, never the bytes */
		m = mmap(a, K.rsize, PROT_READ, MAP_SHARED | MAP_FIXED,
			 K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		if (kexpect(c, "known mmap", r, 0, 0) <= 0)
			break;
		r = sysret(madvise(a, K.rsize, MADV_DONTNEED));
		kexpect(c, "known madvise(MADV_DONTNEED)", r, 0, 0);
		res = touch_copy(K.chk, a, K.rsize, a);
		if (res != T_OK || memcmp(K.chk, ref, K.rsize)) {
			violation(c, "known: after MADV_DONTNEED the region reads %s or other bytes %s",
				  t_names[res], kstate());
			K.bad = 1;
		}
		/*
		 * MADV_REMOVE needs a shared mapping that may become writable:
		 * never one of an endpoint that only receives.
		 */
		if (!k_tx(e)) {
			r = sysret(madvise(a, page, MADV_REMOVE));
			kexpect(c, "known madvise(MADV_REMOVE) through a receive-only endpoint",
				r, -EACCES, 0);
		}
		break;
	case 7:		/* MADV_REMOVE frees the pages: they read zero */
		if (!k_tx(e) || !K.nslots)
			break;
		{
			int s = k_pick(c, KS_FREE), t;
			size_t pg, first, last;

			if (s < 0)
				break;
			pg = (size_t)s * K.ssize / page;
			first = pg * page / K.ssize;
			last = ((pg + 1) * page - 1) / K.ssize;
			for (t = (int)first; t <= (int)last && t < (int)K.nslots; t++)
				if (K.st[t] != KS_FREE)
					goto out;	/* bytes someone needs */
			m = mmap(a, K.rsize, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, K.fd[e], 0);
			r = m == MAP_FAILED ? -errno : 0;
			if (kexpect(c, "known mmap", r, 0, 0) <= 0)
				break;
			r = sysret(madvise(a + pg * page, page, MADV_REMOVE));
			if (kexpect(c, "known madvise(MADV_REMOVE)", r, 0, 0) <= 0)
				break;
			for (t = (int)first; t <= (int)last && t < (int)K.nslots; t++)
				K.known[t] = 0;
			res = touch_copy(K.chk, ref + pg * page, page,
					 ref + pg * page);
			if (res != T_OK || nonzero(K.chk, page)) {
				violation(c, "known: a page removed with MADV_REMOVE reads %s or non-zero bytes %s",
					  t_names[res], kstate());
				K.bad = 1;
			}
		}
		break;
	default:	/* PROT_EXEC: allowed or -EPERM (noexec), nothing else */
		m = mmap(a, page, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
			 K.fd[e], 0);
		r = m == MAP_FAILED ? -errno : 0;
		if (r && r != -EPERM) {
			violation(c, "known mmap(PROT_EXEC): %s",
				  errname((int)-r));
			K.bad = 1;
		}
		break;
	}
out:
	zone_reserve(a, RZ_PAGES - 1);
}

/* A child sees the same pages, and dies of SIGBUS past the end. */
static void k_op_fork_touch(struct ctx *c)
{
	int s = -1, status;
	unsigned char *mark, v0 = 0, v1;
	pid_t pid;

	/* endpoint 1 sends in every kind of known channel: read-write */
	if (!K.map[1])
		return;
	mark = K.map[1];
	if (K.nslots) {		/* a free slot: no one needs its bytes */
		s = k_pick(c, KS_FREE);
		if (s < 0)
			return;
		mark += (size_t)s * K.ssize;
	}
	touch_copy(&v0, mark, 1, mark);
	v1 = v0 ^ 0x5a;
	x_begin(c, X_KNOWN, -1);
	pid = fork();
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		*(volatile unsigned char *)mark = v1;
		(void)*(volatile unsigned char *)(K.map[1] + K.rsize);
		_exit(9);
	}
	if (pid < 0) {
		op_end(c);
		return;
	}
	waitpid(pid, &status, 0);
	op_end(c);
	if (s >= 0)
		K.known[s] = 0;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS) {
		violation(c, "known: a child reading past the region %s %d, expected to die of SIGBUS %s",
			  WIFSIGNALED(status) ? "died of signal" : "exited with",
			  WIFSIGNALED(status) ? WTERMSIG(status) :
						WEXITSTATUS(status), kstate());
		K.bad = 1;
		return;
	}
	__atomic_fetch_add(&sh->kbus_child, 1, __ATOMIC_RELAXED);
	if (touch_copy(&v0, mark, 1, mark) != T_OK || v0 != v1) {
		violation(c, "known: the parent does not see the child's write to the shared region %s",
			  kstate());
		K.bad = 1;
	}
}

/*
 * Close endpoint @e: the slots it held come back (reclaimed), its undo is
 * applied, and a queue no receiver can come to any more is dropped (its
 * slots reclaimed too). The other endpoint must see exactly that.
 */
static void k_close(struct ctx *c, int e)
{
	unsigned int i;
	long r;
	int q;

	for (i = 0; i < K.nslots; i++)
		if (K.st[i] == (e ? KS_HELD1 : KS_HELD0)) {
			K.st[i] = KS_FREE;
			K.reclaimed++;
		}
	for (i = 0; i < K.nsems; i++) {
		long long v = (long long)K.sval[i] + K.undo[e][i];

		K.sval[i] = v < 0 ? 0 : v > IPCCHAN_SEM_VALUE_MAX ?
			    IPCCHAN_SEM_VALUE_MAX : (unsigned int)v;
		K.undo[e][i] = 0;
	}
	x_begin(c, X_KNOWN, K.fd[e]);
	r = sysret(close(K.fd[e]));
	op_end(c);
	K.fd[e] = -1;
	kexpect(c, "known close", r, 0, 0);
	for (q = 0; q < k_nq(); q++)
		if (k_broken(q))
			kq_drop(&K.q[q]);
}

static void k_op_close(struct ctx *c)
{
	int e = k_open_ep((int)rn(c, 2)), s;

	if (e < 0)
		return;
	k_close(c, e);
	k_verify(c, e ^ 1);
	if (K.fd[0] >= 0 || K.fd[1] >= 0 || K.bad)
		return;
	if (K.kind == KK_NAMED)
		return;		/* the name keeps it: reopen it later */
	/* Gone, but the mappings still hold the pages. */
	s = k_pick(c, KS_FREE);
	k_check_slot(c, s, "after the channel is gone");
	k_unmap_all();
	K.live = 0;
}

/* Open a closed endpoint of the named channel again, by name. */
static void k_op_reopen(struct ctx *c)
{
	int e = K.fd[0] < 0 ? 0 : K.fd[1] < 0 ? 1 : -1, fd, nb = chance(c, 30);
	unsigned int created = 7;

	if (K.kind != KK_NAMED || e < 0)
		return;
	fd = shm_open_name(K.ctl, K.name,
			   (e ? IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV :
				IPCCHAN_OPEN_RECV) | IPCCHAN_FD_CLOEXEC |
			   (nb ? IPCCHAN_FD_NONBLOCK : 0) |
			   (chance(c, 50) ? IPCCHAN_OPEN_CREATE : 0), 0600,
			   page, 64, K_SEMS, &created);
	if (kexpect(c, "known OPEN of the existing name", fd < 0 ? fd : 0, 0,
		    KT_RES) <= 0)
		return;
	if (created) {
		violation(c, "known OPEN of an existing name says created=%u",
			  created);
		K.bad = 1;
	}
	K.fd[e] = fd;
	K.nb[e] = nb;
	/* What a fresh opener sees: nothing held by the files that went. */
	k_verify(c, e);
}

/* Close what is open, unlink, and see the name gone and the bytes kept. */
static void k_destroy(struct ctx *c)
{
	int e, s, fd;

	for (e = 0; e < 2 && !K.bad; e++)
		if (K.fd[e] >= 0) {
			k_close(c, e);
			k_verify(c, e ^ 1);
		}
	if (!K.bad && K.kind == KK_NAMED) {
		kexpect(c, "known UNLINK", chan_unlink(K.ctl, K.name), 0, 0);
		fd = chan_open(K.ctl, K.name, IPCCHAN_OPEN_RECV, 0);
		if (fd >= 0)
			close(fd);
		kexpect(c, "known OPEN after UNLINK", fd < 0 ? fd : 0, -ENOENT,
			0);
	}
	if (!K.bad) {
		s = k_pick(c, KS_FREE);
		k_check_slot(c, s, "after the channel is gone");
	}
	k_resync();
}

/* Per mille; the channel is made first (K_INIT), and sometimes dropped. */
static const unsigned short k_weights[NKOP] = {
	[K_LOAN] = 110, [K_SEND_SLOT] = 150, [K_SEND_FORGED] = 60,
	[K_SEND_PLAIN] = 70, [K_RECV] = 180, [K_RELEASE] = 80,
	[K_RELEASE_FORGED] = 40, [K_SEM] = 150, [K_INFO] = 20, [K_TOUCH] = 60,
	[K_MMAP] = 32, [K_FORK_TOUCH] = 2, [K_CLOSE] = 16, [K_REOPEN] = 20,
	[K_DESTROY] = 10,
};

static void known_step(struct ctx *c)
{
	unsigned int r, op;
	int e;

	if (!K.live) {
		op = K_INIT;
		k_init(c);
	} else {
		r = rn(c, 1000);
		for (op = 0; op < NKOP - 1 && r >= k_weights[op]; op++)
			r -= k_weights[op];
		/* a named channel with both ends closed waits for a reopen */
		if (K.fd[0] < 0 && K.fd[1] < 0 && op != K_TOUCH &&
		    op != K_DESTROY)
			op = K_REOPEN;
		switch (op) {
		case K_LOAN: k_op_loan(c); break;
		case K_SEND_SLOT: k_op_send_slot(c); break;
		case K_SEND_FORGED: k_op_send_forged(c); break;
		case K_SEND_PLAIN: k_op_send_plain(c); break;
		case K_RECV: k_op_recv(c); break;
		case K_RELEASE: k_op_release(c); break;
		case K_RELEASE_FORGED: k_op_release_forged(c); break;
		case K_SEM: k_op_sem(c); break;
		case K_TOUCH: k_op_touch(c); break;
		case K_MMAP: k_op_mmap(c); break;
		case K_FORK_TOUCH: k_op_fork_touch(c); break;
		case K_CLOSE: k_op_close(c); break;
		case K_REOPEN: k_op_reopen(c); break;
		case K_DESTROY: k_destroy(c); break;
		default: break;
		}
		/*
		 * After every operation: the slot counters, from either end;
		 * the queue's counters every 8th time.
		 */
		if (K.live && !K.bad) {
			e = k_open_ep((int)rn(c, 2));
			if (e >= 0)
				k_verify_opt(c, e, !(c->step & 7));
			if (op == K_INFO && e >= 0)
				k_verify(c, e ^ 1);
		}
	}
	__atomic_fetch_add(&sh->kops[op][0], 1, __ATOMIC_RELAXED);
	if (K.bad)
		k_resync();
}

/* Fuzz steps of this process so far (the known thread keeps pace). */
static unsigned long long fuzz_steps(void)
{
	unsigned long long n = 0;
	int t;

	for (t = 0; t < cfg.threads; t++)
		n += __atomic_load_n(&sh->thr[proc_idx][t].steps,
				     __ATOMIC_RELAXED);
	return n;
}

static int close_from(int first)
{
	int fd;

	if (!syscall(SYS_close_range, first, ~0U, 0))
		return 0;
	for (fd = first; fd < 4096; fd++)
		close(fd);
	return 0;
}

static void *known_thread(void *arg)
{
	struct ctx *c = arg;
	sigset_t set;

	c->rec->tid = sys_gettid();
	/* Signals for the process go to the fuzz threads; faults stay. */
	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* A table of its own, holding none of the pool. */
	if (unshare(CLONE_FILES) || close_from(3))
		violation(c, "known thread: unshare(CLONE_FILES): %s",
			  strerror(errno));
	K.ctl = ctl_open();
	K.fd[0] = K.fd[1] = -1;
	snprintf(K.name, sizeof(K.name), "fzk%d", c->proc);
	if (K.ctl < 0)
		violation(c, "known thread: open %s: %s", IPCCHAN_DEVICE_PATH,
			  strerror(-K.ctl));
	pthread_barrier_wait(&start_bar);
	while (K.ctl >= 0 && cfg.kpace &&
	       !__atomic_load_n(&known_stop, __ATOMIC_RELAXED)) {
		if (c->step * cfg.kpace >= fuzz_steps()) {
			sleep_ms(1);
			continue;
		}
		known_step(c);
		c->step++;
		__atomic_store_n(&c->rec->steps, c->step, __ATOMIC_RELAXED);
	}
	if (K.live)
		k_destroy(c);
	if (K.ctl >= 0)
		close(K.ctl);
	__atomic_store_n(&c->rec->op_start, 0, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- worker processes --------------------------------------------------------------------- */

static void on_sigusr1(int sig)
{
	(void)sig;
	__atomic_fetch_add(&sh->signals_caught, 1, __ATOMIC_RELAXED);
}

static void setup_signals(void)
{
	struct sigaction sa;
	unsigned int i;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < ARRAY_SIZE(safe_sigs); i++)
		if (safe_sigs[i] != SIGCHLD && safe_sigs[i] != SIGUSR1)
			sigaction(safe_sigs[i], &sa, NULL);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaction(sig, &sa, NULL);
	/* No SA_RESTART: a blocking call interrupted by it returns -EINTR. */
	sa.sa_handler = on_sigusr1;
	sigaction(SIGUSR1, &sa, NULL);
	/*
	 * Faults of the region touches (sent SIGBUS and SIGSEGV are ignored by
	 * the handler, as they were before; SA_RESTART keeps them from
	 * interrupting what they used not to).
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

static void *map_or_die(void *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags, fd, 0);

	if (p == MAP_FAILED || (addr && p != addr)) {
		dprintf(2, "# fuzz worker: mmap %zu bytes: %s\n", len,
			strerror(errno));
		_exit(3);
	}
	return p;
}

static size_t round_page(unsigned long long n)
{
	return (size_t)((n + page - 1) / page * page);
}

static void setup_mem(void)
{
	size_t i, zone_pages, off;
	unsigned char *zone;
	int mfd, t, g;

	/* Payload source: bytes >= 0x80, so no word of it is a user pointer. */
	mem.payload_len = round_page(lim.max_msg_size + page);
	mem.payload = map_or_die(NULL, mem.payload_len + page,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (i = 0; i < mem.payload_len; i++)
		mem.payload[i] = 0x80 | ((i * 131 + (i >> 9)) & 0x7f);
	mprotect(mem.payload, mem.payload_len, PROT_READ);
	mprotect(mem.payload + mem.payload_len, page, PROT_NONE);

	/* Receive sink: max_msg_size fits after any offset below a page. */
	mem.sink_len = round_page(lim.max_msg_size) + 2 * page;
	mem.sink = map_or_die(NULL, mem.sink_len + page,
			      PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	mprotect(mem.sink + mem.sink_len, page, PROT_NONE);

	/* [g][flap_data 16][g][flap_struct 8][g][hole][g] */
	zone_pages = 1 + 16 + 1 + 8 + 1 + 1 + 1;
	zone = map_or_die(NULL, zone_pages * page, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	mem.flap_data = zone + page;
	mem.flap_data_len = 16 * page;
	mem.flap_struct = zone + 18 * page;
	mem.flap_struct_len = 8 * page;
	mem.hole = zone + 27 * page;
	map_or_die(mem.flap_data, mem.flap_data_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	map_or_die(mem.flap_struct, mem.flap_struct_len, PROT_READ,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
	munmap(mem.hole, page);

	/*
	 * Struct areas: one memfd, a read-write view and a read-only alias;
	 * one more for the known-channel thread.
	 */
	mem.per_thread = A_PAGES * page;
	mfd = memfd_create("ipcchan-fuzz", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, mem.per_thread * (cfg.threads + 1))) {
		dprintf(2, "# fuzz worker: memfd: %s\n", strerror(errno));
		_exit(3);
	}
	mem.arena = map_or_die(NULL, mem.per_thread * (cfg.threads + 1),
			       PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
	mem.arena_ro = map_or_die(NULL, mem.per_thread * (cfg.threads + 1),
				  PROT_READ, MAP_SHARED, mfd);
	close(mfd);

	/* Region mappings land only in these reservations. */
	mem.rzone = map_or_die(NULL, (size_t)RZ_CHUNKS * RZ_PAGES * page,
			       PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			       MAP_NORESERVE, -1);
	mem.kzone = map_or_die(NULL, (size_t)KZ_AREAS * RZ_PAGES * page,
			       PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			       MAP_NORESERVE, -1);
	for (t = 0; t < RZ_CHUNKS; t++) {
		pthread_mutex_init(&rchunks[t].lock, NULL);
		chunk_reset(&rchunks[t], 0, RZ_PAGES);
	}
	K.buf = map_or_die(NULL, K_BUF, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	K.chk = map_or_die(NULL, K_BUF, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	K.sink = map_or_die(NULL, (size_t)K_BATCH * K_BUF,
			    PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (t = 0; t <= cfg.threads; t++) {
		for (g = 0; g < (int)ARRAY_SIZE(a_guards); g++) {
			off = t * mem.per_thread + a_guards[g] * page;
			mprotect(mem.arena + off, page, PROT_NONE);
			mprotect(mem.arena_ro + off, page, PROT_NONE);
		}
	}
}

static void *ticker(void *arg)
{
	int t;

	(void)arg;
	while (!__atomic_load_n(&ticker_stop, __ATOMIC_RELAXED)) {
		unsigned long long now = now_ns(CLOCK_MONOTONIC);

		for (t = 0; t < cfg.threads; t++) {
			struct trec *rec = &sh->thr[proc_idx][t];
			unsigned long long st = __atomic_load_n(&rec->op_start,
								__ATOMIC_ACQUIRE);

			if (st && now > st + TICK_NS && rec->tid > 0)
				sys_tgkill(getpid(), rec->tid, SIGUSR1);
		}
		sleep_ms(3);
	}
	return NULL;
}

/*
 * Leave slots of the named region channel held and in flight for process
 * exit to clean up: the test then opens it afresh and must find none held.
 */
static void hold_on_exit(void)
{
	struct ipcchan_slot_loan l;
	struct ipcchan_send s;
	int fd, i;

	fd = shm_open_name(priv_ctl, hold_name, IPCCHAN_OPEN_SEND |
			   IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
			   IPCCHAN_FD_NONBLOCK, 0600, 4 * page, 512, 2, NULL);
	if (fd < 0)
		return;
	for (i = 0; i < 3; i++) {
		memset(&l, 0, sizeof(l));
		if (chan_ioctl(fd, IPCCHAN_IOC_SLOT_LOAN, &l))
			break;
		if (i)
			continue;
		memset(&s, 0, sizeof(s));
		s.flags = IPCCHAN_SEND_SLOT;
		s.slot = l.slot;
		s.len = l.size;
		chan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
	}
	/* fd stays open: the process's exit closes it */
}

static void *fuzz_thread(void *arg)
{
	struct ctx *c = arg;

	c->rec->tid = sys_gettid();
	pthread_barrier_wait(&start_bar);
	run_steps(c, cfg.iters);
	hold_on_exit();
	__atomic_store_n(&c->rec->op_start, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void __attribute__((noreturn)) worker_main(int p)
{
	pthread_t th[MAX_THREADS], tk, kt;
	int t;

	proc_idx = p;
	sh->worker[p] = getpid();
	close(keeper[0]);	/* out of reach of stale pool numbers */
	close(keeper[1]);
	prot_fd[keeper[0]] = prot_fd[keeper[1]] = 0;
	setup_mem();
	priv_ctl = ctl_open();
	protect(priv_ctl);
	for (t = 0; t < cfg.threads; t++) {
		epfd[t] = epoll_create1(EPOLL_CLOEXEC);
		protect(epfd[t]);
	}
	if (priv_ctl < 0)
		_exit(4);
	pthread_barrier_init(&start_bar, NULL, cfg.threads + 1);
	for (t = 0; t <= cfg.threads; t++) {
		struct ctx *c = &ctxs[t];
		unsigned int h;
		unsigned char *a = mem.arena + t * mem.per_thread;
		unsigned char *ro = mem.arena_ro + t * mem.per_thread;

		memset(c, 0, sizeof(*c));
		c->proc = p;
		c->thr = t;
		c->rng.s = mix64(cfg.seed ^ mix64(((unsigned long long)p << 32) |
						  (unsigned int)t));
		c->rec = &sh->thr[p][t];
		c->sarea = a + A_STRUCT * page;
		c->sarea_ro = ro + A_STRUCT * page;
		c->edge = a + A_EDGE * page;
		c->hdr = (struct ipcchan_msghdr *)(a + A_HDR * page);
		c->hdr_ro = (struct ipcchan_msghdr *)(ro + A_HDR * page);
		c->iov = (struct ipcchan_iovec *)(a + A_IOV * page);
		c->iov_ro = (struct ipcchan_iovec *)(ro + A_IOV * page);
		c->name = (char *)a + A_NAME * page;
		c->name_ro = (char *)ro + A_NAME * page;
		for (h = 0; h < HELD_MAX; h++)
			c->held[h].fd = -1;
	}
	for (t = 0; t < cfg.threads; t++)
		if (pthread_create(&th[t], NULL, fuzz_thread, &ctxs[t]))
			_exit(5);
	if (pthread_create(&kt, NULL, known_thread, &ctxs[cfg.threads]))
		_exit(5);
	pthread_create(&tk, NULL, ticker, NULL);
	for (t = 0; t < cfg.threads; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&known_stop, 1, __ATOMIC_RELAXED);
	pthread_join(kt, NULL);
	__atomic_store_n(&ticker_stop, 1, __ATOMIC_RELAXED);
	pthread_join(tk, NULL);
	_exit(0);
}

/* ---- the test ------------------------------------------------------------------------------- */

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void parse_cfg(void)
{
	const char *s = getenv("IPCCHAN_FUZZ_SEED");

	if (cfg.parsed)
		return;
	if (s && *s)
		cfg.seed = strtoull(s, NULL, 0);
	else
		cfg.seed = mix64(now_ns(CLOCK_REALTIME) ^
				 ((unsigned long long)getpid() << 32)) % 1000000000000ULL;
	cfg.iters = env_ul("IPCCHAN_FUZZ_ITERS", DEF_ITERS);
	cfg.procs = (int)env_ul("IPCCHAN_FUZZ_PROCS", DEF_PROCS);
	cfg.threads = (int)env_ul("IPCCHAN_FUZZ_THREADS", DEF_THREADS);
	cfg.trace = (int)env_ul("IPCCHAN_FUZZ_TRACE", 0);
	cfg.budget = (unsigned int)env_ul("IPCCHAN_FUZZ_BUDGET", DEF_BUDGET);
	cfg.kpace = (unsigned int)env_ul("IPCCHAN_FUZZ_KPACE", KPACE);
	if (cfg.procs < 1)
		cfg.procs = 1;
	if (cfg.procs > MAX_PROCS)
		cfg.procs = MAX_PROCS;
	if (cfg.threads < 1)
		cfg.threads = 1;
	if (cfg.threads > MAX_THREADS)
		cfg.threads = MAX_THREADS;
	cfg.parsed = 1;
}

/* Every fd open now is off limits to the fuzzer. */
static void protect_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fd;

	for (fd = 0; fd < 3; fd++)
		protect(fd);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			protect(atoi(e->d_name));
	closedir(d);
}

static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Kernel messages logged since kmsg_open() that report a problem. */
static int kmsg_scan(int fd)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "refcount_t", "general protection",
		"KASAN", "UBSAN", "possible circular locking",
		"inconsistent lock state", "possible recursive locking",
		"lock held when returning", "blocked for more than",
		"list_add corruption", "list_del corruption", "Call Trace",
		"kmemleak",
	};
	char buf[2048];
	int found = 0;
	unsigned int i;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (i = 0; i < ARRAY_SIZE(bad); i++)
			if (strstr(buf, bad[i]))
				break;
		if (i < ARRAY_SIZE(bad) && found++ < 40)
			printf("# kmsg: %s", buf);
	}
	return found;
}

static void build_pool(struct __test_metadata *_metadata, int ctl)
{
	int fds[2], i, p[2];

	for (i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	/* slots 0 .. CTL_SLOTS - 1: control fds */
	slots[0] = ctl_open();
	slots[1] = open(IPCCHAN_DEVICE_PATH, O_RDWR);
	slots[2] = dup(slots[0]);
	slots[3] = open(IPCCHAN_DEVICE_PATH, O_RDWR | O_NONBLOCK);
	ASSERT_EQ(0, chan_create(ctl, 0, 0, 0, 0, fds));
	slots[4] = fds[0], slots[5] = fds[1];
	ASSERT_EQ(0, chan_create(ctl, IPCCHAN_FD_NONBLOCK, 0, 0, 0, fds));
	slots[6] = fds[0], slots[7] = fds[1];
	ASSERT_EQ(0, chan_create(ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	slots[8] = fds[0], slots[9] = fds[1];
	ASSERT_EQ(0, chan_create(ctl, IPCCHAN_CREATE_DUPLEX |
				 IPCCHAN_FD_NONBLOCK, 0, 0, 0, fds));
	slots[10] = fds[0], slots[11] = fds[1];
	ASSERT_EQ(0, chan_create(ctl, 0, 64, 2, 0, fds));	/* fills fast */
	slots[12] = fds[0], slots[13] = fds[1];
	slots[14] = chan_open(ctl, "fz0", IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV |
			      IPCCHAN_OPEN_CREATE, 0600);
	slots[15] = chan_open(ctl, "fz1", IPCCHAN_OPEN_RECV |
			      IPCCHAN_OPEN_CREATE, 0600);
	slots[16] = chan_open(ctl, "fz1", IPCCHAN_OPEN_SEND, 0);
	slots[17] = chan_open(ctl, "fz2", IPCCHAN_OPEN_SEND |
			      IPCCHAN_OPEN_CREATE, 0666);
	slots[18] = chan_open(ctl, "fz3", IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
			      IPCCHAN_FD_NONBLOCK, 0600);
	slots[19] = open("/dev/null", O_RDWR);
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	slots[20] = p[0], slots[21] = p[1];
	for (i = 0; i < 22; i++) {
		ASSERT_LE(0, slots[i]) TH_LOG("pool slot %d", i);
	}
	slots[22] = 900;			/* closed (never opened) */
	slots[23] = -1;
	slots[24] = HUGE_FD;
	slots[25] = LARGE_FD;			/* unused (until a dup2) */
	/* 26, 27: -1 until the fuzzer puts something there */

	/* SHM_SLOT0 ..: region channels of every kind */
	ASSERT_EQ(0, shm_create(ctl, 0, 0, 0, 8 * page, 512, 4, fds));
	slots[28] = fds[0], slots[29] = fds[1];		/* 64 slots */
	ASSERT_EQ(0, shm_create(ctl, IPCCHAN_CREATE_DUPLEX | IPCCHAN_FD_NONBLOCK,
				0, 8, 4 * page, 1024, 2, fds));
	slots[30] = fds[0], slots[31] = fds[1];		/* 16 slots */
	slots[32] = shm_open_name(ctl, valid_names[SHM_NAME],
				  IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV |
				  IPCCHAN_OPEN_CREATE, 0600, 16 * page, 4096,
				  IPCCHAN_SEMS_MAX, NULL);
	slots[33] = shm_open_name(ctl, valid_names[SHM_NAME],
				  IPCCHAN_OPEN_RECV, 0, 0, 0, 0, NULL);
	ASSERT_EQ(0, shm_create(ctl, 0, 0, 0, 0, 0, 3, fds));	/* sems only */
	slots[34] = fds[0], slots[35] = fds[1];
	for (i = SHM_SLOT0; i < NSLOTS; i++) {
		ASSERT_LE(0, slots[i]) TH_LOG("pool slot %d", i);
	}
}

static void unlink_all(int ctl)
{
	unsigned int i;
	char name[32];

	for (i = 0; i < ARRAY_SIZE(valid_names); i++)
		chan_unlink(ctl, valid_names[i]);
	for (i = 0; i < ARRAY_SIZE(odd_names); i++)
		chan_unlink(ctl, odd_names[i]);
	chan_unlink(ctl, hold_name);
	for (i = 0; i < MAX_PROCS; i++) {	/* the known channels' names */
		snprintf(name, sizeof(name), "fzk%u", i);
		chan_unlink(ctl, name);
	}
}

/*
 * Every file is closed now: a fresh open of each named channel must see
 * no slot held, in flight only what is still queued, and every slot free
 * once that is received; no semaphore above IPCCHAN_SEM_VALUE_MAX.
 * Returns the number of problems (printed).
 */
static int check_named_regions(int ctl, int *checked)
{
	struct ipcchan_region_info ri, ri2;
	struct ipcchan_slot_release rel;
	struct ipcchan_stats st;
	struct ipcchan_recv rv;
	struct ipcchan_sem sm;
	const char *names[ARRAY_SIZE(valid_names) + ARRAY_SIZE(odd_names) + 1];
	unsigned int i, n = 0, j;
	size_t buflen = lim.max_msg_size;
	unsigned char *buf = malloc(buflen ? buflen : 1);
	int bad = 0, fd;
	long r;

	*checked = 0;
	for (i = 0; i < ARRAY_SIZE(valid_names); i++)
		names[n++] = valid_names[i];
	for (i = 0; i < ARRAY_SIZE(odd_names); i++)
		names[n++] = odd_names[i];
	names[n++] = hold_name;
	for (i = 0; i < n && buf; i++) {
		fd = chan_open(ctl, names[i], IPCCHAN_OPEN_SEND |
			       IPCCHAN_OPEN_RECV | IPCCHAN_FD_NONBLOCK, 0);
		if (fd < 0)
			continue;
		++*checked;
		if (region_info(fd, &ri) || chan_stats(fd, 0, &st)) {
			printf("# named %d: REGION_INFO or STATS failed\n", i);
			bad++;
			close(fd);
			continue;
		}
		if (ri.slots_held || ri.slots_held_here ||
		    ri.slots_in_flight > st.queued_msgs ||
		    ri.slots_free + ri.slots_in_flight != ri.nr_slots) {
			printf("# named %u (%s): after every holder closed: free %llu held %llu in flight %llu of %u slots, %llu queued\n",
			       i, names[i], (unsigned long long)ri.slots_free,
			       (unsigned long long)ri.slots_held,
			       (unsigned long long)ri.slots_in_flight,
			       ri.nr_slots, (unsigned long long)st.queued_msgs);
			bad++;
		}
		/* Receive what is queued: slots in place, then released. */
		for (j = 0; j < 100000; j++) {
			memset(&rv, 0, sizeof(rv));
			rv.flags = IPCCHAN_NONBLOCK | IPCCHAN_RECV_SLOT;
			rv.buf = ptr64(buf);
			rv.len = buflen;
			r = chan_ioctl(fd, IPCCHAN_IOC_RECV, &rv);
			if (r < 0)
				break;
			if (rv.slot == IPCCHAN_SLOT_NONE)
				continue;
			memset(&rel, 0, sizeof(rel));
			rel.slot = rv.slot;
			r = chan_ioctl(fd, IPCCHAN_IOC_SLOT_RELEASE, &rel);
			if (r) {
				printf("# named %u: releasing received slot %u: %s\n",
				       i, rv.slot, errname((int)-r));
				bad++;
			}
		}
		if (r != -EAGAIN) {
			printf("# named %u: draining the queue: %s\n", i,
			       errname((int)-r));
			bad++;
		}
		if (region_info(fd, &ri2) || ri2.slots_free != ri2.nr_slots ||
		    ri2.slots_held || ri2.slots_in_flight) {
			printf("# named %u (%s): drained: free %llu held %llu in flight %llu of %u slots\n",
			       i, names[i], (unsigned long long)ri2.slots_free,
			       (unsigned long long)ri2.slots_held,
			       (unsigned long long)ri2.slots_in_flight,
			       ri2.nr_slots);
			bad++;
		}
		for (j = 0; j < ri.nr_sems; j++) {
			memset(&sm, 0, sizeof(sm));
			sm.op = IPCCHAN_SEM_GETVALUE;
			sm.index = j;
			r = chan_ioctl(fd, IPCCHAN_IOC_SEM, &sm);
			if (r || sm.value > IPCCHAN_SEM_VALUE_MAX) {
				printf("# named %u: semaphore %u: %s, value %u\n",
				       i, j, errname(r < 0 ? (int)-r : 0),
				       sm.value);
				bad++;
			}
		}
		close(fd);
	}
	free(buf);
	return bad;
}

/* What /proc/ipcchan lists (named channels left), as diagnostics. */
static void print_proc_names(void)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/proc/ipcchan", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		char *line, *save = NULL;

		buf[n] = '\0';
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			printf("# /proc/ipcchan: %s\n", line);
	}
	close(fd);
}

static void print_stats(void)
{
	unsigned long long total = 0, steps = 0;
	char line[1024];
	int cmd, e, p, t, len;

	for (cmd = 0; cmd < NCMD; cmd++) {
		unsigned long long n = 0;

		for (e = 0; e < ERRMAX; e++)
			n += sh->calls[cmd][e];
		total += n;
		len = snprintf(line, sizeof(line), "# %-11s %7llu calls: ok %llu",
			       cmd_names[cmd], n, sh->calls[cmd][0]);
		for (e = 1; e < ERRMAX; e++)
			if (sh->calls[cmd][e] && len < (int)sizeof(line))
				len += snprintf(line + len, sizeof(line) - len,
						", %s %llu", errname(e),
						sh->calls[cmd][e]);
		printf("%s\n", line);
	}
	printf("# ioctls: %llu\n", total);
	for (e = 0; e < NX; e++)
		printf("# %-21s ok %llu, failed %llu\n", x_names[e],
		       sh->xops[e][0], sh->xops[e][1]);
	for (p = 0; p < cfg.procs; p++)
		for (t = 0; t < cfg.threads; t++)
			steps += sh->thr[p][t].steps;
	printf("# steps %llu (+%llu in %llu forked children), SIGUSR1 handled %llu\n",
	       steps, sh->child_steps, sh->forks, sh->signals_caught);
	len = snprintf(line, sizeof(line), "# thread-seconds in:");
	for (e = 0; e < NCMD + NX && len < (int)sizeof(line); e++)
		if (sh->op_ns[e] >= NSEC_PER_SEC / 10)
			len += snprintf(line + len, sizeof(line) - len,
					" %s %.1f", e < NCMD ? cmd_names[e] :
					x_names[e - NCMD], sh->op_ns[e] / 1e9);
	printf("%s\n", line);
	printf("# region touches: %llu no fault, %llu SIGBUS, %llu SIGSEGV\n",
	       sh->touches[T_OK], sh->touches[T_BUS], sh->touches[T_SEGV]);
	for (p = 0, steps = 0; p < cfg.procs; p++)
		steps += sh->thr[p][cfg.threads].steps;
	len = snprintf(line, sizeof(line),
		       "# known channels: %llu made, %llu ops, %llu children died of SIGBUS:",
		       sh->kchans, steps, sh->kbus_child);
	for (e = 0; e < NKOP && len < (int)sizeof(line); e++)
		len += snprintf(line + len, sizeof(line) - len, " %s %llu",
				k_names[e], sh->kops[e][0]);
	printf("%s\n", line);
	fflush(stdout);
}

/* Report threads stuck in one operation; returns how many. */
static int check_hangs(void)
{
	unsigned long long now = now_ns(CLOCK_MONOTONIC);
	char buf[320], st[1024];
	int p, t, n = 0;

	for (p = 0; p < cfg.procs; p++)
		for (t = 0; t <= cfg.threads; t++) {	/* + the known thread */
			struct trec *rec = &sh->thr[p][t];
			unsigned long long start = rec->op_start;
			unsigned long long idx;

			if (!start || now < start + HUNG_NS)
				continue;
			n++;
			if (rec->hang_reported)
				continue;
			rec->hang_reported = 1;
			fmt_op(buf, sizeof(buf), &rec->cur);
			proc_state(sh->worker[p], rec->tid, st, sizeof(st));
			idx = __atomic_fetch_add(&sh->nviol, 1, __ATOMIC_SEQ_CST);
			if (idx < MAX_VIOL)
				snprintf(sh->viol[idx], VIOL_LEN,
					 "p%d t%d (tid %d): one operation running for %llu s: %s: %s",
					 p, t, rec->tid, (now - start) / NSEC_PER_SEC,
					 buf, st);
		}
	return n;
}

FIXTURE(fuzz) {
	int ctl;
	struct ipcchan_query base;
};

FIXTURE_SETUP(fuzz)
{
	parse_cfg();
	/* First, whatever happens next: what reproduces this run. */
	printf("# seed=%llu iterations=%lu procs=%d threads=%d kpace=%u\n",
	       cfg.seed, cfg.iters, cfg.procs, cfg.threads, cfg.kpace);
	printf("# reproduce: IPCCHAN_FUZZ_SEED=%llu IPCCHAN_FUZZ_ITERS=%lu IPCCHAN_FUZZ_PROCS=%d IPCCHAN_FUZZ_THREADS=%d IPCCHAN_FUZZ_KPACE=%u ./ipcchan_fuzz\n",
	       cfg.seed, cfg.iters, cfg.procs, cfg.threads, cfg.kpace);
	fflush(stdout);
	page = (size_t)sysconf(_SC_PAGESIZE);
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", IPCCHAN_DEVICE_PATH,
				       strerror(-self->ctl));
	/* Leftovers of an earlier run would count against the baseline. */
	unlink_all(self->ctl);
	ASSERT_EQ(0, chan_query(self->ctl, &self->base));
	lim = self->base;
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->ctl >= 0)
		close(self->ctl);
}

TEST_F_TIMEOUT(fuzz, ioctls, 280)
{
	unsigned long long deadline, t0, steps;
	struct ipcchan_query q;
	struct ipcchan_recv rv;
	struct ipcchan_region_info ri;
	struct ipcchan_slot_loan ln;
	struct ipcchan_send sd;
	struct ipcchan_slot_release rel;
	pid_t pids[MAX_PROCS];
	int done[MAX_PROCS] = { 0 };
	int p, i, alive, status, kfd, kbad, fds[2], waited, nbad, nnamed;
	char out[64], in[64];
	unsigned char *m;
	long r;

	memset(name_255, 'N', IPCCHAN_NAME_MAX);
	memset(name_256, 'L', IPCCHAN_NAME_MAX + 1);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	setup_signals();
	kfd = kmsg_open();
	protect_open_fds();
	protect(kfd);
	/*
	 * A user's record goes with its last channel, and what it had
	 * charged with it: a leak would read as 0 at the end. This channel
	 * keeps the record alive to the end, so that it can be compared.
	 */
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC, 0, 0, 0, keeper));
	ASSERT_EQ(0, chan_query(self->ctl, &self->base));
	build_pool(_metadata, self->ctl);

	t_start = now_ns(CLOCK_MONOTONIC);
	fflush(stdout);
	fflush(stderr);
	for (p = 0; p < cfg.procs; p++) {
		pids[p] = fork();
		ASSERT_LE(0, pids[p]);
		if (pids[p] == 0)
			worker_main(p);
		sh->worker[p] = pids[p];
	}
	/* The workers share the pool; this process keeps none of it. */
	for (i = 0; i < NSLOTS; i++)
		if (!is_prot(slots[i]))
			close(slots[i]);

	deadline = t_start + (cfg.budget + 60ULL) * NSEC_PER_SEC;
	for (;;) {
		for (p = 0, alive = 0; p < cfg.procs; p++) {
			if (done[p])
				continue;
			r = waitpid(pids[p], &status, WNOHANG);
			if (r == pids[p]) {
				done[p] = 1;
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					TH_LOG("worker %d: %s %d", p,
					       WIFSIGNALED(status) ? "killed by signal" : "exit status",
					       WIFSIGNALED(status) ? WTERMSIG(status) :
								     WEXITSTATUS(status));
				EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
			} else {
				alive++;
			}
		}
		if (!alive)
			break;
		check_hangs();
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			TH_LOG("workers still running %llu s after the start: killing them",
			       (now_ns(CLOCK_MONOTONIC) - t_start) / NSEC_PER_SEC);
			for (p = 0; p < cfg.procs; p++)
				if (!done[p])
					kill(pids[p], SIGKILL);
			EXPECT_TRUE(0);
			deadline = ~0ULL;
		}
		sleep_ms(50);
	}
	printf("# fuzzing took %.1f s\n",
	       (now_ns(CLOCK_MONOTONIC) - t_start) / 1e9);
	if (sh->budget_hit)
		printf("# time budget of %u s reached: fewer steps than asked\n",
		       cfg.budget);
	print_stats();

	/* Every holder is gone: no slot of a named channel is held. */
	nbad = check_named_regions(self->ctl, &nnamed);
	printf("# named channels left: %d, checked after every file closed: %d problem(s)\n",
	       nnamed, nbad);
	EXPECT_EQ(0, nbad);

	/* Nothing leaked: every fd is closed; the names go now. */
	unlink_all(self->ctl);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (waited = 0;; waited++) {
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		if ((q.nr_channels == self->base.nr_channels &&
		     q.user_channels == self->base.user_channels &&
		     q.user_bytes == self->base.user_bytes &&
		     q.user_region_bytes == self->base.user_region_bytes) ||
		    now_ns(CLOCK_MONOTONIC) - t0 > 5 * NSEC_PER_SEC)
			break;
		sleep_ms(20);
	}
	printf("# after: nr_channels %llu user_channels %llu user_bytes %llu user_region_bytes %llu (start: %llu %llu %llu %llu)%s\n",
	       (unsigned long long)q.nr_channels,
	       (unsigned long long)q.user_channels,
	       (unsigned long long)q.user_bytes,
	       (unsigned long long)q.user_region_bytes,
	       (unsigned long long)self->base.nr_channels,
	       (unsigned long long)self->base.user_channels,
	       (unsigned long long)self->base.user_bytes,
	       (unsigned long long)self->base.user_region_bytes,
	       waited ? " (after waiting)" : "");
	if (q.nr_channels != self->base.nr_channels)
		print_proc_names();
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	EXPECT_EQ(self->base.user_channels, q.user_channels);
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);
	EXPECT_EQ(self->base.user_region_bytes, q.user_region_bytes);

	/* A fresh channel still works. */
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_NONBLOCK, 0, 0, 0, fds));
	for (i = 0; i < (int)sizeof(out); i++)
		out[i] = (char)(i * 7 + 3);
	EXPECT_EQ(0, chan_send(fds[1], out, sizeof(out), 5, 0));
	memset(in, 0, sizeof(in));
	EXPECT_EQ((long)sizeof(in), chan_recv(fds[0], in, sizeof(in), 0, &rv));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	EXPECT_EQ(5, rv.prio);
	close(fds[0]);
	close(fds[1]);

	/* And a fresh region channel: a slot goes round, the pool refills. */
	ASSERT_EQ(0, shm_create(self->ctl, IPCCHAN_FD_NONBLOCK, 0, 0, page,
				256, 1, fds));
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	ASSERT_NE(MAP_FAILED, m);
	memset(&ln, 0, sizeof(ln));
	ASSERT_EQ(0, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN, &ln));
	memcpy(m + ln.offset, out, sizeof(out));
	memset(&sd, 0, sizeof(sd));
	sd.flags = IPCCHAN_SEND_SLOT;
	sd.slot = ln.slot;
	sd.len = sizeof(out);
	EXPECT_EQ(0, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &sd));
	memset(&rv, 0, sizeof(rv));
	rv.flags = IPCCHAN_RECV_SLOT;
	EXPECT_EQ((long)sizeof(out), chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &rv));
	EXPECT_EQ(ln.slot, rv.slot);
	EXPECT_EQ(0, memcmp(m + ln.offset, out, sizeof(out)));
	memset(&rel, 0, sizeof(rel));
	rel.slot = rv.slot;
	EXPECT_EQ(0, chan_ioctl(fds[0], IPCCHAN_IOC_SLOT_RELEASE, &rel));
	ASSERT_EQ(0, region_info(fds[0], &ri));
	EXPECT_EQ(ri.nr_slots, ri.slots_free);
	EXPECT_EQ(1, ri.loans);
	munmap(m, page);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);
	EXPECT_EQ(self->base.user_region_bytes, q.user_region_bytes);
	close(keeper[0]);
	close(keeper[1]);
	keeper[0] = keeper[1] = -1;

	kbad = kmsg_scan(kfd);
	if (kfd >= 0)
		close(kfd);
	else
		printf("# /dev/kmsg not readable: kernel log not checked here\n");
	EXPECT_EQ(0, kbad) TH_LOG("the kernel logged problems during the run");

	for (i = 0; i < (int)sh->nviol && i < MAX_VIOL; i++)
		printf("# VIOLATION %s\n", sh->viol[i]);
	if (sh->nviol > MAX_VIOL)
		printf("# ... and %llu more violations\n", sh->nviol - MAX_VIOL);
	for (p = 0, steps = 0; p < cfg.procs; p++)
		for (i = 0; i < cfg.threads; i++)
			steps += sh->thr[p][i].steps;
	printf("# seed=%llu iterations=%lu steps=%llu of %llu: %llu violation(s)\n",
	       cfg.seed, cfg.iters, steps,
	       (unsigned long long)cfg.iters * cfg.procs * cfg.threads,
	       sh->nviol);
	fflush(stdout);
	EXPECT_EQ(0, sh->nviol);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
