// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: processes killed at random points, close racing blocked callers
 * and epoll, every limit under concurrent load, and memory cgroup pressure.
 *
 * kill_workers: sender and receiver processes share two anonymous channels
 * and a named one (each worker opens its own endpoint of it); the test
 * SIGKILLs workers at random moments, aiming in turn at one blocked in
 * send, one blocked in receive, one in a batch and any, and starts a new
 * worker in each place. Survivors carry on. At the end every survivor must
 * stop by itself, and then: every message was received at most once and
 * intact (each carries its sender, sequence number, channel and a body
 * derived from them); every message a sender saw sent was received, or for
 * the named channel, dropped when its last receiver went; a message whose
 * sender was killed inside the send was received whole or not at all; per
 * channel sent == received + queued + dropped, and the receptions counted
 * here are the channel's; the killed workers' endpoints are gone from the
 * counts; and the query's counters are back at their starting values. A
 * receiver is killed possibly after the kernel handed it messages: it
 * receives into shared memory, so those count too. Holders of shared
 * slots and semaphore units are the kinds of kill_shm (s_kinds[]).
 *
 * kill_shm: the same game on a channel with a region of zero-copy slots
 * and semaphores (see its own comment below).
 *
 * close_races: close of the last peer endpoint while threads are blocked
 * in recv, send, epoll_wait and poll on the other end (end of channel,
 * -EPIPE, EPOLLHUP, EPOLLERR); close of the fd a thread is blocked on (the
 * call keeps the file: it goes on and completes, or it started after the
 * close and gets -EBADF, and the other side sees which); and epoll
 * instances, nested or shared with a process killed in epoll_wait, that
 * outlive both channels of a duplex pair (the CVE-2019-2215 class: run it
 * under KASAN). Repeated with random timing.
 *
 * limits_under_load: processes of two users push concurrently against a
 * channel's queue_msgs and queue_bytes, max_user_bytes (-ENOSPC),
 * max_user_channels (-EMFILE) and max_channels (-ENFILE), changed at run
 * time through /sys/module/ipcchan/parameters/; each limit is reached
 * exactly, never passed, the other user is unaffected, and everything
 * recovers when the limit is raised or the usage goes.
 *
 * memcg_pressure: a process in a memory cgroup with a small memory.max
 * sends until the cgroup is full: the send fails with -ENOMEM; no OOM kill
 * happens, neither of a process in the same cgroup with more memory nor of
 * one outside; and sending works again once it received or closed.
 *
 * Environment: IPCCHAN_STRESS_SEED (default: from the clock; printed by
 * every test with the command that reproduces its choices: the workers'
 * operations, sizes, victims and delays; the interleaving is the
 * scheduler's) and IPCCHAN_STRESS_SCALE (percent, default 100: the number
 * of kills and iterations).
 *
 * A loop around EXPECT/ASSERT_*() ... TH_LOG() takes braces: the TH_LOG is
 * a statement of its own in kselftest_harness.h (OPTIONAL_HANDLER), which
 * would otherwise run once, after the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

/* ---- configuration, PRNG, violations ------------------------------------ */

static struct {
	unsigned long long seed;
	unsigned int scale;
	int parsed;
} cfg;

