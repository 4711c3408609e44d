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
 *   - at the end, with every fd closed and every name unlinked, the query
 *     shows nr_channels, user_channels and user_bytes back at their start
 *     values, and a fresh channel still carries a message;
 *   - no kernel warning appears in /dev/kmsg during the run.
 *
 * Environment: IPCCHAN_FUZZ_SEED (default: from the clock),
 * IPCCHAN_FUZZ_ITERS (steps per thread), IPCCHAN_FUZZ_PROCS,
 * IPCCHAN_FUZZ_THREADS, IPCCHAN_FUZZ_BUDGET (soft time limit, seconds),
 * IPCCHAN_FUZZ_TRACE=1 (print every step). Each thread draws from its own
 * PRNG seeded from the seed, its process and its thread index, and no draw
 * depends on a syscall's result, so a seed replays the same sequence of
 * steps in every thread (IPCCHAN_FUZZ_PROCS=1 IPCCHAN_FUZZ_THREADS=1
 * makes a run fully deterministic apart from the signal timer).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

/* ---- configuration -------------------------------------------------------- */

/*
 * Steps per thread: 2 processes x 3 threads x 90000 steps took 13-32 s in
 * the TCG guest (2 vCPUs on a 2-core host, depending on the host's load),
 * so 100000 aims at 20-40 s. A slower kernel (KASAN, lockdep) stops at the
 * time budget instead, and says so.
 */
#define DEF_ITERS	100000
#define DEF_PROCS	2
#define DEF_THREADS	3
#define DEF_BUDGET	90	/* seconds: stop early (and say so) after this */
#define MAX_PROCS	4
#define MAX_THREADS	8
#define NSLOTS		28
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

static struct {
	unsigned long long seed;
	unsigned long iters;
	int procs, threads, trace;
	unsigned int budget;
	int parsed;
} cfg;

/* ---- shared state (MAP_SHARED, across every process of the run) ---------- */

enum { C_QUERY, C_CREATE, C_OPEN, C_UNLINK, C_SEND, C_RECV, C_SEND_BATCH,
       C_RECV_BATCH, C_STATS, C_NOTIFY, C_UNKNOWN, NCMD };
static const char *const cmd_names[NCMD] = {
	"QUERY", "CREATE", "OPEN", "UNLINK", "SEND", "RECV", "SEND_BATCH",
	"RECV_BATCH", "STATS", "NOTIFY", "UNKNOWN_CMD",
};

enum { X_CLOSE, X_DUP, X_DUP2, X_NEW, X_FORK, X_MAP, X_SIGNAL, X_FCNTL,
       X_POLL, X_EPOLL, X_RW, NX };
static const char *const x_names[NX] = {
	"close", "dup", "dup2", "new-endpoints", "fork", "mmap/munmap/mprotect",
	"signal", "fcntl", "poll", "epoll", "read/write",
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
	struct trec thr[MAX_PROCS][MAX_THREADS];
	struct trec child[MAX_PROCS][MAX_THREADS];	/* forked children */
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
} mem;

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
};

static struct ctx ctxs[MAX_THREADS];

/* ---- names ------------------------------------------------------------------ */

static char name_255[IPCCHAN_NAME_MAX + 1];
static char name_256[IPCCHAN_NAME_MAX + 2];
/* Shared by every process and thread, so opens, creates and unlinks collide. */
static const char *const valid_names[] = {
	"fz0", "fz1", "fz2", "fz3", "fz esc\t\n\\", name_255,
};
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
	if (c->rec)
		__atomic_store_n(&c->rec->op_start, 0, __ATOMIC_RELEASE);
}

/* ---- errno oracle ---------------------------------------------------------------- */

/* What <linux/ipcchan.h> documents for each command (EBADF/ENOTTY apart). */
static const int err_query[] = { EFAULT, EINVAL, E2BIG, 0 };
static const int err_create[] = { EINVAL, EMFILE, ENFILE, ENOMEM, EFAULT,
				  E2BIG, 0 };
static const int err_open[] = { ENOENT, EEXIST, EACCES, ENAMETOOLONG, EINVAL,
				EMFILE, ENFILE, ENOMEM, EFAULT, E2BIG, 0 };
static const int err_unlink[] = { ENOENT, EACCES, EINVAL, ENAMETOOLONG,
				  EFAULT, ENOMEM, E2BIG, 0 };
static const int err_send[] = { EAGAIN, ETIMEDOUT, EINTR, EPIPE, EMSGSIZE,
				ENOSPC, ENOMEM, EFAULT, EINVAL, E2BIG, 0 };