static unsigned long long mix64(unsigned long long z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct rng {
	unsigned long long s;
};

static void rng_init(struct rng *r, unsigned long long stream)
{
	r->s = mix64(cfg.seed ^ mix64(stream + 0x51ed));
}

static unsigned long long rnd(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

/* 0 .. n - 1 */
static unsigned int rn(struct rng *r, unsigned int n)
{
	return n ? (unsigned int)(rnd(r) % n) : 0;
}

static int chance(struct rng *r, unsigned int pct)
{
	return rn(r, 100) < pct;
}

static unsigned long long str_hash(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void parse_cfg(void)
{
	const char *s;

	if (cfg.parsed)
		return;
	s = getenv("IPCCHAN_STRESS_SEED");
	if (s && *s)
		cfg.seed = strtoull(s, NULL, 0);
	else
		cfg.seed = mix64(now_ns(CLOCK_REALTIME) ^
				 ((unsigned long long)getpid() << 32)) %
			   1000000000000ULL;
	s = getenv("IPCCHAN_STRESS_SCALE");
	cfg.scale = s && *s ? (unsigned int)strtoul(s, NULL, 0) : 100;
	if (cfg.scale < 1)
		cfg.scale = 1;
	if (cfg.scale > 10000)
		cfg.scale = 10000;
	cfg.parsed = 1;
}

/* n at the configured scale, at least 1 */
static unsigned int scaled(unsigned int n)
{
	unsigned long long v = (unsigned long long)n * cfg.scale / 100;

	return v ? (unsigned int)v : 1;
}

/*
 * Violations found by any process of a test, in shared memory: helpers
 * cannot use the harness's assertions. The test prints them and fails.
 */
#define MAX_VIOL	40
#define VIOL_LEN	240

struct viol_log {
	unsigned int n;
	char msg[MAX_VIOL][VIOL_LEN];
};

static struct viol_log *vlog;

static void __attribute__((format(printf, 1, 2))) viol(const char *fmt, ...)
{
	unsigned int i = __atomic_fetch_add(&vlog->n, 1, __ATOMIC_SEQ_CST);
	va_list ap;

	if (i >= MAX_VIOL)
		return;
	va_start(ap, fmt);
	vsnprintf(vlog->msg[i], VIOL_LEN, fmt, ap);
	va_end(ap);
}

static unsigned int viol_report(void)
{
	unsigned int i, n = __atomic_load_n(&vlog->n, __ATOMIC_SEQ_CST);

	for (i = 0; i < n && i < MAX_VIOL; i++)
		printf("# VIOLATION %s\n", vlog->msg[i]);
	if (n > MAX_VIOL)
		printf("# ... and %u more\n", n - MAX_VIOL);
	fflush(stdout);
	return n;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *const limit_params[] = {
	"max_msg_size", "max_queue_msgs", "max_queue_bytes", "max_channels",
	"max_user_channels", "max_user_bytes",
};

#define NPARAMS	ARRAY_SIZE(limit_params)

/*
 * An unprivileged helper opens its control fd itself, after dropping
 * privileges, so that the fd carries its credentials. The guest's root
 * directory is mode 0700: drop_to() keeps /dev open for ctl_open_self().
 */
static int dev_dirfd = -1;

static int drop_to(uid_t uid, gid_t gid)
{
	dev_dirfd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_dirfd < 0)
		return -errno;
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

static int ctl_open_self(void)
{
	int fd = openat(dev_dirfd, IPCCHAN_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void *shared_zalloc(size_t size)
{
	void *p = shared_alloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Wait for pid at most ms milliseconds: its status as wait_child(), or -1. */
static int wait_child_ms(pid_t pid, unsigned int ms)
{
	__u64 end = now_ns(CLOCK_MONOTONIC) + ms * NSEC_PER_MSEC;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
						   128 + WTERMSIG(status);
		if (r < 0 || now_ns(CLOCK_MONOTONIC) > end)
			return -1;
		sleep_ms(2);
	}
}

/* Kill and reap a helper that should be gone already. */
static void reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Kernel log records since kmsg_open() with one of @pat, printed; counted. */
static int kmsg_grep(int fd, const char *const *pat, unsigned int npat)
{
	char buf[2048];
	unsigned int i;
	int found = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (i = 0; i < npat; i++)
			if (strstr(buf, pat[i]))
				break;
		if (i < npat && found++ < 20)
			printf("# kmsg: %s", buf);
	}
	return found;
}

static const char *const kmsg_bad[] = {
	"WARNING:", "BUG:", "Oops", "refcount_t", "general protection",
	"KASAN", "UBSAN", "possible circular locking", "inconsistent lock",
	"possible recursive locking", "blocked for more than",
	"list_add corruption", "list_del corruption", "Call Trace",
	"oom-killer", "Out of memory", "Killed process",
};

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(stress) {
	int ctl;
	int kfd;
	struct ipcchan_query base;
	struct param_save p[NPARAMS];
	struct rng rng;
	char name[128];
};

FIXTURE_SETUP(stress)
{
	unsigned int i;

	parse_cfg();
	printf("# seed=%llu scale=%u%%: IPCCHAN_STRESS_SEED=%llu IPCCHAN_STRESS_SCALE=%u ./ipcchan_stress -t %s\n",
	       cfg.seed, cfg.scale, cfg.seed, cfg.scale, _metadata->name);
	fflush(stdout);
	rng_init(&self->rng, str_hash(_metadata->name));
	signal(SIGPIPE, SIG_IGN);
	vlog = shared_zalloc(sizeof(*vlog));
	ASSERT_NE(NULL, vlog);
	snprintf(self->name, sizeof(self->name), "stress-%s-%d",
		 _metadata->name, getpid());
	for (i = 0; i < NPARAMS; i++) {
		ASSERT_EQ(0, param_save(&self->p[i], limit_params[i]));
	}
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &self->base));
	self->kfd = kmsg_open();
}

FIXTURE_TEARDOWN(stress)
{
	unsigned int i;
	int ctl = ctl_open();

	if (ctl >= 0) {
		chan_unlink(ctl, self->name);
		close(ctl);
	}
	for (i = 0; i < NPARAMS; i++) {
		struct param_save *p = &self->p[i];

		EXPECT_EQ(0, param_restore(p)) TH_LOG("restoring %s", p->name);
	}
	EXPECT_EQ(0, kmsg_grep(self->kfd, kmsg_bad, ARRAY_SIZE(kmsg_bad)))
		TH_LOG("the kernel logged problems during the test");
	if (self->kfd >= 0)
		close(self->kfd);
	close(self->ctl);
}

/* The query's usage counters are back where the test started. */
static void expect_baseline(struct __test_metadata *_metadata,
			    FIXTURE_DATA(stress) *self)
{
	struct ipcchan_query q;

	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	EXPECT_EQ(self->base.user_channels, q.user_channels);
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);
}

/* ---- kill_workers --------------------------------------------------------- */

#define K_NCHAN		3	/* 0, 1: anonymous; 2: named */
#define K_SLOTS		6
#define K_MAX_IDS	256	/* sender ids: the parent, then one per worker */
#define K_MAX_SEQ	8192	/* messages per sender id */
#define K_BATCH		16
#define K_MSG_MAX	512
#define K_LOG		(1 << 16)	/* receptions logged per receiver slot */
#define K_MAGIC		0x4b494c4cU
#define K_PARENT	0
#define K_RECEIVING	(1ULL << 63)
#define K_HANG_MS	60000	/* survivors must stop within this */

static const __u32 k_msg_size[K_NCHAN] = { 512, 256, 512 };
static const __u32 k_queue_msgs[K_NCHAN] = { 8, 32, 8 };
static const __u64 k_queue_bytes[K_NCHAN] = { 0, 1024, 0 };

/* The head of every message; the body after it derives from the head. */
struct k_hdr {
	__u32 magic;
	__u16 sender;
	__u16 chan;
	__u32 seq;
	__u32 len;		/* of the whole message */
	__u64 check;
};

enum k_op { K_OP_IDLE, K_OP_OPEN, K_OP_SEND, K_OP_SEND_BATCH, K_OP_RECV,
	    K_OP_RECV_BATCH };

/* One sender id: what it has sent, and the channel of every message. */
struct k_sender {
	/*
	 * next_seq << 32 | n: seqs below next_seq were sent; the n after it
	 * are being sent now (a kill leaves them undecided). One store.
	 */
	__u64 state;
	__u8 chan_of[K_MAX_SEQ];
};

struct k_slot {
	pid_t pid;
	__u32 gen;		/* workers started in this slot */
	__u32 id;		/* senders: the current sender id */
	__u32 op, op_chan;	/* what the worker is doing */
	__u64 op_flags;
	__u64 ops;		/* calls done, by every worker of the slot */
	/*
	 * receivers: log position; while a receive may have put messages
	 * in buf[] that are not logged yet, also K_RECEIVING, the call's
	 * channel (bits 48..55) and message count (bits 32..47). One store.
	 */
	__u64 pub;
	__u32 log[K_LOG];	/* sender id << 16 | seq */
	struct ipcchan_msghdr hdr[K_BATCH];
	unsigned char buf[K_BATCH][K_MSG_MAX];
};

struct k_shared {
	int stop;
	struct k_slot slot[K_SLOTS];
	struct k_sender snd[K_MAX_IDS];
};

struct k_ctx {
	struct k_shared *sh;
	int ctl;
	int rx[K_NCHAN], tx[K_NCHAN];	/* the parent's endpoints */
	const char *name;
};

static __u64 k_check(const struct k_hdr *h)
{
	return mix64(((__u64)h->sender << 48) ^ ((__u64)h->chan << 40) ^
		     ((__u64)h->seq << 8) ^ mix64(h->len ^ K_MAGIC));
}

static void k_fill(unsigned char *buf, unsigned int sender, unsigned int chan,
		   unsigned int seq, unsigned int len)
{
	struct k_hdr h = {
		.magic = K_MAGIC, .sender = sender, .chan = chan, .seq = seq,
		.len = len,
	};
	unsigned int i;

	h.check = k_check(&h);
	memcpy(buf, &h, sizeof(h));
	for (i = sizeof(h); i < len; i += 8) {
		__u64 v = mix64(((__u64)sender << 48) ^ ((__u64)seq << 16) ^ i);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* NULL if buf holds an intact message of n bytes sent to chan; else why. */
static const char *k_verify(const unsigned char *buf, __u64 n,
			    unsigned int chan, struct k_hdr *out)
{
	unsigned char want[K_MSG_MAX];
	struct k_hdr h;

	if (n < sizeof(h) || n > K_MSG_MAX)
		return "bad length";
	memcpy(&h, buf, sizeof(h));
	if (h.magic != K_MAGIC || h.check != k_check(&h))
		return "bad header";
	if (h.len != n)
		return "length differs from the header's";
	if (h.chan != chan)
		return "received on another channel";
	if (h.sender >= K_MAX_IDS || h.seq >= K_MAX_SEQ)
		return "sender or sequence out of range";
	k_fill(want, h.sender, h.chan, h.seq, h.len);
	if (memcmp(want, buf, n))
		return "body corrupted";
	*out = h;
	return NULL;
}

static void k_set_op(struct k_slot *s, enum k_op op, unsigned int ch)
{
	s->op_chan = ch;
	__atomic_store_n(&s->op, op, __ATOMIC_SEQ_CST);
}

/*
 * Slots whose workers may sleep without a timeout. The others never do:
 * with them, senders asleep on full channels and receivers asleep on empty
 * ones cannot be all the workers, so the workload itself never deadlocks
 * and workers that stop getting anything done mean a wedged kernel.
 */
static const int k_slot_untimed[K_SLOTS] = { 1, 1, 0, 1, 1, 0 };

/* A blocking mode: nonblocking, timed (1..20 ms) or, maybe, untimed. */
static __u64 k_mode(struct rng *r, unsigned int slot, __u64 *timeout_ns)
{
	unsigned int m = rn(r, 10);

	*timeout_ns = 0;
	if (m < 2)
		return IPCCHAN_NONBLOCK;
	if (m < 6 || !k_slot_untimed[slot]) {
		*timeout_ns = (1 + rn(r, 20)) * NSEC_PER_MSEC;
		return IPCCHAN_TIMEOUT;
	}
	return 0;
}

static int k_open_named(struct k_ctx *kc, struct k_slot *s, __u64 dir)
{
	int fd;

	k_set_op(s, K_OP_OPEN, 2);
	fd = chan_open(kc->ctl, kc->name, dir | IPCCHAN_FD_CLOEXEC, 0);
	k_set_op(s, K_OP_IDLE, 0);
	if (fd < 0)
		viol("worker %d: open of the named channel: %d", getpid(), fd);
	return fd;
}

static void k_sender_main(struct k_ctx *kc, unsigned int slot)
{
	static unsigned char bufs[K_BATCH][K_MSG_MAX];
	struct k_shared *sh = kc->sh;
	struct k_slot *s = &sh->slot[slot];
	struct k_sender *me = &sh->snd[s->id];
	struct ipcchan_msghdr h[K_BATCH];
	int fd[K_NCHAN];
	struct rng r;

	rng_init(&r, 1000 + s->id);
	memset(bufs, 0, sizeof(bufs));
	fd[0] = kc->tx[0];
	fd[1] = kc->tx[1];
	fd[2] = k_open_named(kc, s, IPCCHAN_OPEN_SEND);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		unsigned int ch = rn(&r, 10), n, i, k = 0, len = 0, seq;
		__u64 flags, tmo;
		long ret;

		ch = ch < 4 ? 0 : ch < 7 ? 1 : 2;
		n = chance(&r, 35) ? 2 + rn(&r, K_BATCH - 1) : 1;
		flags = k_mode(&r, slot, &tmo);
		seq = (unsigned int)(me->state >> 32);
		if (fd[ch] < 0 || seq + n > K_MAX_SEQ) {
			sleep_ms(1);
			continue;
		}
		for (i = 0; i < n; i++) {
			len = sizeof(struct k_hdr) +
			      rn(&r, k_msg_size[ch] - sizeof(struct k_hdr) + 1);
			k_fill(bufs[i], s->id, ch, seq + i, len);
			h[i] = (struct ipcchan_msghdr){
				.buf = ptr64(bufs[i]), .len = len,
				.prio = rn(&r, 4) };
			me->chan_of[seq + i] = ch;
		}
		__atomic_store_n(&me->state, (__u64)seq << 32 | n,
				 __ATOMIC_SEQ_CST);
		s->op_flags = flags;
		k_set_op(s, n == 1 ? K_OP_SEND : K_OP_SEND_BATCH, ch);
		if (n == 1) {
			ret = chan_send_t(fd[ch], bufs[0], len, h[0].prio,
					  flags, tmo);
			k = ret == 0;
		} else {
			ret = chan_batch(fd[ch], IPCCHAN_IOC_SEND_BATCH, h, n,
					 flags, tmo, NULL);
			k = ret > 0 ? (unsigned int)ret : 0;
			if (ret > (long)n)
				viol("sender %u: batch of %u sent %ld", s->id,
				     n, ret);
		}
		__atomic_store_n(&me->state, (__u64)(seq + k) << 32,
				 __ATOMIC_SEQ_CST);
		k_set_op(s, K_OP_IDLE, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
		if (ret < 0 && ret != -EAGAIN && ret != -ETIMEDOUT)
			viol("sender %u: send on channel %u: %ld", s->id, ch,
			     ret);
	}
}

/*
 * Log what a receive put in buf[] (count messages from channel ch), and
 * publish the new position with one store. Returns how many were intact.
 */
static unsigned int k_log_received(struct k_slot *s, unsigned int pos,
				   unsigned int count, unsigned int ch,
				   const __u64 *lens, int parent)
{
	unsigned int i, good = 0;
	struct k_hdr h;

	for (i = 0; i < count && pos + good < K_LOG; i++) {
		const char *why = k_verify(s->buf[i], lens[i], ch, &h);

		if (why) {
			/*
			 * Not even from a killed receiver: its copy cannot
			 * have faulted, every page of buf[] is present.
			 */
			viol("%s: message %u of %u on channel %u: %s",
			     parent ? "recovered from a killed receiver" :
				      "receiver", i, count, ch, why);
			continue;
		}
		s->log[pos + good++] = (__u32)h.sender << 16 | h.seq;
	}
	__atomic_store_n(&s->pub, pos + good, __ATOMIC_SEQ_CST);
	return good;
}

static void k_receiver_main(struct k_ctx *kc, unsigned int slot)
{
	struct k_shared *sh = kc->sh;
	struct k_slot *s = &sh->slot[slot];
	__u64 lens[K_BATCH];
	int fd[K_NCHAN];
	struct rng r;

	rng_init(&r, 500000 + slot * 1000 + s->gen);
	/* Every page of the buffers present: a copy into them cannot fault. */
	memset(s->buf, 0, sizeof(s->buf));
	memset(s->hdr, 0, sizeof(s->hdr));
	fd[0] = kc->rx[0];
	fd[1] = kc->rx[1];
	fd[2] = k_open_named(kc, s, IPCCHAN_OPEN_RECV);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		unsigned int ch = rn(&r, 3), n, i, got = 0;
		unsigned int pos = (unsigned int)s->pub;
		struct ipcchan_recv rv;
		__u64 flags, tmo;
		long ret;

		n = chance(&r, 35) ? 2 + rn(&r, K_BATCH - 1) : 1;
		flags = k_mode(&r, slot, &tmo);
		if (fd[ch] < 0 || pos + K_BATCH > K_LOG) {
			sleep_ms(1);
			continue;
		}
		for (i = 0; i < n; i++) {
			((struct k_hdr *)s->buf[i])->magic = 0;
			s->hdr[i] = (struct ipcchan_msghdr){
				.buf = ptr64(s->buf[i]), .len = K_MSG_MAX };
		}
		__atomic_store_n(&s->pub, K_RECEIVING | (__u64)ch << 48 |
				 (__u64)n << 32 | pos, __ATOMIC_SEQ_CST);
		s->op_flags = flags;
		k_set_op(s, n == 1 ? K_OP_RECV : K_OP_RECV_BATCH, ch);
		if (n == 1) {
			ret = chan_recv_t(fd[ch], s->buf[0], K_MSG_MAX, flags,
					  tmo, &rv);
			if (ret == 0 && rv.seq == 0)
				viol("receiver %d: end of channel %u", getpid(),
				     ch);
			if (ret >= 0 && rv.seq) {
				got = 1;
				lens[0] = rv.len;
			}
		} else {
			ret = chan_batch(fd[ch], IPCCHAN_IOC_RECV_BATCH, s->hdr,
					 n, flags, tmo, NULL);
			if (ret == 0)
				viol("receiver %d: end of channel %u", getpid(),
				     ch);
			got = ret > 0 ? (unsigned int)ret : 0;
			for (i = 0; i < got; i++)
				lens[i] = s->hdr[i].len;
		}
		k_set_op(s, K_OP_IDLE, 0);
		k_log_received(s, pos, got, ch, lens, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
		if (ret < 0 && ret != -EAGAIN && ret != -ETIMEDOUT)
			viol("receiver %d: receive on channel %u: %ld",
			     getpid(), ch, ret);
	}
}

/*
 * A receiver was killed: if it was inside a receive, what the kernel gave
 * it is in buf[] (the head of each message says how long it is). Returns
 * the number of messages recovered.
 */
static unsigned int k_recover(struct k_slot *s)
{
	__u64 pub = __atomic_load_n(&s->pub, __ATOMIC_SEQ_CST);
	unsigned int n = (pub >> 32) & 0xffff, ch = (pub >> 48) & 0xff, i;
	__u64 lens[K_BATCH];
	struct k_hdr h;

	if (!(pub & K_RECEIVING))
		return 0;
	for (i = 0; i < n; i++) {
		memcpy(&h, s->buf[i], sizeof(h));
		if (h.magic != K_MAGIC)
			break;
		lens[i] = h.len <= K_MSG_MAX ? h.len : 0;
	}
	return k_log_received(s, (unsigned int)pub, i, ch, lens, 1);
}

/*
 * The kinds of worker, and what the test does for one it killed. A kind
 * that holds something (a shared slot, semaphore units) adds its ops for
 * the killer to aim at, and its own reconciliation at the end.
 */
enum k_kind_id { K_SENDER, K_RECEIVER };

struct k_kind {
	void (*main)(struct k_ctx *kc, unsigned int slot);
	unsigned int (*killed)(struct k_slot *s);	/* or NULL */
	int sends;		/* takes a new sender id at each start */
};

static const struct k_kind k_kinds[] = {
	[K_SENDER] = { .main = k_sender_main, .sends = 1 },
	[K_RECEIVER] = { .main = k_receiver_main, .killed = k_recover },
};

static const enum k_kind_id k_slot_kind[K_SLOTS] = {
	K_SENDER, K_SENDER, K_SENDER, K_RECEIVER, K_RECEIVER, K_RECEIVER,
};

static pid_t k_spawn(struct k_ctx *kc, unsigned int slot, __u32 *next_id)
{
	const struct k_kind *kind = &k_kinds[k_slot_kind[slot]];
	struct k_slot *s = &kc->sh->slot[slot];
	pid_t pid;

	if (kind->sends) {
		if (*next_id >= K_MAX_IDS)
			return -ENOSPC;
		s->id = (*next_id)++;
	}
	s->op = K_OP_IDLE;
	s->gen++;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		kind->main(kc, slot);
		_exit(0);
	}
	s->pid = pid;
	return pid;
}

enum { AIM_SEND, AIM_RECV, AIM_BATCH, AIM_ANY, NAIM };
static const char *const aim_names[NAIM] = {
	"blocked in send", "blocked in receive", "in a batch", "anywhere",
};

/* Does slot s look like the aim (its op, and sleepers on its channel)? */
static int k_matches(struct k_ctx *kc, struct k_slot *s, int aim,
		     struct ipcchan_stats *st)
{
	unsigned int op = __atomic_load_n(&s->op, __ATOMIC_SEQ_CST);
	unsigned int ch = s->op_chan;

	switch (aim) {
	case AIM_SEND:
		if (op != K_OP_SEND && op != K_OP_SEND_BATCH)
			return 0;
		return !chan_stats(kc->rx[ch], 0, st) && st->waiting_senders;
	case AIM_RECV:
		if (op != K_OP_RECV && op != K_OP_RECV_BATCH)
			return 0;
		return !chan_stats(kc->rx[ch], 0, st) && st->waiting_receivers;
	case AIM_BATCH:
		return op == K_OP_SEND_BATCH || op == K_OP_RECV_BATCH;
	}
	return 1;
}

static __u64 k_ops(struct k_shared *sh)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < K_SLOTS; i++)
		n += __atomic_load_n(&sh->slot[i].ops, __ATOMIC_SEQ_CST);
	return n;
}

/* Where every worker and channel is: for a test that fails. */
static void k_dump(struct k_ctx *kc)
{
	struct ipcchan_stats st;
	unsigned int i;

	for (i = 0; i < K_SLOTS; i++)
		printf("# slot %u: pid %d op %u channel %u flags %#llx calls %llu\n",
		       i, kc->sh->slot[i].pid, kc->sh->slot[i].op,
		       kc->sh->slot[i].op_chan,
		       (unsigned long long)kc->sh->slot[i].op_flags,
		       (unsigned long long)kc->sh->slot[i].ops);
	for (i = 0; i < K_NCHAN; i++)
		if (!chan_stats(kc->rx[i], 0, &st))
			printf("# channel %u: queued %llu (%llu bytes), sleeping senders %u, receivers %u\n",
			       i, (unsigned long long)st.queued_msgs,
			       (unsigned long long)st.queued_bytes,
			       st.waiting_senders, st.waiting_receivers);
}

/* The parent's own sends and receives, logged like a worker's. */
#define K_PARENT_LOG	(K_MAX_SEQ * 8)

struct k_parent_log {
	unsigned int n;
	__u32 *ent;
	__u8 *chan;
};

static void k_parent_send(struct k_ctx *kc, unsigned int ch)
{
	struct k_sender *me = &kc->sh->snd[K_PARENT];
	unsigned int seq = (unsigned int)(me->state >> 32);
	unsigned char buf[K_MSG_MAX];
	unsigned int len = sizeof(struct k_hdr) + 8;
	int ret;

	if (seq >= K_MAX_SEQ)
		return;
	k_fill(buf, K_PARENT, ch, seq, len);
	me->chan_of[seq] = ch;
	ret = chan_send(kc->tx[ch], buf, len, 0, IPCCHAN_NONBLOCK);
	if (ret == 0)
		me->state = (__u64)(seq + 1) << 32;
	else if (ret != -EAGAIN)
		viol("parent: send on channel %u: %d", ch, ret);
}

/* Receive what is queued on ch, nonblocking; returns the count. */
static unsigned int k_parent_drain(struct k_ctx *kc, unsigned int ch,
				   struct k_parent_log *pl)
{
	unsigned char buf[K_MSG_MAX];
	struct ipcchan_recv rv;
	unsigned int n = 0;
	const char *why;
	struct k_hdr h;
	long ret;

	while (pl->n < K_PARENT_LOG) {
		ret = chan_recv(kc->rx[ch], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				&rv);
		if (ret == -EAGAIN)
			break;
		if (ret < 0 || !rv.seq) {
			viol("parent: receive on channel %u: %ld (seq %llu)",
			     ch, ret, (unsigned long long)rv.seq);
			break;
		}
		why = k_verify(buf, rv.len, ch, &h);
		if (why) {
			viol("parent: message on channel %u: %s", ch, why);
			continue;
		}
		pl->ent[pl->n] = (__u32)h.sender << 16 | h.seq;
		pl->chan[pl->n++] = ch;
		n++;
	}
	return n;
}

TEST_F_TIMEOUT(stress, kill_workers, 240)
{
	unsigned int kills = scaled(120), k, slot, i, ch, aimed[NAIM] = { 0 };
	unsigned int hit_blocked_send = 0, hit_blocked_recv = 0, hit_batch = 0;
	unsigned int hit_untimed = 0;
	unsigned int recovered = 0, amb_total = 0, amb_received = 0;
	unsigned long long conf[K_NCHAN] = { 0 }, amb[K_NCHAN] = { 0 };
	unsigned long long amb_recv[K_NCHAN] = { 0 }, counted[K_NCHAN] = { 0 };
	unsigned long long missing[K_NCHAN] = { 0 }, dup = 0, phantom = 0;
	struct ipcchan_stats st[K_NCHAN], s2;
	struct k_parent_log pl = { 0 };
	struct k_ctx kc = { 0 };
	__u64 t0, tstop, queued2, dropped_before, ops;
	__u32 next_id = K_PARENT + 1;
	int fds[2], alive, r;
	__u8 *seen[K_MAX_IDS];

	kc.sh = shared_zalloc(sizeof(*kc.sh));
	ASSERT_NE(NULL, kc.sh);
	kc.ctl = self->ctl;
	kc.name = self->name;
	pl.ent = calloc(K_PARENT_LOG, sizeof(*pl.ent));
	pl.chan = calloc(K_PARENT_LOG, 1);
	ASSERT_NE(NULL, pl.ent);
	ASSERT_NE(NULL, pl.chan);
	for (ch = 0; ch < 2; ch++) {
		ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC,
					 k_msg_size[ch], k_queue_msgs[ch],
					 k_queue_bytes[ch], fds));
		kc.rx[ch] = fds[0];
		kc.tx[ch] = fds[1];
	}
	kc.rx[2] = chan_open_attr(self->ctl, self->name, IPCCHAN_OPEN_CREATE |
				  IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_RECV |
				  IPCCHAN_FD_CLOEXEC, 0600, k_msg_size[2],
				  k_queue_msgs[2], 0, NULL);
	ASSERT_GE(kc.rx[2], 0);
	kc.tx[2] = chan_open(self->ctl, self->name, IPCCHAN_OPEN_SEND |
			     IPCCHAN_FD_CLOEXEC, 0);
	ASSERT_GE(kc.tx[2], 0);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (slot = 0; slot < K_SLOTS; slot++) {
		ASSERT_LT(0, k_spawn(&kc, slot, &next_id));
	}

	/* The killer. */
	for (k = 0; k < kills; k++) {
		int aim = k % NAIM, tries;
		struct k_slot *s = NULL;
		unsigned int op;

		sleep_ms(2 + rn(&self->rng, 25));
		for (tries = 0; tries < 30 && !s; tries++) {
			unsigned int first = rn(&self->rng, K_SLOTS);

			for (i = 0; i < K_SLOTS && !s; i++) {
				struct k_slot *c = &kc.sh->slot[(first + i) %
								K_SLOTS];

				if (k_matches(&kc, c, aim, &s2))
					s = c;
			}
			if (!s)
				sleep_ms(1);
		}
		if (!s)
			s = &kc.sh->slot[rn(&self->rng, K_SLOTS)];
		slot = s - kc.sh->slot;
		op = __atomic_load_n(&s->op, __ATOMIC_SEQ_CST);
		if (k_matches(&kc, s, AIM_SEND, &s2))
			hit_blocked_send++;
		else if (k_matches(&kc, s, AIM_RECV, &s2))
			hit_blocked_recv++;
		else
			op = K_OP_IDLE;
		/* Asleep without a timeout: -ERESTARTSYS, not -EINTR. */
		if (op != K_OP_IDLE && op != K_OP_OPEN &&
		    !(s->op_flags & (IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT)))
			hit_untimed++;
		op = __atomic_load_n(&s->op, __ATOMIC_SEQ_CST);
		if (op == K_OP_SEND_BATCH || op == K_OP_RECV_BATCH)
			hit_batch++;
		aimed[aim]++;
		ASSERT_EQ(0, kill(s->pid, SIGKILL));
		r = wait_child(s->pid);
		EXPECT_EQ(128 + SIGKILL, r) TH_LOG("worker in slot %u", slot);
		if (k_kinds[k_slot_kind[slot]].killed)
			recovered += k_kinds[k_slot_kind[slot]].killed(s);
		if (k_spawn(&kc, slot, &next_id) < 0) {
			s->pid = 0;
			TH_LOG("out of sender ids after %u kills", k + 1);
			break;
		}
	}

	/* After all the kills, the survivors still get work done. */
	ops = k_ops(kc.sh);
	for (i = 0; i < 2000 && k_ops(kc.sh) < ops + 2 * K_SLOTS; i++)
		sleep_ms(5);
	printf("# %llu calls done by the workers; %llu in the %u ms after the last kill\n",
	       k_ops(kc.sh), k_ops(kc.sh) - ops, i * 5);
	EXPECT_LE(ops + 2 * K_SLOTS, k_ops(kc.sh));
	if (k_ops(kc.sh) < ops + 2 * K_SLOTS)
		k_dump(&kc);

	/*
	 * Survivors stop by themselves: the parent takes what is queued and
	 * sends to channels with sleeping receivers so that none waits
	 * forever.
	 */
	__atomic_store_n(&kc.sh->stop, 1, __ATOMIC_SEQ_CST);
	tstop = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		for (slot = 0, alive = 0; slot < K_SLOTS; slot++) {
			struct k_slot *s = &kc.sh->slot[slot];

			if (s->pid <= 0)
				continue;
			r = wait_child_ms(s->pid, 0);
			if (r < 0) {
				alive++;
				continue;
			}
			EXPECT_EQ(0, r) TH_LOG("worker in slot %u", slot);
			s->pid = 0;
		}
		if (!alive)
			break;
		if (now_ns(CLOCK_MONOTONIC) - tstop >
		    (__u64)K_HANG_MS * NSEC_PER_MSEC) {
			k_dump(&kc);
			for (slot = 0; slot < K_SLOTS; slot++) {
				struct k_slot *s = &kc.sh->slot[slot];

				if (s->pid <= 0)
					continue;
				viol("worker in slot %u (pid %d) hangs in op %u on channel %u",
				     slot, s->pid, s->op, s->op_chan);
				reap(s->pid);
				s->pid = 0;
			}
			break;
		}
		for (ch = 0; ch < K_NCHAN; ch++) {
			k_parent_drain(&kc, ch, &pl);
			if (!chan_stats(kc.rx[ch], 0, &s2) &&
			    s2.waiting_receivers)
				k_parent_send(&kc, ch);
		}
		sleep_ms(2);
	}
	printf("# %u kills in %.1f s; aimed at: %s %u, %s %u, %s %u, %s %u\n",
	       kills, (now_ns(CLOCK_MONOTONIC) - t0) / 1e9,
	       aim_names[0], aimed[0], aim_names[1], aimed[1],
	       aim_names[2], aimed[2], aim_names[3], aimed[3]);
	printf("# killed while blocked in send %u, in receive %u, asleep without a timeout %u, in a batch %u; %u messages recovered from killed receivers\n",
	       hit_blocked_send, hit_blocked_recv, hit_untimed, hit_batch,
	       recovered);
	/* The aim is real: each kind of victim was hit. */
	EXPECT_LT(0, hit_blocked_send);
	EXPECT_LT(0, hit_blocked_recv);
	EXPECT_LT(0, hit_untimed);
	EXPECT_LT(0, hit_batch);

	/* Every worker is gone: only the parent's endpoints are counted. */
	for (ch = 0; ch < K_NCHAN; ch++) {
		k_parent_drain(&kc, ch, &pl);
		ASSERT_EQ(0, chan_stats(kc.rx[ch], 0, &st[ch]));
		EXPECT_EQ(1, st[ch].senders) TH_LOG("channel %u", ch);
		EXPECT_EQ(1, st[ch].receivers) TH_LOG("channel %u", ch);
		EXPECT_EQ(0, st[ch].waiting_senders) TH_LOG("channel %u", ch);
		EXPECT_EQ(0, st[ch].waiting_receivers) TH_LOG("channel %u", ch);
		EXPECT_LE(st[ch].peak_msgs, k_queue_msgs[ch]);
	}

	/*
	 * The named channel ends with messages queued: once unlinked, the
	 * close of its last receiver drops them, and they are counted.
	 */
	for (i = 0; i < 3; i++)
		k_parent_send(&kc, 2);
	ASSERT_EQ(0, chan_stats(kc.rx[2], 0, &s2));
	queued2 = s2.queued_msgs;
	dropped_before = s2.dropped;
	EXPECT_LT(0, queued2);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	close(kc.rx[2]);
	ASSERT_EQ(0, chan_stats(kc.tx[2], IPCCHAN_STATS_TX, &st[2]));
	EXPECT_EQ(0, dropped_before);
	EXPECT_EQ(queued2, st[2].dropped);
	EXPECT_EQ(0, st[2].queued_msgs);
	EXPECT_EQ(0, st[2].receivers);
	for (ch = 0; ch < 2; ch++) {
		ASSERT_EQ(0, chan_stats(kc.rx[ch], 0, &st[ch]));
	}

	/* Reconcile: who sent what, who received what, what the kernel says. */
	for (i = 0; i < K_MAX_IDS; i++)
		seen[i] = calloc(K_MAX_SEQ, 1);
	for (slot = 0; slot < K_SLOTS; slot++) {
		struct k_slot *s = &kc.sh->slot[slot];
		unsigned int n = (unsigned int)s->pub;

		if (k_slot_kind[slot] != K_RECEIVER)
			continue;
		for (i = 0; i < n; i++) {
			__u32 e = s->log[i];

			if (seen[e >> 16] && seen[e >> 16][e & 0xffff] < 255)
				seen[e >> 16][e & 0xffff]++;
		}
	}
	for (i = 0; i < pl.n; i++) {
		__u32 e = pl.ent[i];

		if (seen[e >> 16][e & 0xffff] < 255)
			seen[e >> 16][e & 0xffff]++;
	}
	for (i = 0; i < next_id; i++) {
		__u64 state = kc.sh->snd[i].state;
		unsigned int sent = state >> 32, fly = state & 0xffffffff;
		unsigned int q;

		for (q = 0; q < K_MAX_SEQ; q++) {
			unsigned int c = kc.sh->snd[i].chan_of[q];

			if (seen[i][q] > 1)
				dup++;
			if (q < sent) {
				conf[c]++;
				if (!seen[i][q])
					missing[c]++;
			} else if (q < sent + fly) {
				amb[c]++;
				amb_total++;
				if (seen[i][q]) {
					amb_recv[c]++;
					amb_received++;
				}
			} else if (seen[i][q]) {
				phantom++;
			}
			if (seen[i][q] && c < K_NCHAN)
				counted[c] += seen[i][q];
		}
	}
	printf("# %u sender ids, %u messages undecided at a kill, %u of them received\n",
	       next_id, amb_total, amb_received);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, phantom);
	for (ch = 0; ch < K_NCHAN; ch++) {
		printf("# channel %u: sent %llu received %llu queued %llu dropped %llu peak %llu; sent here %llu (+%llu undecided, %llu of them received)\n",
		       ch, (unsigned long long)st[ch].sent,
		       (unsigned long long)st[ch].received,
		       (unsigned long long)st[ch].queued_msgs,
		       (unsigned long long)st[ch].dropped,
		       (unsigned long long)st[ch].peak_msgs, conf[ch], amb[ch],
		       amb_recv[ch]);
		EXPECT_EQ(st[ch].sent, st[ch].received + st[ch].queued_msgs +
				       st[ch].dropped) TH_LOG("channel %u", ch);
		EXPECT_EQ(counted[ch], st[ch].received) TH_LOG("channel %u", ch);
		EXPECT_LE(conf[ch] + amb_recv[ch], st[ch].sent)
			TH_LOG("channel %u", ch);
		EXPECT_GE(conf[ch] + amb[ch], st[ch].sent)
			TH_LOG("channel %u", ch);
		EXPECT_LT(0, st[ch].received) TH_LOG("channel %u", ch);
		if (ch < 2) {
			EXPECT_EQ(0, missing[ch]) TH_LOG("channel %u", ch);
			EXPECT_EQ(0, st[ch].queued_msgs);
			EXPECT_EQ(0, st[ch].dropped);
		} else {
			/* Dropped: what was sent and never received. */
			EXPECT_LE(missing[ch], st[ch].dropped);
			EXPECT_GE(missing[ch] + amb[ch] - amb_recv[ch],
				  st[ch].dropped);
		}
	}
	for (i = 0; i < K_MAX_IDS; i++)
		free(seen[i]);
	free(pl.ent);
	free(pl.chan);
	for (ch = 0; ch < K_NCHAN; ch++) {
		if (ch < 2)
			close(kc.rx[ch]);
		close(kc.tx[ch]);
	}
	expect_baseline(_metadata, self);
	EXPECT_EQ(0, viol_report());
	munmap(kc.sh, sizeof(*kc.sh));
}

/* ---- kill_shm ------------------------------------------------------------- */

/*
 * kill_shm: the kill_workers game on a named channel with a region of
 * zero-copy slots and two semaphores. Each worker opens its own endpoint
 * in the child (slots and undo belong to the open file), so its death is
 * the release of that file. The kinds (s_kinds[]): slot senders (loan,
 * write in place, send the slot; sometimes release unsent, or send a copy),
 * slot receivers (RECV_SLOT, read in place, hold a moment, release; or by
 * copy), a hoarder that loans every free slot and then sleeps in a loan on
 * the exhausted pool, and lockers that take semaphore 0 with
 * IPCCHAN_SEM_UNDO as a lock around a counter in the region (past the last
 * slot) and semaphore 1 (S_TOKENS units) as a pool of tokens, with UNDO.
 * The killer aims at a sender asleep in SLOT_LOAN, a worker holding slots,
 * a lock holder, one asleep in SEM WAIT, one asleep in send or receive,
 * and any. Afterwards: REGION_INFO always adds up; once every worker is
 * gone every slot is free and slots_reclaimed grew by at least what the
 * killed workers were seen to hold; the lock is back at 1 and the tokens
 * at S_TOKENS (undo); the counter lost no increment and gained at most one
 * per holder killed inside; every message was received at most once,
 * intact, every confirmed one received (or taken by a receiver killed with
 * the slot in hand before it logged it: counted, and the kernel's received
 * count must match); survivors stop by themselves; QUERY's
 * user_region_bytes is back at its start once the endpoints are closed,
 * while the parent still maps the region.
 */
#define S_WORKERS	7
#define S_CHAN		3	/* the channel number in message heads */
#define S_SLOT_SIZE	960	/* 17 slots in 4 pages, 64 bytes left over */
#define S_QUEUE_MSGS	8
#define S_TOKENS	2
#define S_HANG_MS	20000
#define S_PARENT_LOG	4096

enum s_op { S_IDLE, S_OPEN, S_LOAN, S_SEND, S_RECV, S_HOLD, S_LOCK, S_CS,
	    S_TOKEN };

/* Past the last slot: the counter semaphore 0 protects. */
struct s_counter {
	__u64 count;
	__s32 owner;		/* pid of the holder, 0 when free */
	__u32 pad;
};

struct s_worker {
	pid_t pid;
	__u32 gen;
	__u32 id;		/* senders: the current sender id */
	__u32 op;
	__u64 op_flags;
	__u64 ops;
	__u32 held;		/* slots it holds (a lower bound: raised
				 * after a loan or RECV_SLOT, lowered before
				 * a send or release) */
	__u32 in_cs;		/* lockers: inside, maybe counted */
	__u64 done;		/* lockers: increments done, every gen */
	__u64 pub;		/* receivers: as k_slot.pub; bit 40: RECV_SLOT */
	struct ipcchan_recv rv;	/* receivers: what the kernel wrote back */
	__u32 log[K_LOG];
	unsigned char buf[K_MSG_MAX];
};

#define S_MAX_KILLS	1024

struct s_shared {
	int stop;
	unsigned int nkilled;
	pid_t killed[S_MAX_KILLS];	/* appended to before each kill */
	struct s_worker w[S_WORKERS];
	struct k_sender snd[K_MAX_IDS];
};

struct s_ctx {
	struct s_shared *sh;
	int ctl;
	int fd;			/* the parent's endpoint (send and receive) */
	const char *name;
	struct ipcchan_region rg;	/* the parent's mapping */
	size_t cnt_off;		/* of the counter */
};

/* Worker slots that may sleep without a timeout (see k_slot_untimed). */
static const int s_untimed[S_WORKERS] = { 1, 0, 1, 0, 0, 1, 0 };