static const int err_recv[] = { EAGAIN, ETIMEDOUT, EINTR, EMSGSIZE, EFAULT,
				EINVAL, E2BIG, 0 };
static const int err_stats[] = { EINVAL, EFAULT, E2BIG, 0 };
static const int err_notify[] = { EBUSY, EINVAL, ENOENT, ENOMEM, EFAULT,
				  E2BIG, 0 };
static const int err_unknown[] = { 0 };
static const int *const err_allowed[NCMD] = {
	err_query, err_create, err_open, err_unlink, err_send, err_recv,
	err_send, err_recv, err_stats, err_notify, err_unknown,
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

/* A pointer the kernel only reads from (payloads, names beyond our page). */
static unsigned long long data_read_ptr(struct ctx *c, unsigned long long len)
{
	unsigned long long span = len < page ? len : page;

	switch (rn(c, 20)) {
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
	switch (rn(c, 20)) {
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
	if (r < 70) {
		s = valid_names[rn(c, 4)];
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
	k.ioc = ioc_resize(IPCCHAN_IOC_QUERY, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = q.flags;
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
	int bad = 0, attr_ok, szcls, s0, s1, leak;

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
	msz = cr.msg_size_max;
	qm = cr.queue_msgs;
	qb = cr.queue_bytes;
	attr_ok = attrs_resolve(&msz, &qm, &qb);
	s0 = rn(c, NSLOTS);
	s1 = rn(c, NSLOTS);
	leak = chance(c, 3);
	usize = pick_usize(c, sizeof(cr), &szcls);
	place(c, &cr, sizeof(cr), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	k.ioc = ioc_resize(IPCCHAN_IOC_CREATE, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = cr.flags;
	k.a = (unsigned long long)cr.msg_size_max << 32 | cr.queue_msgs;
	k.b = cr.queue_bytes;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (unknown flag or reserved non-zero)");
	if (p.in_stable && !attr_ok)
		must(&k, EINVAL, " (attributes outside the limits)");
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
	int bad = 0, szcls, nval, nstable, nfault, s, leak;

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
	usize = pick_usize(c, sizeof(op), &szcls);
	place(c, &op, sizeof(op), usize, szcls, &p);
	k.fd = pick_ctl_fd(c, &k.slot);
	k.ioc = ioc_resize(IPCCHAN_IOC_OPEN, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = op.flags;
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
	k.ioc = ioc_resize(IPCCHAN_IOC_UNLINK, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = u.flags;
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

/* SEND_SLOT is known but never set here: the fuzzed channels have no slots. */
#define SEND_KNOWN (XFER_KNOWN | IPCCHAN_SEND_IOV | IPCCHAN_SEND_SLOT)

static void fuzz_send(struct ctx *c)
{
	struct ipcchan_send s;
	struct icall k = { .cmd = C_SEND };
	struct placed p;
	unsigned int usize;
	int bad = 0, szcls;

	memset(&s, 0, sizeof(s));
	s.flags = xfer_flags(c, &bad);
	if (chance(c, 15))
		s.flags |= IPCCHAN_SEND_IOV;
	if (chance(c, 4)) {
		s.flags |= unknown_bits(c, SEND_KNOWN);
		bad = 1;
	}
	if (s.flags & IPCCHAN_SEND_IOV) {
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
	if (chance(c, 4)) {
		s.slot = (unsigned int)rnd(c) | 1;	/* without SEND_SLOT */
		bad = 1;
	}
	reserved_garbage(c, (unsigned long long *)s.reserved, 2, 4, &bad);
	usize = pick_usize(c, sizeof(s), &szcls);
	place(c, &s, sizeof(s), usize, szcls, &p);
	k.fd = pick_ep_fd(c, &k.slot);
	k.ioc = ioc_resize(IPCCHAN_IOC_SEND, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = s.flags;
	k.a = s.len;
	k.b = s.buf;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, pad or reserved)");
	if (issue(c, &k) > 0)
		violation(c, "SEND returned %ld", k.ret);
}

/* RECV_SLOT is known but never set here: the fuzzed channels have no slots. */
#define RECV_KNOWN (XFER_KNOWN | IPCCHAN_RECV_PEEK | IPCCHAN_RECV_CREDS | \
		    IPCCHAN_RECV_SLOT)

static void check_recv_out(struct ctx *c, const struct ipcchan_recv *o,
			   unsigned long long flags, unsigned long long len_in,
			   long ret)
{
	if (ret >= 0 && ret < INT_MAX && o->len != (unsigned long long)ret)
		violation(c, "RECV returned %ld but len %llu", ret,
			  (unsigned long long)o->len);
	if (ret > 0 && (unsigned long long)ret > len_in)
		violation(c, "RECV returned %ld for a %llu-byte buffer", ret,
			  len_in);
	if (o->flags != flags || o->reserved || o->pad)
		violation(c, "RECV flags %#llx -> %#llx, reserved %#llx pad %u",
			  flags, (unsigned long long)o->flags,
			  (unsigned long long)o->reserved, o->pad);
	if (ret >= 0 && o->slot)
		violation(c, "RECV without RECV_SLOT: slot %u", o->slot);
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
	k.fd = pick_ep_fd(c, &k.slot);
	k.ioc = ioc_resize(IPCCHAN_IOC_RECV, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = r.flags;
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
	if (k.ret >= 0)
		check_recv_out(c, (struct ipcchan_recv *)p.rw, r.flags, r.len,
			       k.ret);
	else if (k.ret == -EMSGSIZE &&
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
	k.ioc = ioc_resize(recv ? IPCCHAN_IOC_RECV_BATCH :
				  IPCCHAN_IOC_SEND_BATCH, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = b.flags;
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
	k.ioc = ioc_resize(IPCCHAN_IOC_STATS, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = st.flags;
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
	k.ioc = ioc_resize(IPCCHAN_IOC_NOTIFY, usize);
	k.arg = p.arg;
	k.pk = p.pk;
	k.flags = n.flags;
	k.a = (unsigned int)n.signo;
	k.b = n.value;
	expect_struct(&k, &p, szcls);
	if (p.in_stable && bad)
		must(&k, EINVAL, " (flags, signo, pad or reserved)");
	if (issue(c, &k) > 0)
		violation(c, "NOTIFY returned %ld", k.ret);
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

/* Fresh endpoints in the pool: anonymous, duplex or named, made properly. */
static void x_new(struct ctx *c)
{
	unsigned int kind = rn(c, 4), name = rn(c, ARRAY_SIZE(valid_names));
	unsigned long long fl = rnd(c);
	int s0 = CTL_SLOTS + rn(c, NSLOTS - CTL_SLOTS);
	int s1 = CTL_SLOTS + rn(c, NSLOTS - CTL_SLOTS), fds[2], r;

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
		r = chan_create(priv_ctl, (fl & (IPCCHAN_FD_NONBLOCK |
						 IPCCHAN_FD_CLOEXEC)) |
				(kind ? IPCCHAN_CREATE_DUPLEX : 0),
				0, (fl & 0x100) ? 2 : 0, 0, fds);
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
		r = chan_open(priv_ctl, valid_names[name], of, 0600);
		if (r >= 0) {
			slot_put(s0, r, 0);
			r = 0;
		}
	}
	x_log(c, X_NEW, s0, -1, kind, name, r);
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

static void fuzz_ioctl(struct ctx *c)
{
	static const unsigned char w[NCMD] = { 5, 7, 9, 5, 15, 15, 8, 8, 6, 8, 8 };

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
	default: fuzz_unknown(c); break;
	}
}

static void one_step(struct ctx *c)
{
	unsigned int r = rn(c, 1000);

	if (r < 680)
		fuzz_ioctl(c);
	else if (r < 725)
		traffic(c);
	else if (r < 750)
		x_close(c);
	else if (r < 775)
		x_dup(c);
	else if (r < 795)
		x_dup2(c);
	else if (r < 855)
		x_new(c);
	else if (r < 860)
		x_fork(c);
	else if (r < 890)
		x_map(c);
	else if (r < 905)
		x_signal(c);
	else if (r < 925)
		x_fcntl(c);
	else if (r < 945)
		x_poll(c);
	else if (r < 975)
		x_epoll(c);
	else
		x_rw(c);
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

	/* Struct areas: one memfd, a read-write view and a read-only alias. */
	mem.per_thread = A_PAGES * page;
	mfd = memfd_create("ipcchan-fuzz", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, mem.per_thread * cfg.threads)) {
		dprintf(2, "# fuzz worker: memfd: %s\n", strerror(errno));
		_exit(3);
	}
	mem.arena = map_or_die(NULL, mem.per_thread * cfg.threads,
			       PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
	mem.arena_ro = map_or_die(NULL, mem.per_thread * cfg.threads,
				  PROT_READ, MAP_SHARED, mfd);
	close(mfd);
	for (t = 0; t < cfg.threads; t++) {
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

static void *fuzz_thread(void *arg)
{
	struct ctx *c = arg;

	c->rec->tid = sys_gettid();
	pthread_barrier_wait(&start_bar);
	run_steps(c, cfg.iters);
	__atomic_store_n(&c->rec->op_start, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void __attribute__((noreturn)) worker_main(int p)
{
	pthread_t th[MAX_THREADS], tk;
	int t;

	proc_idx = p;
	sh->worker[p] = getpid();
	setup_mem();
	priv_ctl = ctl_open();
	protect(priv_ctl);
	for (t = 0; t < cfg.threads; t++) {
		epfd[t] = epoll_create1(EPOLL_CLOEXEC);
		protect(epfd[t]);
	}
	if (priv_ctl < 0)
		_exit(4);
	pthread_barrier_init(&start_bar, NULL, cfg.threads);
	for (t = 0; t < cfg.threads; t++) {
		struct ctx *c = &ctxs[t];
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
	}
	for (t = 0; t < cfg.threads; t++)
		if (pthread_create(&th[t], NULL, fuzz_thread, &ctxs[t]))
			_exit(5);
	pthread_create(&tk, NULL, ticker, NULL);
	for (t = 0; t < cfg.threads; t++)
		pthread_join(th[t], NULL);
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
	for (i = 0; i < 22; i++)
		ASSERT_LE(0, slots[i]) TH_LOG("pool slot %d", i);
	slots[22] = 900;			/* closed (never opened) */
	slots[23] = -1;
	slots[24] = HUGE_FD;
	slots[25] = LARGE_FD;			/* unused (until a dup2) */
	/* 26, 27: -1 until the fuzzer puts something there */
}

static void unlink_all(int ctl)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(valid_names); i++)
		chan_unlink(ctl, valid_names[i]);
	for (i = 0; i < ARRAY_SIZE(odd_names); i++)
		chan_unlink(ctl, odd_names[i]);
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
	fflush(stdout);
}

/* Report threads stuck in one operation; returns how many. */
static int check_hangs(void)
{
	unsigned long long now = now_ns(CLOCK_MONOTONIC);
	char buf[320], st[1024];
	int p, t, n = 0;

	for (p = 0; p < cfg.procs; p++)
		for (t = 0; t < cfg.threads; t++) {
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
	printf("# seed=%llu iterations=%lu procs=%d threads=%d\n",
	       cfg.seed, cfg.iters, cfg.procs, cfg.threads);
	printf("# reproduce: IPCCHAN_FUZZ_SEED=%llu IPCCHAN_FUZZ_ITERS=%lu IPCCHAN_FUZZ_PROCS=%d IPCCHAN_FUZZ_THREADS=%d ./ipcchan_fuzz\n",
	       cfg.seed, cfg.iters, cfg.procs, cfg.threads);
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
	unsigned long long deadline, t0;
	struct ipcchan_query q;
	struct ipcchan_recv rv;
	pid_t pids[MAX_PROCS];
	int done[MAX_PROCS] = { 0 };
	int p, i, alive, status, kfd, kbad, fds[2], waited;
	char out[64], in[64];
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

	/* Nothing leaked: every fd is closed; the names go now. */
	unlink_all(self->ctl);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (waited = 0;; waited++) {
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		if ((q.nr_channels == self->base.nr_channels &&
		     q.user_channels == self->base.user_channels &&
		     q.user_bytes == self->base.user_bytes) ||
		    now_ns(CLOCK_MONOTONIC) - t0 > 5 * NSEC_PER_SEC)
			break;
		sleep_ms(20);
	}
	printf("# after: nr_channels %llu user_channels %llu user_bytes %llu (start: %llu %llu %llu)%s\n",
	       (unsigned long long)q.nr_channels,
	       (unsigned long long)q.user_channels,
	       (unsigned long long)q.user_bytes,
	       (unsigned long long)self->base.nr_channels,
	       (unsigned long long)self->base.user_channels,
	       (unsigned long long)self->base.user_bytes,
	       waited ? " (after waiting)" : "");
	if (q.nr_channels != self->base.nr_channels)
		print_proc_names();
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	EXPECT_EQ(self->base.user_channels, q.user_channels);
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);

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
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);

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
	printf("# seed=%llu iterations=%lu: %llu violation(s)\n", cfg.seed,
	       cfg.iters, sh->nviol);
	fflush(stdout);
	EXPECT_EQ(0, sh->nviol);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