static __u64 s_mode(struct rng *r, unsigned int w, __u64 *timeout_ns)
{
	unsigned int m = rn(r, 10);

	*timeout_ns = 0;
	if (m < 2)
		return IPCCHAN_NONBLOCK;
	if (m < 6 || !s_untimed[w]) {
		*timeout_ns = (1 + rn(r, 20)) * NSEC_PER_MSEC;
		return IPCCHAN_TIMEOUT;
	}
	return 0;
}

static void s_set_op(struct s_worker *s, enum s_op op, __u64 flags)
{
	s->op_flags = flags;
	__atomic_store_n(&s->op, op, __ATOMIC_SEQ_CST);
}

/* The worker's own endpoint of the named channel, and its mapping. */
static int s_open(struct s_ctx *sc, struct s_worker *s, __u64 dir,
		  struct ipcchan_region *rg)
{
	int fd, ret;

	s_set_op(s, S_OPEN, 0);
	fd = chan_open(sc->ctl, sc->name, dir | IPCCHAN_FD_CLOEXEC, 0);
	if (fd < 0) {
		viol("worker %d: open of the named channel: %d", getpid(), fd);
		_exit(2);
	}
	ret = ipcchan_map(fd, 0, rg);
	if (ret) {
		viol("worker %d: map: %d", getpid(), ret);
		_exit(2);
	}
	/* The parent's endpoint is shared with it: never use it here. */
	close(sc->fd);
	s_set_op(s, S_IDLE, 0);
	return fd;
}

static void s_sender_main(struct s_ctx *sc, unsigned int w)
{
	struct s_shared *sh = sc->sh;
	struct s_worker *s = &sh->w[w];
	struct k_sender *me = &sh->snd[s->id];
	unsigned char copy[K_MSG_MAX];
	struct ipcchan_region rg;
	struct rng r;
	int fd;

	rng_init(&r, 2000 + s->id);
	fd = s_open(sc, s, IPCCHAN_OPEN_SEND, &rg);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		unsigned int seq = (unsigned int)(me->state >> 32), len;
		unsigned int prio = rn(&r, 4), kind = rn(&r, 10);
		__u64 flags, tmo;
		int slot, ret;

		len = sizeof(struct k_hdr) +
		      rn(&r, K_MSG_MAX - sizeof(struct k_hdr) + 1);
		if (seq >= K_MAX_SEQ) {
			sleep_ms(1);
			continue;
		}
		me->chan_of[seq] = S_CHAN;
		if (kind == 0) {
			/* An ordinary message, by copy, on the same channel. */
			k_fill(copy, s->id, S_CHAN, seq, len);
			flags = s_mode(&r, w, &tmo);
			__atomic_store_n(&me->state, (__u64)seq << 32 | 1,
					 __ATOMIC_SEQ_CST);
			s_set_op(s, S_SEND, flags);
			ret = chan_send_t(fd, copy, len, prio, flags, tmo);
			__atomic_store_n(&me->state,
					 (__u64)(seq + !ret) << 32,
					 __ATOMIC_SEQ_CST);
			goto next;
		}
		flags = s_mode(&r, w, &tmo);
		s_set_op(s, S_LOAN, flags);
		slot = ipcchan_slot_loan(fd, flags, tmo);
		if (slot < 0) {
			ret = slot;
			goto next;
		}
		__atomic_store_n(&s->held, 1, __ATOMIC_SEQ_CST);
		s_set_op(s, S_HOLD, 0);
		if ((unsigned int)slot >= rg.nr_slots) {
			viol("sender %u: loaned slot %d of %u", s->id, slot,
			     rg.nr_slots);
			_exit(2);
		}
		k_fill(ipcchan_slot_ptr(&rg, slot), s->id, S_CHAN, seq, len);
		if (kind == 1) {
			/* Changed its mind: back to the pool unsent. */
			__atomic_store_n(&s->held, 0, __ATOMIC_SEQ_CST);
			ret = ipcchan_slot_release(fd, slot);
			if (ret)
				viol("sender %u: release of slot %d: %d",
				     s->id, slot, ret);
			goto next;
		}
		flags = s_mode(&r, w, &tmo);
		__atomic_store_n(&me->state, (__u64)seq << 32 | 1,
				 __ATOMIC_SEQ_CST);
		/* held is a lower bound: it drops before the slot goes. */
		__atomic_store_n(&s->held, 0, __ATOMIC_SEQ_CST);
		s_set_op(s, S_SEND, flags);
		ret = ipcchan_slot_send(fd, slot, len, prio, flags, tmo);
		__atomic_store_n(&me->state, (__u64)(seq + !ret) << 32,
				 __ATOMIC_SEQ_CST);
		if (ret) {
			/* A failed send leaves the slot with the sender. */
			int r2 = ipcchan_slot_release(fd, slot);

			if (r2)
				viol("sender %u: release after a failed send (%d): %d",
				     s->id, ret, r2);
		}
next:
		s_set_op(s, S_IDLE, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
		if (ret < 0 && ret != -EAGAIN && ret != -ETIMEDOUT)
			viol("sender %u: %d", s->id, ret);
	}
}

/* Log message buf (n bytes) at the receiver's position; 1 if intact. */
static int s_log(struct s_worker *s, unsigned int pos, const void *buf,
		 __u64 n, const char *who)
{
	const char *why;
	struct k_hdr h;

	why = k_verify(buf, n, S_CHAN, &h);
	if (why) {
		viol("%s: %s", who, why);
		return 0;
	}
	s->log[pos] = (__u32)h.sender << 16 | h.seq;
	return 1;
}

static void s_receiver_main(struct s_ctx *sc, unsigned int w)
{
	struct s_shared *sh = sc->sh;
	struct s_worker *s = &sh->w[w];
	struct ipcchan_region rg;
	struct rng r;
	int fd;

	rng_init(&r, 700000 + w * 1000 + s->gen);
	memset(s->buf, 0, sizeof(s->buf));
	fd = s_open(sc, s, IPCCHAN_OPEN_RECV, &rg);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		unsigned int pos = (unsigned int)s->pub, good = 0;
		int use_slot = chance(&r, 70);
		__u64 flags, tmo;
		long ret;

		if (pos + 1 >= K_LOG) {
			sleep_ms(1);
			continue;
		}
		flags = s_mode(&r, w, &tmo);
		((struct k_hdr *)s->buf)->magic = 0;
		memset(&s->rv, 0, sizeof(s->rv));
		s->rv.flags = flags | (use_slot ? IPCCHAN_RECV_SLOT : 0);
		s->rv.buf = ptr64(s->buf);
		s->rv.len = K_MSG_MAX;
		s->rv.timeout_ns = tmo;
		__atomic_store_n(&s->pub, K_RECEIVING | (__u64)use_slot << 40 |
				 pos, __ATOMIC_SEQ_CST);
		s_set_op(s, S_RECV, flags);
		ret = chan_ioctl(fd, IPCCHAN_IOC_RECV, &s->rv);
		if (ret >= 0 && !s->rv.seq) {
			viol("receiver %d: end of channel", getpid());
		} else if (ret >= 0 && use_slot &&
			   s->rv.slot != IPCCHAN_SLOT_NONE) {
			__u32 slot = s->rv.slot;

			__atomic_store_n(&s->held, 1, __ATOMIC_SEQ_CST);
			s_set_op(s, S_HOLD, 0);
			if (slot >= rg.nr_slots) {
				viol("receiver %d: slot %u of %u", getpid(),
				     slot, rg.nr_slots);
				_exit(2);
			}
			good = s_log(s, pos, ipcchan_slot_ptr(&rg, slot),
				     (__u64)ret, "receiver, in place");
			__atomic_store_n(&s->pub, pos + good,
					 __ATOMIC_SEQ_CST);
			if (chance(&r, 20))
				sleep_ms(1 + rn(&r, 3));
			__atomic_store_n(&s->held, 0, __ATOMIC_SEQ_CST);
			ret = ipcchan_slot_release(fd, slot);
			if (ret)
				viol("receiver %d: release of slot %u: %ld",
				     getpid(), slot, ret);
		} else if (ret >= 0) {
			good = s_log(s, pos, s->buf, (__u64)ret,
				     "receiver, by copy");
			__atomic_store_n(&s->pub, pos + good,
					 __ATOMIC_SEQ_CST);
		} else {
			__atomic_store_n(&s->pub, pos, __ATOMIC_SEQ_CST);
			if (ret != -EAGAIN && ret != -ETIMEDOUT)
				viol("receiver %d: %ld", getpid(), ret);
		}
		s_set_op(s, S_IDLE, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * A receiver killed inside or just after a receive: a message the kernel
 * gave it (seq written back) and it did not log is recovered from its
 * buffer if copied; one taken with its slot is counted in *lost (the slot
 * went back to the pool with the process, its bytes are gone).
 */
static unsigned int s_recover(struct s_worker *s, unsigned int *lost)
{
	__u64 pub = __atomic_load_n(&s->pub, __ATOMIC_SEQ_CST);
	unsigned int pos = (unsigned int)pub;

	if (!(pub & K_RECEIVING) || !s->rv.seq)
		return 0;
	if ((pub >> 40 & 1) && s->rv.slot != IPCCHAN_SLOT_NONE) {
		(*lost)++;
		__atomic_store_n(&s->pub, pos, __ATOMIC_SEQ_CST);
		return 0;
	}
	pos += s_log(s, pos, s->buf, s->rv.len,
		     "recovered from a killed receiver");
	__atomic_store_n(&s->pub, pos, __ATOMIC_SEQ_CST);
	return 1;
}

/* Loans every free slot, then sleeps in a loan on the exhausted pool. */
static void s_hoarder_main(struct s_ctx *sc, unsigned int w)
{
	struct s_shared *sh = sc->sh;
	struct s_worker *s = &sh->w[w];
	struct ipcchan_region rg;
	__u32 held[64];
	unsigned int n = 0, i;
	struct rng r;
	int fd, slot;

	rng_init(&r, 900000 + s->gen);
	fd = s_open(sc, s, IPCCHAN_OPEN_SEND, &rg);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		__u64 tmo = (5 + rn(&r, 25)) * NSEC_PER_MSEC;

		s_set_op(s, S_LOAN, IPCCHAN_NONBLOCK);
		while (n < ARRAY_SIZE(held) &&
		       (slot = ipcchan_slot_loan(fd, IPCCHAN_NONBLOCK, 0)) >= 0) {
			held[n++] = slot;
			__atomic_store_n(&s->held, n, __ATOMIC_SEQ_CST);
		}
		/* The pool is empty (or nearly): sleep in a loan. */
		s_set_op(s, S_LOAN, IPCCHAN_TIMEOUT);
		slot = ipcchan_slot_loan(fd, IPCCHAN_TIMEOUT, tmo);
		if (slot >= 0 && n < ARRAY_SIZE(held)) {
			held[n++] = slot;
			__atomic_store_n(&s->held, n, __ATOMIC_SEQ_CST);
		} else if (slot < 0 && slot != -ETIMEDOUT) {
			viol("hoarder: loan: %d", slot);
		}
		s_set_op(s, S_HOLD, 0);
		sleep_ms(rn(&r, 4));
		for (i = n; i-- > 0;) {
			int ret;

			__atomic_store_n(&s->held, i, __ATOMIC_SEQ_CST);
			ret = ipcchan_slot_release(fd, held[i]);
			if (ret)
				viol("hoarder: release of slot %u: %d",
				     held[i], ret);
		}
		n = 0;
		s_set_op(s, S_IDLE, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
		/* Let the senders the releases woke take their slots. */
		sleep_ms(1 + rn(&r, 3));
	}
	close(fd);
}

/* A lock holder the test killed leaves its pid as the owner. */
static int s_was_killed(struct s_shared *sh, pid_t pid)
{
	unsigned int i, n = __atomic_load_n(&sh->nkilled, __ATOMIC_SEQ_CST);

	for (i = 0; i < n && i < S_MAX_KILLS; i++)
		if (sh->killed[i] == pid)
			return 1;
	return 0;
}

/* Semaphore 0 as a lock (UNDO) around the counter; 1 as a token pool. */
static void s_locker_main(struct s_ctx *sc, unsigned int w)
{
	struct s_shared *sh = sc->sh;
	struct s_worker *s = &sh->w[w];
	struct ipcchan_region rg;
	volatile struct s_counter *c;
	struct timespec ts;
	struct rng r;
	int fd, ret;

	rng_init(&r, 800000 + w * 1000 + s->gen);
	fd = s_open(sc, s, IPCCHAN_OPEN_SEND, &rg);
	c = (volatile struct s_counter *)((char *)rg.addr + sc->cnt_off);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		unsigned int sem = chance(&r, 70) ? 0 : 1;
		__u64 flags, tmo;
		__u64 v;

		flags = s_mode(&r, w, &tmo);
		s_set_op(s, sem ? S_TOKEN : S_LOCK, flags);
		if (flags & IPCCHAN_NONBLOCK) {
			ret = ipcchan_sem_trywait(fd, sem, IPCCHAN_SEM_UNDO);
		} else if (flags & IPCCHAN_TIMEOUT) {
			__u64 t = now_ns(CLOCK_MONOTONIC) + tmo;

			ts.tv_sec = t / NSEC_PER_SEC;
			ts.tv_nsec = t % NSEC_PER_SEC;
			ret = ipcchan_sem_timedwait(fd, sem, IPCCHAN_SEM_UNDO,
						    &ts);
		} else {
			ret = ipcchan_sem_wait(fd, sem, IPCCHAN_SEM_UNDO);
		}
		if (ret) {
			if (ret != -EAGAIN && ret != -ETIMEDOUT)
				viol("locker %d: wait on %u: %d", getpid(),
				     sem, ret);
			goto next;
		}
		if (sem == 1) {
			/* A token: hold it a moment. */
			s_set_op(s, S_HOLD, 0);
			sleep_ms(rn(&r, 3));
		} else {
			__atomic_store_n(&s->in_cs, 1, __ATOMIC_SEQ_CST);
			s_set_op(s, S_CS, 0);
			if (c->owner && !s_was_killed(sh, c->owner))
				viol("locker %d: lock taken while %d holds it",
				     getpid(), c->owner);
			c->owner = getpid();
			v = c->count;
			if (chance(&r, 30))
				sleep_ms(1 + rn(&r, 2));
			else
				sched_yield();
			c->count = v + 1;
			__atomic_fetch_add(&s->done, 1, __ATOMIC_SEQ_CST);
			if (c->owner != getpid())
				viol("locker %d: %d entered the lock too",
				     getpid(), c->owner);
			c->owner = 0;
			__atomic_store_n(&s->in_cs, 0, __ATOMIC_SEQ_CST);
		}
		ret = ipcchan_sem_post(fd, sem, 1, IPCCHAN_SEM_UNDO);
		if (ret)
			viol("locker %d: post on %u: %d", getpid(), sem, ret);
next:
		s_set_op(s, S_IDLE, 0);
		__atomic_fetch_add(&s->ops, 1, __ATOMIC_SEQ_CST);
	}
}

enum s_kind_id { S_SLOT_SENDER, S_SLOT_RECEIVER, S_HOARDER, S_LOCKER };

struct s_kind {
	void (*main)(struct s_ctx *sc, unsigned int w);
	int sends;		/* takes a new sender id at each start */
};

static const struct s_kind s_kinds[] = {
	[S_SLOT_SENDER] = { .main = s_sender_main, .sends = 1 },
	[S_SLOT_RECEIVER] = { .main = s_receiver_main },
	[S_HOARDER] = { .main = s_hoarder_main },
	[S_LOCKER] = { .main = s_locker_main },
};

static const enum s_kind_id s_worker_kind[S_WORKERS] = {
	S_SLOT_SENDER, S_SLOT_SENDER, S_SLOT_RECEIVER, S_SLOT_RECEIVER,
	S_HOARDER, S_LOCKER, S_LOCKER,
};

static pid_t s_spawn(struct s_ctx *sc, unsigned int w, __u32 *next_id)
{
	const struct s_kind *kind = &s_kinds[s_worker_kind[w]];
	struct s_worker *s = &sc->sh->w[w];
	pid_t pid;

	if (kind->sends) {
		if (*next_id >= K_MAX_IDS)
			return -ENOSPC;
		s->id = (*next_id)++;
	}
	s->op = S_IDLE;
	s->held = 0;
	s->in_cs = 0;
	s->gen++;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		alarm(S_HANG_MS / 1000 * 6);
		kind->main(sc, w);
		_exit(0);
	}
	s->pid = pid;
	return pid;
}

/* Is pid asleep (state S or D in /proc/pid/stat)? */
static int s_asleep(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && (p[2] == 'S' || p[2] == 'D');
}

enum { S_AIM_LOAN, S_AIM_HOLD, S_AIM_LOCK, S_AIM_SEMWAIT, S_AIM_MSG,
       S_AIM_ANY, S_NAIM };
static const char *const s_aim_names[S_NAIM] = {
	"asleep in SLOT_LOAN", "holding slots", "holding the lock",
	"asleep in SEM WAIT", "asleep in send or receive", "anywhere",
};

static int s_matches(struct s_worker *s, int aim)
{
	unsigned int op = __atomic_load_n(&s->op, __ATOMIC_SEQ_CST);

	switch (aim) {
	case S_AIM_LOAN:
		return op == S_LOAN && s->op_flags != IPCCHAN_NONBLOCK &&
		       s_asleep(s->pid);
	case S_AIM_HOLD:
		return __atomic_load_n(&s->held, __ATOMIC_SEQ_CST) > 0;
	case S_AIM_LOCK:
		return op == S_CS;
	case S_AIM_SEMWAIT:
		return (op == S_LOCK || op == S_TOKEN) &&
		       s->op_flags != IPCCHAN_NONBLOCK && s_asleep(s->pid);
	case S_AIM_MSG:
		return (op == S_SEND || op == S_RECV) &&
		       s->op_flags != IPCCHAN_NONBLOCK && s_asleep(s->pid);
	}
	return 1;
}

static __u64 s_ops(struct s_shared *sh)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < S_WORKERS; i++)
		n += __atomic_load_n(&sh->w[i].ops, __ATOMIC_SEQ_CST);
	return n;
}

static void s_dump(struct s_ctx *sc)
{
	struct ipcchan_region_info ri;
	struct ipcchan_stats st;
	unsigned int i;

	for (i = 0; i < S_WORKERS; i++)
		printf("# worker %u: pid %d op %u flags %#llx held %u calls %llu\n",
		       i, sc->sh->w[i].pid, sc->sh->w[i].op,
		       (unsigned long long)sc->sh->w[i].op_flags,
		       sc->sh->w[i].held,
		       (unsigned long long)sc->sh->w[i].ops);
	if (!chan_stats(sc->fd, 0, &st))
		printf("# channel: queued %llu, sleeping senders %u, receivers %u\n",
		       (unsigned long long)st.queued_msgs,
		       st.waiting_senders, st.waiting_receivers);
	if (!ipcchan_region_info(sc->fd, &ri))
		printf("# slots: free %llu held %llu in flight %llu; sems %d %d\n",
		       (unsigned long long)ri.slots_free,
		       (unsigned long long)ri.slots_held,
		       (unsigned long long)ri.slots_in_flight,
		       ipcchan_sem_getvalue(sc->fd, 0),
		       ipcchan_sem_getvalue(sc->fd, 1));
}

/* Receive by copy whatever is queued (slot messages free their slot). */
static void s_parent_drain(struct s_ctx *sc, struct k_parent_log *pl)
{
	unsigned char buf[K_MSG_MAX];
	struct ipcchan_recv rv;
	const char *why;
	struct k_hdr h;
	long ret;

	while (pl->n < S_PARENT_LOG) {
		ret = chan_recv(sc->fd, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				&rv);
		if (ret == -EAGAIN)
			break;
		if (ret < 0 || !rv.seq) {
			viol("parent: receive: %ld (seq %llu)", ret,
			     (unsigned long long)rv.seq);
			break;
		}
		why = k_verify(buf, rv.len, S_CHAN, &h);
		if (why) {
			viol("parent: message: %s", why);
			continue;
		}
		pl->ent[pl->n++] = (__u32)h.sender << 16 | h.seq;
	}
}

static void s_parent_send(struct s_ctx *sc)
{
	struct k_sender *me = &sc->sh->snd[K_PARENT];
	unsigned int seq = (unsigned int)(me->state >> 32);
	unsigned char buf[K_MSG_MAX];
	unsigned int len = sizeof(struct k_hdr) + 8;
	int ret;

	if (seq >= K_MAX_SEQ)
		return;
	k_fill(buf, K_PARENT, S_CHAN, seq, len);
	me->chan_of[seq] = S_CHAN;
	ret = chan_send(sc->fd, buf, len, 0, IPCCHAN_NONBLOCK);
	if (ret == 0)
		me->state = (__u64)(seq + 1) << 32;
	else if (ret != -EAGAIN)
		viol("parent: send: %d", ret);
}

/* REGION_INFO adds up (slots_held is what the others leave). */
static void s_expect_info(struct __test_metadata *_metadata, int fd,
			  struct ipcchan_region_info *ri)
{
	ASSERT_EQ(0, ipcchan_region_info(fd, ri));
	EXPECT_EQ(ri->nr_slots, ri->slots_free + ri->slots_held +
				ri->slots_in_flight);
	EXPECT_GE(ri->nr_slots, ri->slots_free);
	EXPECT_GE(ri->nr_slots, ri->slots_held);
	EXPECT_GE(ri->nr_slots, ri->slots_in_flight);
}

TEST_F_TIMEOUT(stress, kill_shm, 240)
{
	unsigned int kills = scaled(48), k, w, i, aimed[S_NAIM] = { 0 };
	unsigned int hit[S_NAIM] = { 0 }, recovered = 0, lost = 0;
	unsigned long long conf = 0, amb = 0, amb_recv = 0, counted = 0;
	unsigned long long missing = 0, dup = 0, phantom = 0;
	unsigned long long held_at_kill = 0, cs_at_kill = 0, done = 0;
	struct ipcchan_attr attr = {
		.msg_size_max = K_MSG_MAX, .queue_msgs = S_QUEUE_MSGS,
	};
	struct ipcchan_region_info ri0, ri;
	struct k_parent_log pl = { 0 };
	struct ipcchan_query q;
	struct s_ctx sc = { 0 };
	struct ipcchan_stats st;
	__u32 next_id = K_PARENT + 1;
	volatile struct s_counter *cnt;
	__u64 t0, tstop, ops;
	long page = sysconf(_SC_PAGESIZE);
	char name[160];
	int alive, r;
	__u8 *seen[K_MAX_IDS];

	attr.region_size = 4 * page;
	attr.slot_size = S_SLOT_SIZE;
	attr.nr_sems = 2;
	snprintf(name, sizeof(name), "%s-shm", self->name);
	sc.sh = shared_zalloc(sizeof(*sc.sh));
	ASSERT_NE(NULL, sc.sh);
	sc.ctl = self->ctl;
	sc.name = name;
	pl.ent = calloc(S_PARENT_LOG, sizeof(*pl.ent));
	ASSERT_NE(NULL, pl.ent);
	sc.fd = ipcchan_open(self->ctl, name, IPCCHAN_OPEN_CREATE |
			     IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND |
			     IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC, 0600,
			     &attr);
	ASSERT_LE(0, sc.fd);
	ASSERT_EQ(0, ipcchan_map(sc.fd, 0, &sc.rg));
	sc.cnt_off = (size_t)sc.rg.nr_slots * sc.rg.slot_size;
	ASSERT_LE(sc.cnt_off + sizeof(struct s_counter), sc.rg.size);
	cnt = (volatile struct s_counter *)((char *)sc.rg.addr + sc.cnt_off);
	s_expect_info(_metadata, sc.fd, &ri0);
	ASSERT_EQ(ri0.nr_slots, ri0.slots_free);
	ASSERT_EQ(0, ipcchan_sem_post(sc.fd, 0, 1, 0));
	ASSERT_EQ(0, ipcchan_sem_post(sc.fd, 1, S_TOKENS, 0));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.user_region_bytes + attr.region_size,
		  q.user_region_bytes);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (w = 0; w < S_WORKERS; w++) {
		ASSERT_LT(0, s_spawn(&sc, w, &next_id));
	}

	for (k = 0; k < kills; k++) {
		int aim = k % S_NAIM, tries;
		struct s_worker *s = NULL;

		sleep_ms(2 + rn(&self->rng, 15));
		for (tries = 0; tries < 60 && !s; tries++) {
			unsigned int first = rn(&self->rng, S_WORKERS);

			for (i = 0; i < S_WORKERS && !s; i++) {
				struct s_worker *c =
					&sc.sh->w[(first + i) % S_WORKERS];

				if (s_matches(c, aim))
					s = c;
			}
			if (!s)
				sleep_ms(1);
		}
		if (!s)
			s = &sc.sh->w[rn(&self->rng, S_WORKERS)];
		w = s - sc.sh->w;
		aimed[aim]++;
		for (i = 0; i < S_NAIM - 1; i++)
			if (s_matches(s, i))
				hit[i]++;
		ASSERT_GT(S_MAX_KILLS, sc.sh->nkilled);
		sc.sh->killed[sc.sh->nkilled] = s->pid;
		__atomic_fetch_add(&sc.sh->nkilled, 1, __ATOMIC_SEQ_CST);
		ASSERT_EQ(0, kill(s->pid, SIGKILL));
		r = wait_child(s->pid);
		EXPECT_EQ(128 + SIGKILL, r) TH_LOG("worker %u", w);
		held_at_kill += __atomic_load_n(&s->held, __ATOMIC_SEQ_CST);
		if (s_worker_kind[w] == S_LOCKER)
			cs_at_kill += __atomic_load_n(&s->in_cs,
						      __ATOMIC_SEQ_CST);
		if (s_worker_kind[w] == S_SLOT_RECEIVER)
			recovered += s_recover(s, &lost);
		s_expect_info(_metadata, sc.fd, &ri);
		if (s_spawn(&sc, w, &next_id) < 0) {
			s->pid = 0;
			TH_LOG("out of sender ids after %u kills", k + 1);
			break;
		}
	}

	ops = s_ops(sc.sh);
	for (i = 0; i < 2000 && s_ops(sc.sh) < ops + 2 * S_WORKERS; i++)
		sleep_ms(5);
	EXPECT_LE(ops + 2 * S_WORKERS, s_ops(sc.sh));
	if (s_ops(sc.sh) < ops + 2 * S_WORKERS)
		s_dump(&sc);

	__atomic_store_n(&sc.sh->stop, 1, __ATOMIC_SEQ_CST);
	tstop = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		for (w = 0, alive = 0; w < S_WORKERS; w++) {
			struct s_worker *s = &sc.sh->w[w];

			if (s->pid <= 0)
				continue;
			r = wait_child_ms(s->pid, 0);
			if (r < 0) {
				alive++;
				continue;
			}
			EXPECT_EQ(0, r) TH_LOG("worker %u", w);
			s->pid = 0;
		}
		if (!alive)
			break;
		if (now_ns(CLOCK_MONOTONIC) - tstop >
		    (__u64)S_HANG_MS * NSEC_PER_MSEC) {
			s_dump(&sc);
			for (w = 0; w < S_WORKERS; w++) {
				struct s_worker *s = &sc.sh->w[w];

				if (s->pid <= 0)
					continue;
				viol("worker %u (pid %d) hangs in op %u", w,
				     s->pid, s->op);
				reap(s->pid);
				s->pid = 0;
			}
			break;
		}
		s_parent_drain(&sc, &pl);
		if (!chan_stats(sc.fd, 0, &st) && st.waiting_receivers)
			s_parent_send(&sc);
		sleep_ms(2);
	}
	s_parent_drain(&sc, &pl);
	printf("# %u kills in %.1f s; aimed at / hit: %s %u/%u, %s %u/%u, %s %u/%u, %s %u/%u, %s %u/%u, %s %u\n",
	       kills, (now_ns(CLOCK_MONOTONIC) - t0) / 1e9,
	       s_aim_names[0], aimed[0], hit[0], s_aim_names[1], aimed[1],
	       hit[1], s_aim_names[2], aimed[2], hit[2], s_aim_names[3],
	       aimed[3], hit[3], s_aim_names[4], aimed[4], hit[4],
	       s_aim_names[5], aimed[5]);
	EXPECT_LT(0, hit[S_AIM_LOAN]);
	EXPECT_LT(0, hit[S_AIM_HOLD]);
	EXPECT_LT(0, hit[S_AIM_LOCK]);
	EXPECT_LT(0, hit[S_AIM_SEMWAIT]);

	/* Slots: all back, the killed holders' ones reclaimed. */
	s_expect_info(_metadata, sc.fd, &ri);
	printf("# slots: %llu loans, %llu reclaimed; held by killed workers at least %llu\n",
	       (unsigned long long)(ri.loans - ri0.loans),
	       (unsigned long long)(ri.slots_reclaimed - ri0.slots_reclaimed),
	       held_at_kill);
	EXPECT_EQ(ri.nr_slots, ri.slots_free);
	EXPECT_EQ(0, ri.slots_held);
	EXPECT_EQ(0, ri.slots_in_flight);
	EXPECT_EQ(0, ri.slots_held_here);
	EXPECT_LT(0, held_at_kill);
	EXPECT_LE(ri0.slots_reclaimed + held_at_kill, ri.slots_reclaimed);

	/* Semaphores: undo gave back what the killed took. */
	EXPECT_EQ(1, ipcchan_sem_getvalue(sc.fd, 0));
	EXPECT_EQ(S_TOKENS, ipcchan_sem_getvalue(sc.fd, 1));
	for (w = 0; w < S_WORKERS; w++)
		done += sc.sh->w[w].done;
	printf("# counter %llu: %llu increments done, %llu holders killed inside\n",
	       (unsigned long long)cnt->count, done, cs_at_kill);
	EXPECT_LE(done, cnt->count);
	EXPECT_GE(done + cs_at_kill, cnt->count);
	EXPECT_LT(0, done);

	/* Messages: at most once, intact, confirmed ones received. */
	ASSERT_EQ(0, chan_stats(sc.fd, 0, &st));
	EXPECT_EQ(1, st.senders);
	EXPECT_EQ(1, st.receivers);
	EXPECT_EQ(0, st.waiting_senders);
	EXPECT_EQ(0, st.waiting_receivers);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.dropped);
	EXPECT_LE(st.peak_msgs, S_QUEUE_MSGS);
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	for (i = 0; i < K_MAX_IDS; i++)
		seen[i] = calloc(K_MAX_SEQ, 1);
	for (w = 0; w < S_WORKERS; w++) {
		struct s_worker *s = &sc.sh->w[w];
		unsigned int n = (unsigned int)s->pub;

		if (s_worker_kind[w] != S_SLOT_RECEIVER)
			continue;
		for (i = 0; i < n; i++) {
			__u32 e = s->log[i];

			if (seen[e >> 16] && seen[e >> 16][e & 0xffff] < 255)
				seen[e >> 16][e & 0xffff]++;
		}
	}
	for (i = 0; i < pl.n; i++) {
		__u32 e = pl.ent[i];

		if (seen[e >> 16][e & 0xffff] < 255)
			seen[e >> 16][e & 0xffff]++;
	}
	for (i = 0; i < next_id; i++) {
		__u64 state = sc.sh->snd[i].state;
		unsigned int sent = state >> 32, fly = state & 0xffffffff;
		unsigned int qn;

		for (qn = 0; qn < K_MAX_SEQ; qn++) {
			if (seen[i][qn] > 1)
				dup++;
			if (qn < sent) {
				conf++;
				if (!seen[i][qn])
					missing++;
			} else if (qn < sent + fly) {
				amb++;
				amb_recv += !!seen[i][qn];
			} else if (seen[i][qn]) {
				phantom++;
			}
			counted += seen[i][qn];
		}
	}
	printf("# sent %llu received %llu; confirmed %llu (+%llu undecided, %llu of them received); %u recovered from killed receivers, %u taken in a slot by one\n",
	       (unsigned long long)st.sent, (unsigned long long)st.received,
	       conf, amb, amb_recv, recovered, lost);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, phantom);
	EXPECT_LE(missing, lost);
	EXPECT_EQ(counted + lost, st.received);
	EXPECT_LE(conf + amb_recv, st.sent);
	EXPECT_GE(conf + amb, st.sent);
	EXPECT_LT(0, st.received);
	for (i = 0; i < K_MAX_IDS; i++)
		free(seen[i]);
	free(pl.ent);

	/* The region's charge goes with its last endpoint, not its pages. */
	close(sc.fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.user_region_bytes, q.user_region_bytes);
	EXPECT_LE(done, cnt->count);
	EXPECT_EQ(0, ipcchan_unmap(&sc.rg));
	expect_baseline(_metadata, self);
	EXPECT_EQ(0, viol_report());
	munmap(sc.sh, sizeof(*sc.sh));
}

/* ---- close_races ---------------------------------------------------------- */

#define CR_JOIN_MS	60000	/* a waiter not back by then hangs */
#define CR_WAIT_MS	30000
#define CR_NESTED_TAG	(1ULL << 8)
#define CR_STOP_TAG	(1ULL << 9)	/* an eventfd that ends a wait */

enum cr_kind { CR_RECV_ALL, CR_RECV_ONE, CR_SEND, CR_EPOLL, CR_POLL };

struct cr_waiter {
	pthread_t t;
	enum cr_kind kind;
	int fd;			/* the endpoint, or the epoll fd */
	__u32 want;		/* CR_EPOLL, CR_POLL: stop at any of these */
	long ret;		/* last result */
	int nmsgs;		/* CR_RECV_*: messages received */
	int bad;		/* CR_RECV_ALL: out of order or corrupt */
	__u32 seen;		/* CR_EPOLL, CR_POLL: events seen */
	__u64 tags;		/* CR_EPOLL: data of the events seen, ORed */
	int started;
};

static void *cr_thread(void *arg)
{
	struct cr_waiter *w = arg;
	struct ipcchan_recv rv;
	char buf[64], want[16];
	long r;
	int i;

	__atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
	switch (w->kind) {
	case CR_RECV_ALL:
		for (;;) {
			memset(buf, 0, sizeof(buf));
			r = chan_recv(w->fd, buf, sizeof(buf) - 1, 0, &rv);
			if (r < 0 || (r == 0 && rv.seq == 0)) {
				w->ret = r;
				break;
			}
			snprintf(want, sizeof(want), "m%d", w->nmsgs++);
			if (strcmp(buf, want))
				w->bad++;
		}
		break;
	case CR_RECV_ONE:
		w->ret = chan_recv(w->fd, buf, sizeof(buf), 0, &rv);
		w->nmsgs = w->ret > 0;
		break;
	case CR_SEND:
		w->ret = chan_send(w->fd, "s", 1, 0, 0);
		break;
	case CR_EPOLL:
		for (i = 0; i < 1000000; i++) {
			struct epoll_event ev[4];
			int n = epoll_wait(w->fd, ev, 4, CR_WAIT_MS), j;

			if (n <= 0) {
				w->ret = n < 0 ? -errno : -ETIMEDOUT;
				break;
			}
			for (j = 0; j < n; j++) {
				w->seen |= ev[j].events;
				w->tags |= ev[j].data.u64;
			}
			if ((w->seen & w->want) || (w->tags & CR_STOP_TAG))
				break;
		}
		break;
	case CR_POLL:
		for (i = 0; i < 1000000; i++) {
			struct pollfd p = { .fd = w->fd, .events = POLLIN };
			int n = poll(&p, 1, CR_WAIT_MS);

			if (n <= 0) {
				w->ret = n < 0 ? -errno : -ETIMEDOUT;
				break;
			}
			w->seen |= p.revents;
			if (w->seen & w->want)
				break;
		}
		break;
	}
	return NULL;
}

static int cr_start(struct cr_waiter *w, enum cr_kind kind, int fd, __u32 want)
{
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->fd = fd;
	w->want = want;
	w->ret = 1;
	return pthread_create(&w->t, NULL, cr_thread, w);
}

/* Join, or report a hang (the thread cannot be stopped: fail at once). */
static int cr_join(struct cr_waiter *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CR_JOIN_MS / 1000;
	return pthread_timedjoin_np(w->t, NULL, &ts);
}

static int epoll_add(int ep, int fd, __u32 events, __u64 tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Let the waiters run into the kernel: not at all, a little, or asleep. */
static void cr_delay(struct rng *r, int peer, __u32 senders, __u32 receivers)
{
	unsigned int how = rn(r, 3);

	if (how == 1)
		usleep(rn(r, 2000));
	if (how == 2) {
		if (senders)
			wait_waiters(peer, 0, WAITING_SENDERS, senders,
				     CR_WAIT_MS);
		if (receivers)
			wait_waiters(peer, IPCCHAN_STATS_TX, WAITING_RECEIVERS,
				     receivers, CR_WAIT_MS);
	}
}

/*
 * The last peer closes while threads sleep on the other endpoint a, in
 * receive (after k queued messages), send (on a full channel), epoll
 * (EPOLLIN and EPOLLOUT sets) and poll: end of channel after the k
 * messages, -EPIPE, EPOLLHUP, EPOLLERR, POLLHUP. What a sent is dropped.
 */
static void cr_peer_close(struct __test_metadata *_metadata,
			  FIXTURE_DATA(stress) *self, unsigned int it)
{
	struct cr_waiter w[5];
	struct ipcchan_stats st;
	int fds[2], a, b, epin, epout, i, k = rn(&self->rng, 3);
	char m[16];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX |
				 IPCCHAN_FD_CLOEXEC, 64, 4, 0, fds));
	a = fds[0];
	b = fds[1];
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, chan_send_str(a, "full", 0, IPCCHAN_NONBLOCK));
	}
	for (i = 0; i < k; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		ASSERT_EQ(0, chan_send_str(b, m, 0, IPCCHAN_NONBLOCK));
	}
	epin = epoll_create1(EPOLL_CLOEXEC);
	epout = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epin);
	ASSERT_LE(0, epout);
	ASSERT_EQ(0, epoll_add(epin, a, EPOLLIN |
			       (chance(&self->rng, 50) ? EPOLLET : 0), 1));
	ASSERT_EQ(0, epoll_add(epout, a, EPOLLOUT, 2));
	ASSERT_EQ(0, cr_start(&w[0], CR_RECV_ALL, a, 0));
	ASSERT_EQ(0, cr_start(&w[1], CR_SEND, a, 0));
	ASSERT_EQ(0, cr_start(&w[2], CR_EPOLL, epin, EPOLLHUP));
	ASSERT_EQ(0, cr_start(&w[3], CR_EPOLL, epout, EPOLLERR));
	ASSERT_EQ(0, cr_start(&w[4], CR_POLL, a, POLLHUP));
	cr_delay(&self->rng, b, 1, 1);
	close(b);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, cr_join(&w[i]))
			TH_LOG("iteration %u: waiter %d hangs after the peer's close",
			       it, i);
	}
	EXPECT_EQ(0, w[0].ret) TH_LOG("iteration %u", it);
	EXPECT_EQ(k, w[0].nmsgs) TH_LOG("iteration %u", it);
	EXPECT_EQ(0, w[0].bad) TH_LOG("iteration %u", it);
	EXPECT_EQ(-EPIPE, w[1].ret) TH_LOG("iteration %u", it);
	EXPECT_EQ(EPOLLHUP, w[2].seen & EPOLLHUP) TH_LOG("iteration %u", it);
	EXPECT_EQ(1, w[2].tags) TH_LOG("iteration %u", it);
	EXPECT_EQ(EPOLLERR, w[3].seen & (EPOLLERR | EPOLLOUT))
		TH_LOG("iteration %u", it);
	EXPECT_EQ(POLLHUP, w[4].seen & POLLHUP) TH_LOG("iteration %u", it);
	ASSERT_EQ(0, chan_stats(a, IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(4, st.dropped) TH_LOG("iteration %u", it);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.receivers);
	EXPECT_EQ(0, st.waiting_senders);
	ASSERT_EQ(0, chan_stats(a, 0, &st));
	EXPECT_EQ(0, st.senders);
	EXPECT_EQ(k, st.received);
	EXPECT_EQ(0, st.waiting_receivers);
	close(epin);
	close(epout);
	close(a);
}

/*
 * A thread sleeps in receive (or send, on a full channel) on fd x, and x
 * is closed. A call that was inside keeps its file and completes when the
 * other side acts; one that started after the close fails with -EBADF, and
 * then the endpoint is gone: the other side sees -EPIPE (or the end of the
 * channel). Each outcome must match the other side's.
 */
static void cr_own_close(struct __test_metadata *_metadata,
			 FIXTURE_DATA(stress) *self, unsigned int it)
{
	int fds[2], r, w_, i, n = 0, recv_side = chance(&self->rng, 50);
	struct cr_waiter w;
	struct ipcchan_stats st;
	struct ipcchan_recv rv;
	char buf[8];
	long ret;

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC, 8, 4, 0, fds));
	r = fds[0];
	w_ = fds[1];
	if (recv_side) {
		ASSERT_EQ(0, cr_start(&w, CR_RECV_ONE, r, 0));
		cr_delay(&self->rng, w_, 0, 1);
		close(r);
		EXPECT_EQ(-EBADF, chan_recv(r, buf, sizeof(buf),
					    IPCCHAN_NONBLOCK, NULL));
		ret = chan_send_str(w_, "x", 0, IPCCHAN_NONBLOCK);
		ASSERT_EQ(0, cr_join(&w)) TH_LOG("iteration %u: receiver hangs",
					       it);
		if (w.ret == -EBADF) {
			EXPECT_EQ(-EPIPE, ret) TH_LOG("iteration %u", it);
		} else {
			EXPECT_EQ(1, w.ret) TH_LOG("iteration %u", it);
			EXPECT_EQ(0, ret) TH_LOG("iteration %u", it);
		}
		/* Once the call is back, the file is released. */
		ASSERT_EQ(0, chan_stats(w_, 0, &st));
		EXPECT_EQ(0, st.receivers) TH_LOG("iteration %u", it);
		EXPECT_EQ(0, st.queued_msgs) TH_LOG("iteration %u", it);
		EXPECT_EQ(0, st.dropped) TH_LOG("iteration %u", it);
		EXPECT_EQ(ret == 0, st.received) TH_LOG("iteration %u", it);
		close(w_);
		return;
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, chan_send_str(w_, "f", 0, IPCCHAN_NONBLOCK));
	}
	ASSERT_EQ(0, cr_start(&w, CR_SEND, w_, 0));
	cr_delay(&self->rng, r, 1, 0);
	close(w_);
	EXPECT_EQ(-EBADF, chan_send_str(w_, "y", 0, IPCCHAN_NONBLOCK));
	/* Make room: a sender still inside completes and lets go. */
	EXPECT_EQ(1, chan_recv(r, buf, sizeof(buf), 0, &rv));
	n++;
	ASSERT_EQ(0, cr_join(&w)) TH_LOG("iteration %u: sender hangs", it);
	EXPECT_TRUE(w.ret == 0 || w.ret == -EBADF)
		TH_LOG("iteration %u: send returned %ld", it, w.ret);
	for (;;) {
		ret = chan_recv(r, buf, sizeof(buf), 0, &rv);
		if (ret <= 0 && rv.seq == 0)
			break;
		n++;
	}
	EXPECT_EQ(0, ret) TH_LOG("iteration %u: end of channel", it);
	EXPECT_EQ(4 + (w.ret == 0), n) TH_LOG("iteration %u", it);
	close(r);
}

/*
 * Epoll instances outlive the channels they watched (the CVE-2019-2215
 * class): a duplex pair, one end possibly dup'ed, watched by an epoll fd
 * (itself possibly watched by another) that a thread waits on and that a
 * child process may share, sleeping in epoll_wait until it is killed. The
 * endpoints close in random order; the channels are freed while the epoll
 * fds live on; then they are used and closed. KASAN judges the rest.
 */
static void cr_epoll_outlives(struct __test_metadata *_metadata,
			      FIXTURE_DATA(stress) *self, unsigned int it)
{
	int fds[2], fd[3], closed[3] = { 0 }, ep, ep2 = -1, efd, nfd, i, j, t;
	int order[3], joined = 0, wait_hup = chance(&self->rng, 50);
	struct ipcchan_query q;
	struct epoll_event ev;
	struct cr_waiter w;
	pid_t child = 0;
	__u64 one = 1;

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX |
				 IPCCHAN_FD_CLOEXEC, 16, 2, 0, fds));
	fd[0] = fds[0];
	fd[1] = fds[1];
	nfd = 2;
	if (chance(&self->rng, 50)) {
		fd[2] = dup(fd[0]);	/* the same file as fd[0] */
		ASSERT_LE(0, fd[2]);
		nfd = 3;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	for (i = 0; i < nfd; i++) {
		ASSERT_EQ(0, epoll_add(ep, fd[i], EPOLLIN |
				       (chance(&self->rng, 50) ? EPOLLET : 0),
				       1ULL << i));
	}
	if (chance(&self->rng, 30)) {
		ep2 = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_LE(0, ep2);
		ASSERT_EQ(0, epoll_add(ep2, ep, EPOLLIN, CR_NESTED_TAG));
	}
	/* A hangup; through a nested instance, any readiness of ep. */
	ASSERT_EQ(0, cr_start(&w, CR_EPOLL, ep2 >= 0 ? ep2 : ep,
			      ep2 >= 0 ? EPOLLIN : EPOLLHUP));
	if (chance(&self->rng, 30)) {
		/* It holds every file until it is killed. */
		fflush(stdout);
		child = fork();
		ASSERT_LE(0, child);
		if (child == 0) {
			alarm(60);
			for (;;)
				epoll_wait(ep, &ev, 1, -1);
		}
		wait_hup = 0;
	}
	for (i = 0; i < nfd; i++)
		order[i] = i;
	for (i = nfd - 1; i > 0; i--) {
		j = rn(&self->rng, i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nfd; i++) {
		int a_gone, b_gone;

		close(fd[order[i]]);
		closed[order[i]] = 1;
		a_gone = closed[0] && (nfd == 2 || closed[2]);
		b_gone = closed[1];
		/*
		 * One file released, the other alive: that one is hung up
		 * now, and in half of the runs the waiter must see it before
		 * the rest closes (after, its epoll items go with the file).
		 */
		if (wait_hup && a_gone != b_gone) {
			ASSERT_EQ(0, cr_join(&w))
				TH_LOG("iteration %u: waiter hangs", it);
			joined = 1;
			EXPECT_NE(0, w.seen & w.want)
				TH_LOG("iteration %u: seen %#x ret %ld", it,
				       w.seen, w.ret);
			wait_hup = 0;
		}
		if (chance(&self->rng, 50))
			usleep(rn(&self->rng, 500));
	}
	if (child > 0) {
		usleep(rn(&self->rng, 1000));
		kill(child, SIGKILL);
		EXPECT_EQ(128 + SIGKILL, wait_child(child));
	}
	for (i = 0; i < nfd; i++) {
		EXPECT_EQ(-1, epoll_ctl(ep, EPOLL_CTL_DEL, fd[i], NULL));
		EXPECT_EQ(EBADF, errno);
	}
	/*
	 * Whatever the waiter saw, an eventfd's readiness ends its wait. It
	 * goes first: epoll_wait() holds a watched file for the time of its
	 * ->poll(), and when a close drops the other reference meanwhile,
	 * the file is released when the waiter returns to user space.
	 */
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, epoll_add(ep, efd, EPOLLIN, CR_STOP_TAG));
	ASSERT_EQ(8, write(efd, &one, 8));
	if (!joined) {
		ASSERT_EQ(0, cr_join(&w)) TH_LOG("iteration %u: waiter hangs",
					       it);
	}
	/* Both channels are gone; the epoll fds remain, and still work. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.nr_channels, q.nr_channels)
		TH_LOG("iteration %u", it);
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("iteration %u", it);
	EXPECT_EQ(CR_STOP_TAG, ev.data.u64);
	EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0)) TH_LOG("iteration %u", it);
	close(efd);
	if (ep2 >= 0) {
		EXPECT_EQ(0, epoll_wait(ep2, &ev, 1, 0));
		close(ep2);
	}
	close(ep);
}

TEST_F_TIMEOUT(stress, close_races, 240)
{
	unsigned int it, n = scaled(240);
	__u64 t0 = now_ns(CLOCK_MONOTONIC);

	for (it = 0; it < n && !_metadata->exit_code; it++) {
		switch (it % 3) {
		case 0:
			cr_peer_close(_metadata, self, it);
			break;
		case 1:
			cr_own_close(_metadata, self, it);
			break;
		case 2:
			cr_epoll_outlives(_metadata, self, it);
			break;
		}
	}
	printf("# %u iterations in %.1f s\n", it,
	       (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	expect_baseline(_metadata, self);
	EXPECT_EQ(0, viol_report());
}

/* ---- limits_under_load ------------------------------------------------------ */

#define L_WORKERS	4	/* two per user */
#define L_UID		2001	/* workers 0, 1: uid 2001; 2, 3: uid 2002 */
#define L_STEPS		16	/* report slots */
#define L_MSG		64
#define L_CHARGE	(L_MSG + IPCCHAN_MSG_OVERHEAD)
#define L_UB		100000	/* max_user_bytes: 520 messages fit, not 521 */
#define L_UB_LOW	30000	/* lowered: 156 fit */
#define L_UCH		9	/* max_user_channels: odd, a pair may not fit */
#define L_UCH_LOW	3
#define L_SYSCH		10	/* channels above the baseline for max_channels */
#define L_QMSGS		16
#define L_QBYTES	2048
#define L_QOPS		400	/* sends per worker on the shared channel */
#define L_MAXCH		64

/* What each worker reports at each step. */
struct l_rep {
	long long n;		/* messages or channels */
	long long m;		/* a second count */
	__u64 user_bytes;
	__u64 user_channels;
};

struct l_shared {
	pthread_barrier_t bar;
	int pushing;		/* workers still in the first phase */
	struct l_rep rep[L_STEPS][L_WORKERS];
	int qfds[2];		/* the root-owned channel of the first phase */
};

/*
 * Steps: a worker does a step's work and calls l_step(); the parent calls
 * l_done(), checks and changes limits, and l_go() starts the next step.
 */
static void l_step(struct l_shared *sh)
{
	pthread_barrier_wait(&sh->bar);
	pthread_barrier_wait(&sh->bar);
}

static void l_done(struct l_shared *sh)
{
	pthread_barrier_wait(&sh->bar);
}

static void l_go(struct l_shared *sh)
{
	pthread_barrier_wait(&sh->bar);
}

/* A worker's channels (both fds of each). */
struct l_chans {
	int n;			/* channels charged: a duplex pair is two */
	int nfd;
	int fd[2 * L_MAXCH];
};

static void l_close_all(struct l_chans *c)
{
	int i;

	for (i = 0; i < c->nfd; i++)
		close(c->fd[i]);
	c->nfd = 0;
	c->n = 0;
}

static int l_create(int ctl, struct l_chans *c, int duplex)
{
	int fds[2], ret;

	if (c->nfd + 2 > 2 * L_MAXCH)
		return -E2BIG;
	ret = chan_create(ctl, IPCCHAN_FD_CLOEXEC |
			  (duplex ? IPCCHAN_CREATE_DUPLEX : 0), 64, 4, 0, fds);
	if (ret)
		return ret;
	c->fd[c->nfd++] = fds[0];
	c->fd[c->nfd++] = fds[1];
	c->n += duplex ? 2 : 1;
	return 0;
}

/*
 * Create channels, a random mix of simplex and duplex, until a simplex
 * one fails (a pair that does not fit is retried as one channel). With
 * several workers at it, the last to stop saw the limit really reached:
 * the others' half-made pairs were undone by then.
 */
static void l_fill_channels(int ctl, struct l_chans *c, struct rng *r,
			    int want, int w)
{
	int ret, duplex;

	for (;;) {
		duplex = chance(r, 50);
		ret = l_create(ctl, c, duplex);
		sched_yield();
		if (ret == want && duplex)
			ret = l_create(ctl, c, 0);
		if (ret) {
			if (ret != want)
				viol("worker %d: create: %d, want %d", w, ret,
				     want);
			return;
		}
	}
}

static void l_query(int ctl, struct l_rep *rep, int w)
{
	struct ipcchan_query q;

	if (chan_query(ctl, &q)) {
		viol("worker %d: query failed", w);
		return;
	}
	rep->user_bytes = q.user_bytes;
	rep->user_channels = q.user_channels;
}

/* Send L_MSG-byte messages until one fails with -ENOSPC; the count. */
static long long l_fill_bytes(int ctl, int fd, __u64 bound, int w)
{
	static char msg[L_MSG];
	struct ipcchan_query q;
	long long n = 0;
	int err;

	for (;;) {
		err = chan_send(fd, msg, sizeof(msg), 0, IPCCHAN_NONBLOCK);
		if (err) {
			if (err != -ENOSPC)
				viol("worker %d: filling to max_user_bytes: %d",
				     w, err);
			return n;
		}
		n++;
		sched_yield();	/* and let the other worker of the user in */
		/* Whatever the other worker of this user does. */
		if (!chan_query(ctl, &q) && q.user_bytes > bound)
			viol("worker %d: user_bytes %llu above %llu", w,
			     (unsigned long long)q.user_bytes,
			     (unsigned long long)bound);
	}
}

static long long l_drain(int fd)
{
	char msg[L_MSG];
	long long n = 0;

	while (chan_recv(fd, msg, sizeof(msg), IPCCHAN_NONBLOCK, NULL) >= 0)
		n++;
	return n;
}

static void __attribute__((noreturn))
l_worker(struct l_shared *sh, int w)
{
	struct l_chans chans = { 0 };
	int ctl, own[2] = { -1, -1 }, err, i;
	char msg[L_MSG], qbuf[256];
	struct ipcchan_recv rv;
	struct rng r;
	long n;

	alarm(200);
	rng_init(&r, 3000 + w);
	memset(msg, 'w', sizeof(msg));
	memset(qbuf, 'q', sizeof(qbuf));
	if (drop_to(L_UID + w / 2, L_UID + w / 2))
		viol("worker %d: cannot drop privileges", w);
	ctl = ctl_open_self();
	if (ctl < 0)
		viol("worker %d: ctl open: %d", w, ctl);
	l_step(sh);						/* 0 */

	/*
	 * 1: the shared channel's capacity under four senders, while the
	 * parent lowers the module's maxima (which bind new channels only).
	 */
	for (i = 0; i < L_QOPS; i++) {
		err = chan_send(sh->qfds[1], qbuf, 1 + rn(&r, 256), 0,
				IPCCHAN_NONBLOCK);
		if (!err)
			sh->rep[1][w].n++;
		else if (err == -EAGAIN)
			sh->rep[1][w].m++;
		else
			viol("worker %d: send to the shared channel: %d", w,
			     err);
		if (chance(&r, 40) && chan_recv(sh->qfds[0], qbuf, sizeof(qbuf),
						IPCCHAN_NONBLOCK, NULL) >= 0)
			sh->rep[2][w].n++;
		if (chance(&r, 20))
			sched_yield();
	}
	__atomic_fetch_sub(&sh->pushing, 1, __ATOMIC_SEQ_CST);
	close(sh->qfds[0]);
	close(sh->qfds[1]);
	l_step(sh);						/* 1 */

	/* 2: max_user_bytes is L_UB; fill it, both workers of a user. */
	err = chan_create(ctl, IPCCHAN_FD_CLOEXEC, L_MSG, 1024, 1 << 20, own);
	if (err)
		viol("worker %d: create: %d", w, err);
	sh->rep[3][w].n = l_fill_bytes(ctl, own[1], L_UB, w);
	l_step(sh);						/* 2 */
	l_query(ctl, &sh->rep[3][w], w);
	l_step(sh);						/* 3 */
	/* 4: lowered to L_UB_LOW, below the usage: no send fits. */
	err = chan_send(own[1], msg, 1, 0, IPCCHAN_NONBLOCK);
	if (err != -ENOSPC)
		viol("worker %d: send above a lowered limit: %d", w, err);
	l_step(sh);						/* 4a */
	sh->rep[4][w].n = l_drain(own[0]);
	l_step(sh);						/* 4 */
	l_query(ctl, &sh->rep[5][w], w);
	l_step(sh);						/* 5 */
	sh->rep[6][w].n = l_fill_bytes(ctl, own[1], L_UB_LOW, w);
	l_step(sh);						/* 6 */
	/* 7: raised again: sending works. */
	for (i = 0; i < 10; i++) {
		err = chan_send(own[1], msg, sizeof(msg), 0, IPCCHAN_NONBLOCK);
		if (err)
			viol("worker %d: send after the limit was raised: %d",
			     w, err);
	}
	close(own[0]);
	close(own[1]);
	l_step(sh);						/* 7 */
	l_query(ctl, &sh->rep[8][w], w);
	l_step(sh);						/* 8 */

	/* 9: max_user_channels is L_UCH. */
	l_fill_channels(ctl, &chans, &r, -EMFILE, w);
	sh->rep[9][w].n = chans.n;
	l_step(sh);						/* 9 */
	l_query(ctl, &sh->rep[10][w], w);
	l_step(sh);						/* 10 */
	/* 11: lowered to L_UCH_LOW. */
	err = l_create(ctl, &chans, 0);
	if (err != -EMFILE)
		viol("worker %d: create above a lowered limit: %d", w, err);
	l_step(sh);						/* 11a */
	l_close_all(&chans);
	l_step(sh);						/* 11 */
	l_fill_channels(ctl, &chans, &r, -EMFILE, w);
	sh->rep[12][w].n = chans.n;
	l_step(sh);						/* 12 */
	/* 13: raised again. */
	for (i = 0; i < 2; i++) {
		err = l_create(ctl, &chans, i);
		if (err)
			viol("worker %d: create after the limit was raised: %d",
			     w, err);
	}
	l_close_all(&chans);
	l_step(sh);						/* 13 */
	l_query(ctl, &sh->rep[13][w], w);
	l_step(sh);						/* 14 */

	/* 15: max_channels is the baseline + L_SYSCH, for every user. */
	l_fill_channels(ctl, &chans, &r, -ENFILE, w);
	sh->rep[14][w].n = chans.n;
	l_step(sh);						/* 15 */
	/* 16: lowered below the count: what exists keeps working. */
	err = l_create(ctl, &chans, 0);
	if (err != -ENFILE)
		viol("worker %d: create above a lowered max_channels: %d", w,
		     err);
	l_step(sh);						/* 16a */
	if (chans.nfd) {
		err = chan_send(chans.fd[1], "k", 1, 0, IPCCHAN_NONBLOCK);
		n = chan_recv(chans.fd[0], msg, sizeof(msg), IPCCHAN_NONBLOCK,
			      &rv);
		if (err || n != 1)
			viol("worker %d: a channel under a lowered limit: %d %ld",
			     w, err, n);
	}
	l_close_all(&chans);
	l_step(sh);						/* 16 */
	/* 17: restored. */
	err = l_create(ctl, &chans, 1);
	if (err)
		viol("worker %d: create after max_channels was restored: %d",
		     w, err);
	l_close_all(&chans);
	close(ctl);
	_exit(0);
}

static void l_set(struct __test_metadata *_metadata, const char *name,
		  unsigned long long v)
{
	ASSERT_EQ(0, param_set(name, v)) TH_LOG("%s=%llu", name, v);
}

/* The two workers of user u (0 or 1): rep[step] n summed. */
static long long l_sum(struct l_shared *sh, int step, int u)
{
	return sh->rep[step][2 * u].n + sh->rep[step][2 * u + 1].n;
}

TEST_F_TIMEOUT(stress, limits_under_load, 240)
{
	long long sent = 0, full = 0, got = 0, sum;
	__u64 t0 = now_ns(CLOCK_MONOTONIC), nr0;
	struct ipcchan_stats st, s0;
	pthread_barrierattr_t ba;
	struct ipcchan_query q;
	pid_t pid[L_WORKERS];
	struct l_shared *sh;
	int w, u, fds[2], samples = 0;
	char buf[256];

	sh = shared_zalloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	ASSERT_EQ(0, pthread_barrierattr_init(&ba));
	ASSERT_EQ(0, pthread_barrierattr_setpshared(&ba,
						    PTHREAD_PROCESS_SHARED));
	ASSERT_EQ(0, pthread_barrier_init(&sh->bar, &ba, L_WORKERS + 1));
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC, 256, L_QMSGS,
				 L_QBYTES, sh->qfds));
	sh->pushing = L_WORKERS;
	for (w = 0; w < L_WORKERS; w++) {
		fflush(stdout);
		pid[w] = fork();
		ASSERT_LE(0, pid[w]);
		if (pid[w] == 0)
			l_worker(sh, w);
	}
	l_done(sh);						/* 0 */
	l_go(sh);

	/*
	 * 1: while the workers push, the capacity holds at every sample, and
	 * the module's maxima, lowered, bind new channels only.
	 */
	l_set(_metadata, "max_queue_msgs", 4);
	l_set(_metadata, "max_queue_bytes", 512);
	l_set(_metadata, "max_msg_size", 64);
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 256, L_QMSGS, L_QBYTES,
				       fds));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &s0));
	EXPECT_EQ(64, s0.msg_size_max);
	EXPECT_EQ(4, s0.queue_msgs);
	EXPECT_EQ(256, s0.queue_bytes);
	close(fds[0]);
	close(fds[1]);
	while (__atomic_load_n(&sh->pushing, __ATOMIC_SEQ_CST) &&
	       !_metadata->exit_code) {
		ASSERT_EQ(0, chan_stats(sh->qfds[0], 0, &st));
		EXPECT_GE(L_QMSGS, st.queued_msgs);
		EXPECT_GE(L_QBYTES, st.queued_bytes);
		EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
		EXPECT_EQ(L_QMSGS, st.queue_msgs);
		EXPECT_EQ(L_QBYTES, st.queue_bytes);
		samples++;
		if (chance(&self->rng, 30) &&
		    chan_recv(sh->qfds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
			      NULL) >= 0)
			got++;
	}
	l_done(sh);						/* 1 */
	ASSERT_EQ(0, param_restore(&self->p[0]));
	ASSERT_EQ(0, param_restore(&self->p[1]));
	ASSERT_EQ(0, param_restore(&self->p[2]));
	while (chan_recv(sh->qfds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
			 NULL) >= 0)
		got++;
	for (w = 0; w < L_WORKERS; w++) {
		sent += sh->rep[1][w].n;
		full += sh->rep[1][w].m;
		got += sh->rep[2][w].n;
	}
	ASSERT_EQ(0, chan_stats(sh->qfds[0], 0, &st));
	printf("# shared channel: %lld sent, %lld refused as full, %lld received, %d samples\n",
	       sent, full, got, samples);
	EXPECT_EQ(sent, st.sent);
	EXPECT_EQ(got, st.received);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(L_QOPS * L_WORKERS, sent + full);
	EXPECT_LT(0, full);
	EXPECT_GE(L_QMSGS, st.peak_msgs);
	close(sh->qfds[0]);
	close(sh->qfds[1]);
	l_set(_metadata, "max_user_bytes", L_UB);
	l_go(sh);

	/* 2, 3: max_user_bytes reached exactly, per user. */
	l_done(sh);						/* 2 */
	l_go(sh);
	l_done(sh);						/* 3 */
	for (u = 0; u < 2; u++) {
		struct l_rep *a = &sh->rep[3][2 * u];
		struct l_rep *b = &sh->rep[3][2 * u + 1];

		sum = l_sum(sh, 3, u);
		printf("# user %d: %lld + %lld messages up to max_user_bytes\n",
		       L_UID + u, a->n, b->n);
		EXPECT_EQ(L_UB / L_CHARGE, sum) TH_LOG("user %d", L_UID + u);
		EXPECT_EQ((__u64)sum * L_CHARGE, a->user_bytes);
		EXPECT_EQ(a->user_bytes, b->user_bytes);
		EXPECT_EQ(2, a->user_channels);
	}
	/* Root's usage is not theirs. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);
	l_set(_metadata, "max_user_bytes", L_UB_LOW);
	l_go(sh);
	l_done(sh);						/* 4a */
	l_go(sh);
	l_done(sh);						/* 4 */
	l_go(sh);
	l_done(sh);						/* 5 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(l_sum(sh, 3, u), l_sum(sh, 4, u));
		EXPECT_EQ(0, sh->rep[5][2 * u].user_bytes);
	}
	l_go(sh);
	l_done(sh);						/* 6 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(L_UB_LOW / L_CHARGE, l_sum(sh, 6, u))
			TH_LOG("user %d under the lowered limit", L_UID + u);
	}
	ASSERT_EQ(0, param_restore(&self->p[5]));
	l_go(sh);
	l_done(sh);						/* 7 */
	l_go(sh);
	l_done(sh);						/* 8 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(0, sh->rep[8][2 * u].user_bytes);
		EXPECT_EQ(0, sh->rep[8][2 * u].user_channels);
	}
	l_set(_metadata, "max_user_channels", L_UCH);
	l_go(sh);

	/* 9..13: max_user_channels reached exactly, lowered, raised. */
	l_done(sh);						/* 9 */
	l_go(sh);
	l_done(sh);						/* 10 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(L_UCH, l_sum(sh, 9, u)) TH_LOG("user %d", L_UID + u);
		EXPECT_EQ(L_UCH, sh->rep[10][2 * u].user_channels);
		EXPECT_EQ(L_UCH, sh->rep[10][2 * u + 1].user_channels);
	}
	l_set(_metadata, "max_user_channels", L_UCH_LOW);
	l_go(sh);
	l_done(sh);						/* 11a */
	l_go(sh);
	l_done(sh);						/* 11 */
	l_go(sh);
	l_done(sh);						/* 12 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(L_UCH_LOW, l_sum(sh, 12, u))
			TH_LOG("user %d under the lowered limit", L_UID + u);
	}
	ASSERT_EQ(0, param_restore(&self->p[4]));
	l_go(sh);
	l_done(sh);						/* 13 */
	l_go(sh);
	l_done(sh);						/* 14 */
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(0, sh->rep[13][2 * u].user_channels);
	}
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	nr0 = q.nr_channels;
	EXPECT_EQ(self->base.nr_channels, nr0);
	l_set(_metadata, "max_channels", nr0 + L_SYSCH);
	l_go(sh);

	/* 15, 16: max_channels reached exactly by all users together. */
	l_done(sh);						/* 15 */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(nr0 + L_SYSCH, q.nr_channels);
	for (w = 0, sum = 0; w < L_WORKERS; w++)
		sum += sh->rep[14][w].n;
	EXPECT_EQ(L_SYSCH, sum);
	EXPECT_EQ(-ENFILE, chan_create(self->ctl, 0, 0, 0, 0, fds));
	l_set(_metadata, "max_channels", nr0 + 2);
	l_go(sh);
	l_done(sh);						/* 16a */
	l_go(sh);
	l_done(sh);						/* 16 */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(nr0, q.nr_channels);
	ASSERT_EQ(0, param_restore(&self->p[3]));
	l_go(sh);
	for (w = 0; w < L_WORKERS; w++) {
		EXPECT_EQ(0, wait_child(pid[w])) TH_LOG("worker %d", w);
	}
	printf("# %.1f s\n", (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	expect_baseline(_metadata, self);
	EXPECT_EQ(0, viol_report());
	pthread_barrier_destroy(&sh->bar);
	munmap(sh, sizeof(*sh));
}

/* ---- memcg_pressure -------------------------------------------------------- */

#define M_ROOT		"/sys/fs/cgroup"
#define M_MAX		(16 << 20)	/* memory.max of the test's cgroup */
#define M_HOG		(8 << 20)	/* the bystanders' resident memory */
#define M_NSIZES	3

/* A small message (slab), one past a page, and one past the costly order. */
static const unsigned int m_sizes[M_NSIZES] = { 1000, 6000, 60000 };

struct m_shared {
	__u64 beat[2];		/* heartbeats: bystander in, bystander out */
	long long filled;	/* messages sent until the cgroup was full */
	long long refilled;
	int err, err2;		/* how the sends failed */
	int stage;
};

static int m_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		r = -errno;
	close(fd);
	return r;
}

static long long m_read_key(const char *path, const char *key)
{
	char buf[4096], *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	if (!key)
		return strtoll(buf, NULL, 10);
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == ' ')
			return strtoll(p + strlen(key) + 1, NULL, 10);
	return -ENOENT;
}

/* Join the cgroup at dir. */
static int m_join(const char *dir)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return m_write(path, pid);
}

/* Touch M_HOG bytes, maybe join the cgroup, then beat until killed. */
static void __attribute__((noreturn))
m_bystander(struct m_shared *sh, const char *dir, int idx)
{
	char *hog = malloc(M_HOG);
	size_t i;

	alarm(200);
	if (!hog)
		_exit(3);
	for (i = 0; i < M_HOG; i += 4096)
		hog[i] = 1;
	if (dir && m_join(dir))
		_exit(4);
	for (;;) {
		__atomic_fetch_add(&sh->beat[idx], 1, __ATOMIC_SEQ_CST);
		sleep_ms(5);
	}
}

/* Send the size cycle until a send fails (*err); *n counts the sent. */
static void m_fill(int fd, const char *buf, long long *n, int *err)
{
	for (;;) {
		*err = chan_send(fd, buf, m_sizes[*n % M_NSIZES], 0,
				 IPCCHAN_NONBLOCK);
		if (*err)
			return;
		__atomic_fetch_add(n, 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * In the cgroup: fill a channel until the cgroup is full; make room by
 * receiving and send again; close everything; a new channel then takes
 * half as much again. Everything it touches is touched before it joins.
 */
static void __attribute__((noreturn))
m_sender(struct m_shared *sh, int ctl, const char *dir)
{
	static char buf[64 << 10], in[64 << 10];
	struct ipcchan_recv rv;
	int fds[2], err, i;
	long long n;

	alarm(200);
	memset(buf, 's', sizeof(buf));
	memset(in, 0, sizeof(in));
	CHILD_CHECK(m_join(dir) == 0, "join %s", dir);
	CHILD_CHECK(chan_create(ctl, IPCCHAN_FD_CLOEXEC, 64 << 10, 65536,
				64 << 20, fds) == 0, "create");
	m_fill(fds[1], buf, &sh->filled, &sh->err);
	/* Room again: a received message's memory goes back. */
	for (i = 0; i < 8; i++)
		CHILD_CHECK(chan_recv(fds[0], in, sizeof(in), IPCCHAN_NONBLOCK,
				      &rv) > 0, "recv %d", i);
	n = 0;
	m_fill(fds[1], buf, &n, &sh->err2);
	CHILD_CHECK(n > 0, "no send fits after 8 receives (%d)", sh->err2);
	close(fds[0]);
	close(fds[1]);
	sh->stage = 1;
	/* Everything works again after the close. */
	CHILD_CHECK(chan_create(ctl, IPCCHAN_FD_CLOEXEC, 64 << 10, 65536,
				64 << 20, fds) == 0, "create again");
	for (n = 0; n < sh->filled / 2; n++) {
		err = chan_send(fds[1], buf, m_sizes[n % M_NSIZES], 0,
				IPCCHAN_NONBLOCK);
		CHILD_CHECK(err == 0, "send %lld of %lld after the close: %d",
			    n, sh->filled / 2, err);
	}
	sh->refilled = n;
	close(fds[0]);
	close(fds[1]);
	_exit(0);
}

TEST_F_TIMEOUT(stress, memcg_pressure, 240)
{
	char dir[128], path[256];
	struct stat stt;
	struct m_shared *sh;
	struct ipcchan_query q;
	pid_t in, out, snd;
	long long oom, oom_kill, max, cur;
	int mounted = 0, r, i;
	__u64 beat[2];

	ASSERT_EQ(0, geteuid()) TH_LOG("needs root to make a cgroup");
	if (stat(M_ROOT "/cgroup.controllers", &stt)) {
		ASSERT_EQ(0, mount("none", M_ROOT, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2 on %s: %s", M_ROOT,
			       strerror(errno));
		mounted = 1;
	}
	r = m_write(M_ROOT "/cgroup.subtree_control", "+memory");
	ASSERT_EQ(0, r) TH_LOG("enable the memory controller: %s (CONFIG_MEMCG?)",
			       strerror(-r));
	snprintf(dir, sizeof(dir), M_ROOT "/ipcchan-stress-%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0755));
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	ASSERT_EQ(0, m_write(path, "16777216"));
	snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
	m_write(path, "0");	/* absent without swap accounting */
	ASSERT_EQ(0, param_set("max_queue_msgs", 65536));
	ASSERT_EQ(0, param_set("max_queue_bytes", 64 << 20));
	ASSERT_EQ(0, param_set("max_msg_size", 64 << 10));
	ASSERT_EQ(0, param_set("max_user_bytes", 1ULL << 30));

	sh = shared_zalloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	fflush(stdout);
	out = fork();
	ASSERT_LE(0, out);
	if (out == 0)
		m_bystander(sh, NULL, 1);
	in = fork();
	ASSERT_LE(0, in);
	if (in == 0)
		m_bystander(sh, dir, 0);
	while (!__atomic_load_n(&sh->beat[0], __ATOMIC_SEQ_CST) ||
	       !__atomic_load_n(&sh->beat[1], __ATOMIC_SEQ_CST))
		sleep_ms(5);
	snd = fork();
	ASSERT_LE(0, snd);
	if (snd == 0)
		m_sender(sh, self->ctl, dir);
	r = wait_child(snd);
	beat[0] = sh->beat[0];
	beat[1] = sh->beat[1];
	snprintf(path, sizeof(path), "%s/memory.events", dir);
	max = m_read_key(path, "max");
	oom = m_read_key(path, "oom");
	oom_kill = m_read_key(path, "oom_kill");
	snprintf(path, sizeof(path), "%s/memory.current", dir);
	cur = m_read_key(path, NULL);
	printf("# %lld messages filled the cgroup (error %d), then %d; %lld after the close; memory.events: max %lld oom %lld oom_kill %lld; memory.current now %lld\n",
	       sh->filled, sh->err, sh->err2, sh->refilled, max, oom, oom_kill,
	       cur);
	EXPECT_EQ(0, r) TH_LOG("the sender in the cgroup: status %d", r);
	EXPECT_EQ(-ENOMEM, sh->err);
	EXPECT_EQ(-ENOMEM, sh->err2);
	EXPECT_LT(0, sh->filled);
	EXPECT_LT(0, max) TH_LOG("memory.max was never reached");
	EXPECT_EQ(0, oom);
	EXPECT_EQ(0, oom_kill);
	/* The queued memory went back when the sender closed. */
	EXPECT_GT(M_MAX / 4, cur);
	/* Both bystanders live on, and run. */
	EXPECT_EQ(-1, wait_child_ms(in, 0)) TH_LOG("the bystander in the cgroup died");
	EXPECT_EQ(-1, wait_child_ms(out, 0)) TH_LOG("the bystander outside died");
	for (i = 0; i < 1000 && (sh->beat[0] == beat[0] ||
				 sh->beat[1] == beat[1]); i++)
		sleep_ms(10);
	EXPECT_LT(beat[0], sh->beat[0]);
	EXPECT_LT(beat[1], sh->beat[1]);
	reap(in);
	reap(out);
	EXPECT_EQ(0, rmdir(dir)) TH_LOG("rmdir %s: %s", dir, strerror(errno));
	if (mounted)
		umount(M_ROOT);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->base.user_bytes, q.user_bytes);
	EXPECT_EQ(self->base.nr_channels, q.nr_channels);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
