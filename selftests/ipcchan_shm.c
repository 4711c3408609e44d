// SPDX-License-Identifier: GPL-2.0
/*
 * Shared pages: a channel's region, its zero-copy slots and its semaphores
 * (the "Shared pages" section of <linux/ipcchan.h>), through libipcchan
 * and, for every bad input, through raw ioctls:
 *
 * - the region attributes at creation (CREATE and OPEN), their bounds,
 *   the query's limits and usage, max_user_region_bytes;
 * - mmap: MAP_SHARED only, offsets, no region, read-only for an endpoint
 *   that only receives (mmap, mprotect and /proc/self/mem cannot add
 *   write access), SIGBUS past the end, no mremap growth, fork sharing and
 *   MADV_DONTFORK, a mapping outliving close, unlink and every peer, a
 *   peer writing while another unmaps, zero-filled new regions;
 * - process-shared futexes on the region, across separate mappings;
 * - slots: loan, send, receive in place or copied, reply with a received
 *   slot, ownership per open file, every bad release and send, exhaustion
 *   (block, -EAGAIN, timeout, signal), slots reclaimed when their holder's
 *   file is released or their queue is dropped;
 * - data integrity: producers and consumers in separate processes, slot
 *   sizes 64 and 4096, every length from 0 to the slot size, checksums,
 *   each message exactly once;
 * - semaphores: post, wait, trywait, timed waits on CLOCK_MONOTONIC and
 *   CLOCK_REALTIME, value, overflow, undo when the file is released, and
 *   processes contending for one used as a lock;
 * - crash cleanup: a process holding loaned and received slots and a
 *   semaphore unit is SIGKILLed; everything comes back and blocked peers
 *   proceed;
 * - the same transfer through POSIX shared memory with a pipe for
 *   notification and through slots: the same checksums, and the time
 *   ratio as a TAP comment (never asserted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

/*
 * The layouts userspace relies on, checked at build time; the same source
 * is built for i386 (ipcchan_shm_32), where u64 is 4-byte aligned, so a
 * struct that needed padding on one ABI and not the other fails here.
 */
#define ABI_OFF(s, f, off) \
	_Static_assert(offsetof(struct s, f) == (off), #s "." #f)
ABI_OFF(ipcchan_create, region_size, 32);
ABI_OFF(ipcchan_create, slot_size, 40);
ABI_OFF(ipcchan_create, nr_sems, 44);
ABI_OFF(ipcchan_create, reserved, 48);
ABI_OFF(ipcchan_open, region_size, 48);
ABI_OFF(ipcchan_open, slot_size, 56);
ABI_OFF(ipcchan_open, nr_sems, 60);
ABI_OFF(ipcchan_send, slot, 36);
ABI_OFF(ipcchan_recv, slot, 64);
ABI_OFF(ipcchan_recv, pad, 68);
ABI_OFF(ipcchan_query, max_region_size, 96);
ABI_OFF(ipcchan_query, user_region_bytes, 112);
ABI_OFF(ipcchan_slot_loan, slot, 16);
ABI_OFF(ipcchan_slot_loan, offset, 24);
ABI_OFF(ipcchan_slot_loan, size, 32);
ABI_OFF(ipcchan_slot_release, slot, 8);
ABI_OFF(ipcchan_sem, op, 8);
ABI_OFF(ipcchan_sem, value, 20);
ABI_OFF(ipcchan_sem, timeout_ns, 24);
ABI_OFF(ipcchan_region_info, slot_size, 16);
ABI_OFF(ipcchan_region_info, prot, 32);
ABI_OFF(ipcchan_region_info, slots_reclaimed, 80);
_Static_assert(sizeof(struct ipcchan_create) == IPCCHAN_CREATE_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_open) == IPCCHAN_OPEN_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_send) == IPCCHAN_SEND_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_recv) == IPCCHAN_RECV_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_query) == IPCCHAN_QUERY_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_slot_loan) ==
	       IPCCHAN_SLOT_LOAN_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_slot_release) ==
	       IPCCHAN_SLOT_RELEASE_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_sem) == IPCCHAN_SEM_SIZE_VER0, "");
_Static_assert(sizeof(struct ipcchan_region_info) ==
	       IPCCHAN_REGION_INFO_SIZE_VER0, "");

#define XFER_KNOWN	(IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | \
			 IPCCHAN_ABSTIME | IPCCHAN_REALTIME)
#define SEM_WAIT_KNOWN	(XFER_KNOWN | IPCCHAN_SEM_UNDO)

/* How long something that must happen may take. */
#define WAIT_MS		10000
/* How long a helper is left to fall asleep before we look. */
#define SETTLE_MS	100

#define MAX_NAMES	4

/* --- raw ioctls (bad inputs, and outputs the library does not return) --- */

static int shm_create(int ctl, __u64 flags, __u64 region_size, __u32 slot_size,
		      __u32 nr_sems, int fds[2])
{
	struct ipcchan_create c = {
		.flags = flags,
		.region_size = region_size,
		.slot_size = slot_size,
		.nr_sems = nr_sems,
	};

	return chan_create_raw(ctl, &c, fds);
}

/* A named channel; returns the endpoint or -errno. */
static int shm_open_named(int ctl, const char *name, __u64 flags, __u32 mode,
			  __u64 region_size, __u32 slot_size, __u32 nr_sems)
{
	struct ipcchan_open o = {
		.flags = flags,
		.name = ptr64(name),
		.mode = mode,
		.region_size = region_size,
		.slot_size = slot_size,
		.nr_sems = nr_sems,
	};

	return chan_open_raw(ctl, &o, NULL);
}

static int rinfo(int fd, struct ipcchan_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	return chan_ioctl(fd, IPCCHAN_IOC_REGION_INFO, ri);
}

/* A nonblocking loan: the slot, or -errno. */
static int loan_nb(int fd)
{
	struct ipcchan_slot_loan l;
	long r;

	memset(&l, 0, sizeof(l));
	l.flags = IPCCHAN_NONBLOCK;
	l.slot = 0xdeadbeef;
	r = chan_ioctl(fd, IPCCHAN_IOC_SLOT_LOAN, &l);
	return r < 0 ? (int)r : (int)l.slot;
}

static int release_raw(int fd, __u32 slot)
{
	struct ipcchan_slot_release rel;

	memset(&rel, 0, sizeof(rel));
	rel.slot = slot;
	return chan_ioctl(fd, IPCCHAN_IOC_SLOT_RELEASE, &rel);
}

static int send_slot_raw(int fd, __u32 slot, __u64 len, __u32 prio,
			 __u64 flags)
{
	struct ipcchan_send s;
	long r;

	memset(&s, 0, sizeof(s));
	s.flags = flags | IPCCHAN_SEND_SLOT;
	s.len = len;
	s.prio = prio;
	s.slot = slot;
	r = chan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
	return r < 0 ? (int)r : 0;
}

/* IPCCHAN_IOC_SEM; 0 or -errno, the value after the call in *value. */
static int sem_raw(int fd, __u32 op, __u32 index, __u32 count, __u64 flags,
		   __u64 timeout_ns, __u32 *value)
{
	struct ipcchan_sem s;
	long r;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.op = op;
	s.index = index;
	s.count = count;
	s.timeout_ns = timeout_ns;
	s.value = 0xdeadbeef;
	r = chan_ioctl(fd, IPCCHAN_IOC_SEM, &s);
	if (value)
		*value = s.value;
	return r < 0 ? (int)r : 0;
}

/* --- checks ------------------------------------------------------------- */

/*
 * The slot counts of fd's region, and the invariant that ties them
 * together. held_here < 0 means "don't check".
 */
#define EXPECT_SLOTS(fd, free_, held_, flight_, here_) do {		\
	struct ipcchan_region_info __ri;				\
	ASSERT_EQ(0, rinfo((fd), &__ri));				\
	EXPECT_EQ((__u64)(free_), __ri.slots_free);			\
	EXPECT_EQ((__u64)(held_), __ri.slots_held);			\
	EXPECT_EQ((__u64)(flight_), __ri.slots_in_flight);		\
	if ((long)(here_) >= 0)						\
		EXPECT_EQ((__u64)(here_), __ri.slots_held_here);	\
	EXPECT_EQ((__u64)__ri.nr_slots, __ri.slots_free +		\
		  __ri.slots_held + __ri.slots_in_flight);		\
} while (0)

static __u64 reclaimed(int fd)
{
	struct ipcchan_region_info ri;

	if (rinfo(fd, &ri))
		return ~0ULL;
	return ri.slots_reclaimed;
}

static int sem_value(int fd, unsigned int index)
{
	return ipcchan_sem_getvalue(fd, index);
}

/*
 * Wait until process pid sleeps in system call nr (state S in
 * /proc/PID/stat, and /proc/PID/syscall naming nr), for at most ms. This
 * is how a test knows a helper is blocked in the kernel before it acts.
 * Returns 0, or -ETIMEDOUT.
 */
static int wait_asleep_in(pid_t pid, long nr, unsigned int ms)
{
	__u64 end = now_ns(CLOCK_MONOTONIC) + ms * NSEC_PER_MSEC;
	char path[64], buf[512], *p;
	int fd, n;

	for (;;) {
		int asleep = 0;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			buf[n > 0 ? n : 0] = '\0';
			p = strrchr(buf, ')');
			asleep = p && p[1] == ' ' && p[2] == 'S';
		}
		if (asleep) {
			snprintf(path, sizeof(path), "/proc/%d/syscall",
				 (int)pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				n = read(fd, buf, sizeof(buf) - 1);
				close(fd);
				buf[n > 0 ? n : 0] = '\0';
				if (n > 0 && strtol(buf, NULL, 10) == nr)
					return 0;
			}
		}
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

static int wait_asleep_in_ioctl(pid_t pid)
{
	return wait_asleep_in(pid, SYS_ioctl, WAIT_MS);
}

/* The child's status if it has exited, else -EBUSY (it is still running). */
static int child_done(pid_t pid)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == 0)
		return -EBUSY;
	if (r != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* wait_child() with a deadline: SIGKILL and -ETIMEDOUT after ms. */
static int wait_child_ms(pid_t pid, unsigned int ms)
{
	__u64 end = now_ns(CLOCK_MONOTONIC) + ms * NSEC_PER_MSEC;
	int r;

	while ((r = child_done(pid)) == -EBUSY) {
		if (now_ns(CLOCK_MONOTONIC) > end) {
			kill(pid, SIGKILL);
			wait_child(pid);
			return -ETIMEDOUT;
		}
		sleep_ms(5);
	}
	return r;
}

/* --- memory probes ---------------------------------------------------- */

static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_signo;

static void probe_handler(int sig)
{
	probe_signo = sig;
	siglongjmp(probe_env, 1);
}

/*
 * Read (or write) one byte at p. Returns 0 when the access worked, else the
 * signal it raised (SIGBUS, SIGSEGV).
 */
static int probe(volatile char *p, int write)
{
	struct sigaction sa, obus, osegv;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	probe_signo = 0;
	if (sigsetjmp(probe_env, 1) == 0) {
		if (write)
			*p = 0x5a;
		else
			(void)*p;
		r = 0;
	} else {
		r = probe_signo;
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return r;
}

/* --- payloads: deterministic bytes and checksums ------------------------ */

static __u32 mix32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/* The bytes of message id: xorshift32 seeded by the id. */
static void fill_msg(void *buf, size_t len, __u32 id)
{
	unsigned char *p = buf;
	__u32 x = mix32(id) | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* Returns the offset of the first byte that is not fill_msg's, or -1. */
static long check_msg(const void *buf, size_t len, __u32 id)
{
	const unsigned char *p = buf;
	__u32 x = mix32(id) | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (p[i] != (unsigned char)x)
			return (long)i;
	}
	return -1;
}

/* FNV-1a over the bytes, then the length. */
static __u64 cksum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	__u64 h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (h ^ len) * 0x100000001b3ULL;
}

/* The length of message id in slots of size slot: 0..slot, edges often. */
static size_t msg_len(__u32 id, size_t slot)
{
	switch (id % 8) {
	case 0:
		return 0;
	case 1:
		return slot;
	case 2:
		return 1;
	case 3:
		return slot - 1;
	default:
		return mix32(id * 2654435761U) % (slot + 1);
	}
}

/* --- fixture ------------------------------------------------------------- */

FIXTURE(shm) {
	int ctl;
	long page;
	struct ipcchan_query q;
	char names[MAX_NAMES][64];
	int nnames;
	struct param_save params[2];	/* restored by the teardown */
	int keep[2];	/* a channel open throughout the test */
};

FIXTURE_SETUP(shm)
{
	self->nnames = 0;
	self->page = sysconf(_SC_PAGESIZE);
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0) TH_LOG("open %s: %s", IPCCHAN_DEVICE_PATH,
				       strerror(-self->ctl));
	ASSERT_EQ(0, chan_query(self->ctl, &self->q));
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_SHARED)
		TH_LOG("the module does not report IPCCHAN_FEAT_SHARED");
	ASSERT_LE(64 * (__u64)self->page, self->q.max_region_size)
		TH_LOG("max_region_size %llu: too small for these tests",
		       (unsigned long long)self->q.max_region_size);
	/*
	 * Our user's accounting record lives while we hold a channel: this
	 * one keeps it (and any charge a test fails to get back) alive from
	 * a test's first query to its last.
	 */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, self->keep));
	ASSERT_EQ(0, param_save(&self->params[0], "max_region_size"));
	ASSERT_EQ(0, param_save(&self->params[1], "max_user_region_bytes"));
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(shm)
{
	int i;

	/* Runs after an ASSERT failure too: the suite's limits come back. */
	for (i = 0; i < (int)ARRAY_SIZE(self->params); i++) {
		EXPECT_EQ(0, param_restore(&self->params[i]))
			TH_LOG("restoring %s", self->params[i].name);
	}
	for (i = 0; i < self->nnames; i++)
		chan_unlink(self->ctl, self->names[i]);
	close(self->keep[0]);
	close(self->keep[1]);
	close(self->ctl);
}

static int map_err(int fd, size_t len, int prot, int flags, off_t off);

/* A name unique to this process, unlinked by the teardown. */
static const char *uniq_name(FIXTURE_DATA(shm) *self, const char *tag)
{
	char *n = self->names[self->nnames < MAX_NAMES - 1 ? self->nnames++ :
			      MAX_NAMES - 1];

	snprintf(n, sizeof(self->names[0]), "ipcchan_shm.%d.%s",
		 (int)getpid(), tag);
	return n;
}

/* An anonymous channel with shared pages, through the library. */
static int make_chan(int ctl, uint64_t flags, uint64_t region, uint32_t slot,
		     uint32_t sems, uint32_t queue_msgs, int fds[2])
{
	struct ipcchan_attr a;

	memset(&a, 0, sizeof(a));
	a.queue_msgs = queue_msgs;
	a.region_size = region;
	a.slot_size = slot;
	a.nr_sems = sems;
	fds[0] = fds[1] = -1;
	return ipcchan_create(ctl, flags, &a, fds);
}

/* Now on clk plus ms, as a timespec. */
static struct timespec ts_after(clockid_t clk, unsigned int ms)
{
	__u64 ns = now_ns(clk) + ms * NSEC_PER_MSEC;
	struct timespec ts = { (time_t)(ns / NSEC_PER_SEC),
			       (long)(ns % NSEC_PER_SEC) };

	return ts;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pair(int fds[2])
{
	close_fd(&fds[0]);
	close_fd(&fds[1]);
}

/* ---- creation, attributes, query ------------------------------------------ */

TEST_F(shm, create_attrs_and_region_info)
{
	struct ipcchan_region_info ri;
	struct ipcchan_create c;
	__u64 region = 16 * self->page;
	unsigned int i;
	int fds[2];

	memset(&c, 0, sizeof(c));
	c.region_size = region;
	c.slot_size = 1024;
	c.nr_sems = 3;
	ASSERT_LE(0, ioctl(self->ctl, IPCCHAN_IOC_CREATE, &c));
	fds[0] = c.fds[0];
	fds[1] = c.fds[1];
	/* The attributes read back as given. */
	EXPECT_EQ(region, c.region_size);
	EXPECT_EQ(1024, c.slot_size);
	EXPECT_EQ(3, c.nr_sems);
	EXPECT_EQ(0, c.reserved[0] | c.reserved[1]);

	for (i = 0; i < 2; i++) {
		/* Output fields carry garbage in: they are outputs only. */
		memset(&ri, 0xff, sizeof(ri));
		ri.flags = 0;
		memset(ri.reserved, 0, sizeof(ri.reserved));
		ri.pad = 0;
		ASSERT_EQ(0, chan_ioctl(fds[i], IPCCHAN_IOC_REGION_INFO, &ri));
		EXPECT_EQ(region, ri.region_size);
		EXPECT_EQ(1024, ri.slot_size);
		EXPECT_EQ(region / 1024, ri.nr_slots);
		EXPECT_EQ(3, ri.nr_sems);
		EXPECT_EQ(0, ri.pad);
		/* fds[0] only receives: read-only; fds[1] sends: read-write. */
		EXPECT_EQ(i ? IPCCHAN_PROT_READ | IPCCHAN_PROT_WRITE :
			      IPCCHAN_PROT_READ, ri.prot) TH_LOG("fds[%u]", i);
		EXPECT_EQ(ri.nr_slots, ri.slots_free);
		EXPECT_EQ(0, ri.slots_held);
		EXPECT_EQ(0, ri.slots_in_flight);
		EXPECT_EQ(0, ri.slots_held_here);
		EXPECT_EQ(0, ri.loans);
		EXPECT_EQ(0, ri.slots_reclaimed);
		EXPECT_EQ(0, ri.flags);
		EXPECT_EQ(0, ri.reserved[0] | ri.reserved[1] | ri.reserved[2] |
			     ri.reserved[3]);
	}
	close_pair(fds);

	/* A duplex pair: one region, both ends read-write. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX, region, 0, 1,
			       0, fds));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, rinfo(fds[i], &ri));
		EXPECT_EQ(region, ri.region_size);
		EXPECT_EQ(0, ri.slot_size);
		EXPECT_EQ(0, ri.nr_slots);
		EXPECT_EQ(1, ri.nr_sems);
		EXPECT_EQ(IPCCHAN_PROT_READ | IPCCHAN_PROT_WRITE, ri.prot);
	}
	close_pair(fds);

	/* Semaphores without a region. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, IPCCHAN_SEMS_MAX, 0, fds));
	ASSERT_EQ(0, rinfo(fds[1], &ri));
	EXPECT_EQ(0, ri.region_size);
	EXPECT_EQ(0, ri.nr_slots);
	EXPECT_EQ(IPCCHAN_SEMS_MAX, ri.nr_sems);
	close_pair(fds);

	/* A channel with nothing shared: all zero. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, rinfo(fds[0], &ri));
	EXPECT_EQ(0, ri.region_size);
	EXPECT_EQ(0, ri.slot_size | ri.nr_slots | ri.nr_sems);
	EXPECT_EQ(0, ri.slots_free | ri.slots_held | ri.slots_in_flight);
	close_pair(fds);
}

/*
 * Without a region there is nothing to map: prot is 0, as mmap fails with
 * -ENODEV, for a channel with semaphores only and for one with nothing
 * shared alike, and for either end.
 */
TEST_F(shm, region_info_without_region)
{
	struct ipcchan_region_info ri;
	int fds[2], i, sems;

	for (sems = 0; sems < 2; sems++) {
		ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, sems, 0, fds));
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, rinfo(fds[i], &ri));
			EXPECT_EQ(0, ri.region_size);
			EXPECT_EQ(0, ri.prot) TH_LOG("nr_sems %d, fds[%d]", sems,
						     i);
			EXPECT_EQ(ENODEV, map_err(fds[i], self->page, PROT_READ,
						  MAP_SHARED, 0));
		}
		close_pair(fds);
	}
}

TEST_F(shm, query_region_accounting)
{
	struct ipcchan_region rg;
	struct ipcchan_query q0, q;
	unsigned long long v;
	int a[2], b[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, ipcchan_param_read("max_region_size", &v));
	EXPECT_EQ(v, q0.max_region_size);
	ASSERT_EQ(0, ipcchan_param_read("max_user_region_bytes", &v));
	EXPECT_EQ(v, q0.max_user_region_bytes);
	EXPECT_EQ(0, q0.reserved);

	ASSERT_EQ(0, make_chan(self->ctl, 0, 4 * self->page, 0, 0, 0, a));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes + 4 * self->page, q.user_region_bytes);
	/* A duplex pair has one region, charged once. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX,
			       2 * self->page, 64, 0, 0, b));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes + 6 * self->page, q.user_region_bytes);
	/* The region lives while either endpoint does. */
	close_fd(&a[1]);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes + 6 * self->page, q.user_region_bytes);
	close_fd(&a[0]);
	close_pair(b);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
	/*
	 * The charge lasts as long as the region, not as its mappings: the
	 * pages a mapping keeps alive count against the memory cgroup only.
	 */
	ASSERT_EQ(0, make_chan(self->ctl, 0, 4 * self->page, 0, 0, 0, a));
	ASSERT_EQ(0, ipcchan_map(a[1], 0, &rg));
	close_pair(a);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
	((char *)rg.addr)[0] = 1;
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	/* Semaphores alone are not a region. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 4, 0, a));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
	close_pair(a);
}

TEST_F(shm, create_attr_validation)
{
	struct ipcchan_query q0, q;
	__u64 pg = self->page, max = self->q.max_region_size;
	struct {
		__u64 region;
		__u32 slot, sems;
		const char *what;
	} bad[] = {
		{ 1, 0, 0, "region of 1 byte" },
		{ pg / 2, 0, 0, "half a page" },
		{ pg + 1, 0, 0, "not page-aligned" },
		{ 3 * pg - 64, 0, 0, "not page-aligned (slot multiple)" },
		{ (max + pg) & ~(pg - 1), 0, 0, "above max_region_size" },
		{ ~0ULL & ~(pg - 1), 0, 0, "huge" },
		{ 0, 64, 0, "slots without a region" },
		{ pg, 100, 0, "slot not a multiple of 64" },
		{ pg, 32, 0, "slot below 64" },
		{ pg, 2 * pg, 0, "slot larger than the region" },
		{ pg, 0x80000000u, 0, "slot of 2 GiB" },
		{ 0, 0, IPCCHAN_SEMS_MAX + 1, "one semaphore too many" },
		{ 0, 0, ~0u, "2^32 - 1 semaphores" },
		{ pg, 64, IPCCHAN_SEMS_MAX + 1, "semaphores, with a region" },
	};
	const char *name = uniq_name(self, "attrs");
	unsigned int i;
	int fds[2], fd;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fds[0] = fds[1] = -1;
		EXPECT_EQ(-EINVAL, shm_create(self->ctl, 0, bad[i].region,
					      bad[i].slot, bad[i].sems, fds))
			TH_LOG("CREATE: %s", bad[i].what);
		EXPECT_EQ(-1, fds[0]);
		EXPECT_EQ(-EINVAL, shm_create(self->ctl, IPCCHAN_CREATE_DUPLEX,
					      bad[i].region, bad[i].slot,
					      bad[i].sems, fds))
			TH_LOG("CREATE duplex: %s", bad[i].what);
		EXPECT_EQ(-EINVAL, shm_open_named(self->ctl, name,
						  IPCCHAN_OPEN_CREATE |
						  IPCCHAN_OPEN_SEND, 0600,
						  bad[i].region, bad[i].slot,
						  bad[i].sems))
			TH_LOG("OPEN|CREATE: %s", bad[i].what);
	}
	/* Nothing was created, nothing is charged. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0));

	/* The edges that are allowed. */
	ASSERT_EQ(0, shm_create(self->ctl, 0, pg, pg, IPCCHAN_SEMS_MAX, fds));
	EXPECT_SLOTS(fds[1], 1, 0, 0, 0);
	close_pair(fds);
	ASSERT_EQ(0, shm_create(self->ctl, 0, pg, 64, 0, fds));
	EXPECT_SLOTS(fds[1], pg / 64, 0, 0, 0);
	close_pair(fds);
	ASSERT_EQ(0, shm_create(self->ctl, 0, pg, 3 * 64, 0, fds));
	/* A slot size that does not divide the region: the whole slots. */
	EXPECT_SLOTS(fds[1], pg / (3 * 64), 0, 0, 0);
	close_pair(fds);
	/* The largest region, if our user may still hold that much. */
	if (q0.max_user_region_bytes - q0.user_region_bytes >= max) {
		ASSERT_EQ(0, shm_create(self->ctl, 0, max & ~(pg - 1), 0, 0,
					fds));
		close_pair(fds);
	} else {
		EXPECT_EQ(-ENOSPC, shm_create(self->ctl, 0, max & ~(pg - 1), 0,
					      0, fds));
	}

	/* OPEN: attributes are written back when it creates ... */
	fd = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0600,
			    4 * pg, 512, 2);
	ASSERT_GE(fd, 0);
	EXPECT_SLOTS(fd, 4 * pg / 512, 0, 0, 0);
	close(fd);
	/* ... and ignored, even when invalid, when it does not. */
	fd = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_RECV, 0600, 1, 100, ~0u);
	ASSERT_GE(fd, 0);
	{
		struct ipcchan_region_info ri;

		ASSERT_EQ(0, rinfo(fd, &ri));
		EXPECT_EQ(4 * pg, ri.region_size);
		EXPECT_EQ(512, ri.slot_size);
		EXPECT_EQ(2, ri.nr_sems);
		EXPECT_EQ(IPCCHAN_PROT_READ, ri.prot);
	}
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

TEST_F(shm, slots_max)
{
	__u64 need = (__u64)IPCCHAN_SLOTS_MAX * 64;
	int fds[2];

	/* Make room for a region of IPCCHAN_SLOTS_MAX + 1 minimal slots. */
	if (self->q.max_region_size < need + self->page) {
		ASSERT_EQ(0, param_set("max_region_size", need + self->page));
	}
	if (self->q.max_user_region_bytes < self->q.user_region_bytes + need +
	    self->page) {
		ASSERT_EQ(0, param_set("max_user_region_bytes",
				       self->q.user_region_bytes + need +
				       self->page));
	}
	EXPECT_EQ(0, shm_create(self->ctl, 0, need, 64, 0, fds));
	if (fds[0] >= 0) {
		EXPECT_SLOTS(fds[1], IPCCHAN_SLOTS_MAX, 0, 0, 0);
		close_pair(fds);
	}
	EXPECT_EQ(-EINVAL, shm_create(self->ctl, 0, need + self->page, 64, 0,
				      fds));
	/* The same region in bigger slots is fine. */
	EXPECT_EQ(0, shm_create(self->ctl, 0, need + self->page, 128, 0, fds));
	close_pair(fds);
}

TEST_F(shm, max_user_region_bytes_enospc)
{
	struct ipcchan_query q0, q;
	const char *name = uniq_name(self, "enospc");
	int a[2], b[2], fd;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, param_set("max_user_region_bytes",
			       q0.user_region_bytes + 3 * self->page));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes + 3 * self->page,
		  q.max_user_region_bytes);

	ASSERT_EQ(0, make_chan(self->ctl, 0, 2 * self->page, 0, 0, 0, a));
	EXPECT_EQ(-ENOSPC, make_chan(self->ctl, 0, 2 * self->page, 0, 0, 0, b));
	EXPECT_EQ(-ENOSPC, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX,
				     2 * self->page, 0, 0, 0, b));
	EXPECT_EQ(-ENOSPC, shm_open_named(self->ctl, name,
					  IPCCHAN_OPEN_CREATE |
					  IPCCHAN_OPEN_SEND, 0600,
					  2 * self->page, 0, 0));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0));
	/* Exactly the limit fits; channels without a region always do. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 0, 0, 0, b));
	close_pair(b);
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 8, 0, b));
	close_pair(b);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes + 2 * self->page, q.user_region_bytes);
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	/* Closing returns the charge. */
	close_pair(a);
	fd = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_SEND, 0600, 3 * self->page, 0, 0);
	ASSERT_GE(fd, 0);
	close(fd);
	/* A linked name keeps its region charged. */
	EXPECT_EQ(-ENOSPC, make_chan(self->ctl, 0, self->page, 0, 0, 0, b));
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
}

/* ---- mmap ------------------------------------------------------------------ */

static void *map(int fd, size_t len, int prot, int flags, off_t off)
{
	return mmap(NULL, len, prot, flags, fd, off);
}

/* mmap's errno, or 0 when it mapped (and the mapping is removed). */
static int map_err(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = map(fd, len, prot, flags, off);

	if (p == MAP_FAILED)
		return errno;
	munmap(p, len);
	return 0;
}

TEST_F(shm, mmap_rules)
{
	size_t region = 4 * self->page, pg = self->page;
	int fds[2], plain[2], rw = PROT_READ | PROT_WRITE;
	char *a, *b;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));

	/* MAP_SHARED only. */
	EXPECT_EQ(EINVAL, map_err(fds[1], region, rw, MAP_PRIVATE, 0));
	EXPECT_EQ(EINVAL, map_err(fds[1], region, PROT_READ, MAP_PRIVATE, 0));
	EXPECT_EQ(EINVAL, map_err(fds[0], region, PROT_READ, MAP_PRIVATE, 0));
	/* The offset lies inside the region. */
	EXPECT_EQ(EINVAL, map_err(fds[1], pg, rw, MAP_SHARED, region));
	EXPECT_EQ(EINVAL, map_err(fds[1], pg, rw, MAP_SHARED, region + pg));
	EXPECT_EQ(EINVAL, map_err(fds[1], pg, rw, MAP_SHARED,
				  (off_t)region * 1024));
	EXPECT_EQ(0, map_err(fds[1], pg, rw, MAP_SHARED, region - pg));
	/* MAP_SHARED_VALIDATE is MAP_SHARED. */
	EXPECT_EQ(0, map_err(fds[1], region, rw, MAP_SHARED_VALIDATE, 0));

	/* A channel without a region. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, plain));
	EXPECT_EQ(ENODEV, map_err(plain[1], pg, rw, MAP_SHARED, 0));
	EXPECT_EQ(ENODEV, map_err(plain[0], pg, PROT_READ, MAP_SHARED, 0));
	close_pair(plain);
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 2, 0, plain));
	EXPECT_EQ(ENODEV, map_err(plain[1], pg, rw, MAP_SHARED, 0));
	close_pair(plain);

	/* An offset mapping sees the same bytes as the whole one. */
	a = map(fds[1], region, rw, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = map(fds[1], 2 * pg, rw, MAP_SHARED, 2 * pg);
	ASSERT_NE(MAP_FAILED, b);
	a[2 * pg + 5] = 'x';
	EXPECT_EQ('x', b[5]);
	b[pg + 7] = 'y';
	EXPECT_EQ('y', a[3 * pg + 7]);
	munmap(b, 2 * pg);
	munmap(a, region);
	close_pair(fds);
}

/*
 * An endpoint that only receives maps read-only, and no way of asking
 * (mmap, mprotect, a write through /proc/self/mem) gives it write access.
 */
static void check_read_only(struct __test_metadata *_metadata, int rx, int tx,
			    size_t region)
{
	int rw = PROT_READ | PROT_WRITE, mem;
	long pg = sysconf(_SC_PAGESIZE);
	char *r, *w;

	EXPECT_EQ(EACCES, map_err(rx, region, rw, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, map_err(rx, region, PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, map_err(rx, region, rw, MAP_SHARED_VALIDATE, 0));
	r = map(rx, region, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, r);
	w = map(tx, region, rw, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, w);
	w[100] = 'w';
	EXPECT_EQ('w', r[100]);
	EXPECT_EQ(SIGSEGV, probe(r + 100, 1));
	/* mprotect cannot add PROT_WRITE, to the whole or to one page. */
	EXPECT_EQ(-1, mprotect(r, region, rw));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(r + region - pg, pg, rw));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(SIGSEGV, probe(r + 100, 1));
	/* A forced write (as ptrace does) fails too. */
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_GE(mem, 0);
	EXPECT_EQ(-1, pwrite(mem, "F", 1, (off_t)(uintptr_t)(r + 100)));
	close(mem);
	EXPECT_EQ('w', r[100]);
	EXPECT_EQ('w', w[100]);
	/* Read-only mappings may drop PROT_READ and get it back. */
	EXPECT_EQ(0, mprotect(r, region, PROT_NONE));
	EXPECT_EQ(0, mprotect(r, region, PROT_READ));
	EXPECT_EQ('w', r[100]);
	munmap(r, region);
	munmap(w, region);
}

TEST_F(shm, read_only_endpoint_cannot_write)
{
	const char *name = uniq_name(self, "ro");
	size_t region = 4 * self->page;
	struct ipcchan_region_info ri;
	struct ipcchan_region rg;
	int fds[2], tx, rx;

	/* The receive end of an anonymous channel. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	check_read_only(_metadata, fds[0], fds[1], region);
	/* The library maps it read-only by itself. */
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	EXPECT_EQ(PROT_READ, rg.prot);
	EXPECT_EQ(region, rg.size);
	EXPECT_EQ(0, mprotect(rg.addr, rg.size, PROT_READ));
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	EXPECT_EQ(NULL, rg.addr);
	close_pair(fds);

	/* A named channel opened for receiving only, by a later opener. */
	tx = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0644,
			    region, 0, 0);
	ASSERT_GE(tx, 0);
	rx = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(rx, 0);
	ASSERT_EQ(0, rinfo(rx, &ri));
	EXPECT_EQ(IPCCHAN_PROT_READ, ri.prot);
	check_read_only(_metadata, rx, tx, region);
	close(rx);
	/* Sending and receiving: read-write. */
	rx = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_SEND,
		       0);
	ASSERT_GE(rx, 0);
	ASSERT_EQ(0, rinfo(rx, &ri));
	EXPECT_EQ(IPCCHAN_PROT_READ | IPCCHAN_PROT_WRITE, ri.prot);
	EXPECT_EQ(0, map_err(rx, region, PROT_READ | PROT_WRITE, MAP_SHARED,
			     0));
	close(rx);
	close(tx);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

TEST_F(shm, writable_mapping_mprotect)
{
	size_t region = 2 * self->page;
	int fds[2], rw = PROT_READ | PROT_WRITE;
	struct ipcchan_region rg;
	char *p;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	/* IPCCHAN_MAP_RDONLY: read-only, and may become read-write. */
	ASSERT_EQ(0, ipcchan_map(fds[1], IPCCHAN_MAP_RDONLY, &rg));
	EXPECT_EQ(PROT_READ, rg.prot);
	p = rg.addr;
	EXPECT_EQ(SIGSEGV, probe(p, 1));
	EXPECT_EQ(0, mprotect(p, region, rw));
	EXPECT_EQ(0, probe(p, 1));
	EXPECT_EQ(0x5a, p[0]);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	EXPECT_EQ(-EINVAL, ipcchan_unmap(&rg));
	EXPECT_EQ(-EINVAL, ipcchan_map(fds[1], 0x80, &rg));
	ASSERT_EQ(0, ipcchan_map(fds[1], IPCCHAN_MAP_POPULATE, &rg));
	EXPECT_EQ(rw, rg.prot);
	EXPECT_EQ(0x5a, ((char *)rg.addr)[0]);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
}

TEST_F(shm, sigbus_past_the_end)
{
	size_t region = 3 * self->page, pg = self->page;
	int fds[2], rw = PROT_READ | PROT_WRITE;
	char *p, *q;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	/* The mapping may extend past the region ... */
	p = map(fds[1], region + 2 * pg, rw, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, probe(p + region - 1, 1));
	EXPECT_EQ(0x5a, p[region - 1]);
	/* ... but touching it there is SIGBUS, reading or writing. */
	EXPECT_EQ(SIGBUS, probe(p + region, 0));
	EXPECT_EQ(SIGBUS, probe(p + region, 1));
	EXPECT_EQ(SIGBUS, probe(p + region + pg + 17, 0));
	EXPECT_EQ(SIGBUS, probe(p + region + 2 * pg - 1, 1));
	/* The region itself is untouched by that. */
	EXPECT_EQ(0, probe(p, 0));
	EXPECT_EQ(0x5a, p[region - 1]);

	/* Likewise from an offset, and read-only. */
	q = map(fds[0], region, PROT_READ, MAP_SHARED, 2 * pg);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x5a, q[pg - 1]);
	EXPECT_EQ(SIGBUS, probe(q + pg, 0));
	EXPECT_EQ(SIGBUS, probe(q + 2 * pg, 0));
	/* The kernel reading or writing past the end: -EFAULT, no signal. */
	{
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		EXPECT_EQ(-1, write(pfd[1], p + region, 16));
		EXPECT_EQ(EFAULT, errno);
		ASSERT_EQ(16, write(pfd[1], p, 16));
		EXPECT_EQ(-1, read(pfd[0], p + region + 5, 16));
		EXPECT_EQ(EFAULT, errno);
		close(pfd[0]);
		close(pfd[1]);
	}
	EXPECT_EQ(-EFAULT, chan_send(fds[1], p + region - 8, 16, 0,
				     IPCCHAN_NONBLOCK));
	munmap(q, region);
	munmap(p, region + 2 * pg);
	close_pair(fds);
}

TEST_F(shm, mremap_cannot_grow)
{
	size_t region = 4 * self->page, pg = self->page;
	int fds[2], rw = PROT_READ | PROT_WRITE;
	char *p, *q, *hole;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	p = map(fds[1], 2 * pg, rw, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 'a';
	p[pg] = 'b';
	/* Neither in place nor by moving, nor past the region: -EFAULT. */
	EXPECT_EQ(MAP_FAILED, mremap(p, 2 * pg, 3 * pg, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, 2 * pg, 3 * pg, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, 2 * pg, region + pg, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	/* The mapping is intact. */
	EXPECT_EQ('a', p[0]);
	EXPECT_EQ('b', p[pg]);

	/* Moving it whole is allowed, and it keeps the same pages. */
	hole = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	ASSERT_NE(MAP_FAILED, hole);
	q = mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, q);
	EXPECT_EQ('a', q[0]);
	EXPECT_EQ('b', q[pg]);
	q[1] = 'c';
	p = map(fds[0], pg, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ('c', p[1]);
	munmap(p, pg);
	munmap(q, 2 * pg);
	close_pair(fds);
}

TEST_F(shm, fork_shares_the_pages)
{
	size_t region = 2 * self->page;
	struct ipcchan_region rg;
	int fds[2], go[2], done[2];
	volatile char *p;
	pid_t pid;
	char c;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &rg));
	p = rg.addr;
	p[10] = 'p';
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		/* The inherited mapping: the parent's byte, then ours. */
		CHILD_CHECK(p[10] == 'p', "inherited mapping reads %d", p[10]);
		p[11] = 'c';
		CHILD_CHECK(write(done[1], "1", 1) == 1, "write");
		CHILD_CHECK(read(go[0], &c, 1) == 1, "read");
		CHILD_CHECK(p[12] == 'P', "parent's later write: %d", p[12]);
		_exit(0);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	EXPECT_EQ('c', p[11]);
	p[12] = 'P';
	ASSERT_EQ(1, write(go[1], "1", 1));
	EXPECT_EQ(0, wait_child(pid));

	/* MADV_DONTFORK: the child has no mapping there. */
	ASSERT_EQ(0, madvise(rg.addr, region, MADV_DONTFORK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		_exit(probe(p + 10, 0) == SIGSEGV ? 0 : 1);
	}
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ('p', p[10]);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

TEST_F(shm, new_region_zero_filled)
{
	size_t region = 8 * self->page, i;
	struct ipcchan_region a, b;
	int fds[2], round;

	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
		ASSERT_EQ(0, ipcchan_map(fds[1], 0, &a));
		ASSERT_EQ(0, ipcchan_map(fds[0], 0, &b));
		for (i = 0; i < region; i++)
			if (((unsigned char *)b.addr)[i])
				break;
		EXPECT_EQ(region, i) TH_LOG("round %d: byte %zu is %d", round,
					    i, ((unsigned char *)b.addr)[i]);
		/* Dirty every page for the next round's recycled memory. */
		memset(a.addr, 0xa5, region);
		EXPECT_EQ(0xa5, ((unsigned char *)b.addr)[region - 1]);
		EXPECT_EQ(0, ipcchan_unmap(&a));
		EXPECT_EQ(0, ipcchan_unmap(&b));
		close_pair(fds);
	}
}

/*
 * The mapping keeps the pages alive on its own: close the fd, unlink the
 * name, let every other process go; the bytes stay, and a new channel of
 * the same name gets a new, zeroed region.
 */
TEST_F(shm, mapping_outlives_fd_name_and_peers)
{
	const char *name = uniq_name(self, "outlive");
	size_t region = 4 * self->page;
	struct ipcchan_region rg, rg2;
	volatile char *p;
	int fd, peer;
	pid_t pid;

	fd = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND |
			    IPCCHAN_OPEN_RECV, 0600, region, 0, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ipcchan_map(fd, 0, &rg));
	p = rg.addr;
	p[0] = 'A';
	/* Another process writes through its own mapping, then exits. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_region crg;
		int cfd;

		alarm(20);
		cfd = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0);
		CHILD_CHECK(cfd >= 0, "open: %d", cfd);
		CHILD_CHECK(ipcchan_map(cfd, 0, &crg) == 0, "map");
		close(cfd);
		((char *)crg.addr)[region - 1] = 'Z';
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ('Z', p[region - 1]);

	/* Close our fd: the mapping stays. */
	close(fd);
	EXPECT_EQ('A', p[0]);
	p[1] = 'B';
	/* Unlink the name: the channel is gone, the mapping stays. */
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0));
	EXPECT_EQ('A', p[0]);
	EXPECT_EQ('B', p[1]);
	EXPECT_EQ('Z', p[region - 1]);
	p[2] = 'C';
	EXPECT_EQ(0, probe(p + region - 1, 1));

	/* The name again: a new channel, a new region. */
	peer = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			      IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0600,
			      region, 0, 0);
	ASSERT_GE(peer, 0);
	ASSERT_EQ(0, ipcchan_map(peer, 0, &rg2));
	EXPECT_EQ(0, ((char *)rg2.addr)[0]);
	EXPECT_EQ(0, ((char *)rg2.addr)[region - 1]);
	((char *)rg2.addr)[0] = 'N';
	EXPECT_EQ('A', p[0]);
	EXPECT_EQ(0, ipcchan_unmap(&rg2));
	close(peer);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ('C', p[2]);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
}

/*
 * A peer writes without pause through its own mapping while this process
 * maps and unmaps the region over and over, closes its fd and finally
 * unmaps everything; the peer's writes keep landing, and what it reads
 * back is what it wrote.
 */
/* Print a task's state, wait channel and current syscall (diagnostics). */
static void show_task(pid_t pid)
{
	static const char *const files[] = { "stat", "wchan", "syscall" };
	char path[64], buf[512];
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			ksft_print_msg("writer %s: %s\n", files[i], buf);
		}
	}
}

TEST_F_TIMEOUT(shm, munmap_while_peer_writes, 90)
{
	size_t region = 16 * self->page;
	volatile __u32 *counter;
	struct ipcchan_region rg;
	int fds[2], stop[2], i;
	__u32 last = 0, now;
	pid_t pid;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	ASSERT_EQ(0, pipe(stop));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_region crg;
		volatile __u32 *w;
		__u32 n = 0;
		size_t words, k;
		char c;

		alarm(50);
		close(stop[1]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		CHILD_CHECK(ipcchan_map(fds[1], 0, &crg) == 0, "map");
		close_pair(fds);
		w = crg.addr;
		words = crg.size / sizeof(*w);
		while (read(stop[0], &c, 1) < 0) {
			/* Word 0 counts; the others hold their index + n. */
			n++;
			for (k = 1; k < words; k += 97)
				w[k] = (__u32)k + n;
			__atomic_store_n(&w[0], n, __ATOMIC_RELEASE);
			for (k = 1; k < words; k += 97)
				CHILD_CHECK(w[k] == (__u32)k + n,
					    "word %zu: %u, wrote %u", k, w[k],
					    (__u32)k + n);
		}
		CHILD_CHECK(n > 0, "never wrote");
		_exit(0);
	}
	close(stop[0]);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, ipcchan_map(fds[i & 1], 0, &rg));
		counter = rg.addr;
		now = __atomic_load_n(counter, __ATOMIC_ACQUIRE);
		EXPECT_LE(last, now);
		last = now;
		ASSERT_EQ(0, ipcchan_unmap(&rg));
	}
	/* One mapping left here, no fd anywhere: the writes still land. */
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	counter = rg.addr;
	close_pair(fds);
	last = __atomic_load_n(counter, __ATOMIC_ACQUIRE);
	/*
	 * Progress, not speed: a loaded TCG host was seen to leave the writer
	 * unscheduled for 10 s, so wait up to 3 * WAIT_MS and, if it still
	 * made none, say what the writer is doing.
	 */
	for (i = 0; i < 3 * WAIT_MS / 5; i++) {
		now = __atomic_load_n(counter, __ATOMIC_ACQUIRE);
		if (now > last)
			break;
		sleep_ms(5);
	}
	if (now <= last)
		show_task(pid);
	EXPECT_LT(last, now);
	last = now;
	ASSERT_EQ(0, ipcchan_unmap(&rg));
	/* The peer is still writing, alone now. */
	sleep_ms(50);
	EXPECT_EQ(-EBUSY, child_done(pid));
	ASSERT_EQ(1, write(stop[1], "s", 1));
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	close(stop[1]);
	EXPECT_LT(0, last);
}

/* ---- futexes on the region ------------------------------------------------- */

/*
 * futex(2) with a timeout in milliseconds (0: none). A 32-bit process uses
 * futex_time64: the old call takes a 32-bit timespec and is missing from
 * kernels without CONFIG_COMPAT_32BIT_TIME (the debug kernel).
 */
#if defined(__NR_futex_time64) && !defined(__LP64__)
#define FUTEX_NR	__NR_futex_time64
struct futex_ts {
	long long tv_sec;
	long long tv_nsec;
};
#else
#define FUTEX_NR	SYS_futex
#define futex_ts	timespec
#endif

static long futex(volatile __u32 *uaddr, int op, __u32 val,
		  unsigned int timeout_ms)
{
	struct futex_ts ts = { timeout_ms / 1000,
			       (long)(timeout_ms % 1000) * 1000000L };

	return syscall(FUTEX_NR, uaddr, op, val, timeout_ms ? &ts : NULL,
		       NULL, 0);
}

/*
 * A process asleep in FUTEX_WAIT on the region, through a mapping of its
 * own (the read-only one of an endpoint that only receives), is woken by
 * FUTEX_WAKE from another process's mapping: the futex keys agree.
 * Then the two ping-pong ROUNDS times through one word.
 */
#define ROUNDS	2000

TEST_F_TIMEOUT(shm, futex_across_processes, 90)
{
	size_t region = 4 * self->page;
	struct ipcchan_region rg;
	volatile __u32 *w;
	int fds[2], ready[2], woken, i, st;
	pid_t pid;
	char c;

	ASSERT_EQ(0, make_chan(self->ctl, 0, region, 0, 0, 0, fds));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_region crg;
		volatile __u32 *cw;
		long r;

		alarm(80);
		CHILD_CHECK(ipcchan_map(fds[0], 0, &crg) == 0, "map rx");
		CHILD_CHECK(crg.prot == PROT_READ, "prot %d", crg.prot);
		cw = (volatile __u32 *)((char *)crg.addr + self->page + 64);
		CHILD_CHECK(write(ready[1], "r", 1) == 1, "write");
		/* Shared, not private: FUTEX_WAIT without the flag. */
		do {
			r = futex(cw, FUTEX_WAIT, 0, 20000);
		} while (r < 0 && errno == EINTR);
		CHILD_CHECK(r == 0, "FUTEX_WAIT: %s", strerror(errno));
		CHILD_CHECK(*cw == 1, "word %u after the wake", *cw);
		CHILD_CHECK(ipcchan_unmap(&crg) == 0, "unmap");

		/* Ping-pong through a read-write mapping of our own. */
		CHILD_CHECK(ipcchan_map(fds[1], 0, &crg) == 0, "map tx");
		cw = (volatile __u32 *)((char *)crg.addr + 3 * self->page);
		for (i = 0; i < ROUNDS; i++) {
			__u32 want = 2 * i + 1, v;

			while ((v = __atomic_load_n(cw, __ATOMIC_ACQUIRE)) !=
			       want) {
				CHILD_CHECK(v == 2 * (__u32)i, "round %d: %u", i,
					    v);
				r = futex(cw, FUTEX_WAIT, v, 20000);
				CHILD_CHECK(r == 0 || errno == EAGAIN ||
					    errno == EINTR,
					    "round %d: FUTEX_WAIT %s", i,
					    strerror(errno));
			}
			__atomic_store_n(cw, want + 1, __ATOMIC_RELEASE);
			futex(cw, FUTEX_WAKE, 1, 0);
		}
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &rg));
	w = (volatile __u32 *)((char *)rg.addr + self->page + 64);
	/* Once it sleeps, a wake from here must find it. */
	st = wait_asleep_in(pid, FUTEX_NR, WAIT_MS);
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	woken = futex(w, FUTEX_WAKE, 1, 0);
	if (st || woken != 1)
		kill(pid, SIGKILL);
	ASSERT_EQ(0, st) TH_LOG("the child never slept in FUTEX_WAIT");
	ASSERT_EQ(1, woken) TH_LOG("FUTEX_WAKE did not find the waiter");

	w = (volatile __u32 *)((char *)rg.addr + 3 * self->page);
	for (i = 0; i < ROUNDS; i++) {
		__u32 want = 2 * i + 2, v;

		__atomic_store_n(w, want - 1, __ATOMIC_RELEASE);
		futex(w, FUTEX_WAKE, 1, 0);
		while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != want) {
			ASSERT_EQ(want - 1, v) TH_LOG("round %d", i);
			st = futex(w, FUTEX_WAIT, v, WAIT_MS);
			if (st && errno == ETIMEDOUT)
				kill(pid, SIGKILL);
			ASSERT_TRUE(st == 0 || errno == EAGAIN ||
				    errno == EINTR)
				TH_LOG("round %d: FUTEX_WAIT %s", i,
				       strerror(errno));
		}
	}
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	EXPECT_EQ(2 * ROUNDS, *w);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
	close(ready[0]);
	close(ready[1]);
}

/* ---- slots ----------------------------------------------------------------- */

TEST_F(shm, slot_roundtrip)
{
	struct ipcchan_region tx, rx;
	struct ipcchan_region_info ri;
	struct ipcchan_slot_loan l;
	struct ipcchan_query q0, q;
	struct ipcchan_stats st;
	struct ipcchan_recv r;
	unsigned int prio = 0;
	uint32_t slot = 12345;
	int fds[2], s;
	ssize_t n;

	ASSERT_EQ(0, make_chan(self->ctl, 0, 2 * self->page, 1024, 0, 0, fds));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &tx));
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rx));
	EXPECT_EQ(1024, tx.slot_size);
	EXPECT_EQ(2 * self->page / 1024, tx.nr_slots);
	EXPECT_SLOTS(fds[1], tx.nr_slots, 0, 0, 0);

	/* The raw loan reports the offset and size. */
	memset(&l, 0, sizeof(l));
	l.flags = IPCCHAN_NONBLOCK;
	ASSERT_EQ(0, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN, &l));
	ASSERT_LT(l.slot, tx.nr_slots);
	EXPECT_EQ((__u64)l.slot * 1024, l.offset);
	EXPECT_EQ(1024, l.size);
	EXPECT_EQ(0, l.pad);
	EXPECT_EQ(0, l.reserved[0] | l.reserved[1]);
	EXPECT_SLOTS(fds[1], tx.nr_slots - 1, 1, 0, 1);
	EXPECT_SLOTS(fds[0], tx.nr_slots - 1, 1, 0, 0);
	EXPECT_EQ(0, ipcchan_slot_release(fds[1], l.slot));
	EXPECT_SLOTS(fds[1], tx.nr_slots, 0, 0, 0);

	/* Loan, write in place, send. */
	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	s = ipcchan_slot_loan(fds[1], 0, 0);
	ASSERT_GE(s, 0);
	ASSERT_LT(s, (int)tx.nr_slots);
	fill_msg(ipcchan_slot_ptr(&tx, s), 1000, 7);
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 1000, 9, 0, 0));
	EXPECT_SLOTS(fds[1], tx.nr_slots - 1, 0, 1, 0);
	/* A slot message is charged IPCCHAN_MSG_OVERHEAD, not its length. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);

	/* Receive it in place: the same slot, now ours. */
	n = ipcchan_slot_recv(fds[0], &slot, NULL, 0, &prio, IPCCHAN_NONBLOCK,
			      0);
	ASSERT_EQ(1000, n);
	EXPECT_EQ((uint32_t)s, slot);
	EXPECT_EQ(9, prio);
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rx, slot), 1000, 7));
	EXPECT_SLOTS(fds[0], tx.nr_slots - 1, 1, 0, 1);
	EXPECT_SLOTS(fds[1], tx.nr_slots - 1, 1, 0, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
	/* The sender lost it at the send. */
	EXPECT_EQ(-EINVAL, ipcchan_slot_release(fds[1], slot));
	EXPECT_EQ(0, ipcchan_slot_release(fds[0], slot));
	EXPECT_SLOTS(fds[0], tx.nr_slots, 0, 0, 0);
	ASSERT_EQ(0, rinfo(fds[0], &ri));
	EXPECT_EQ(2, ri.loans);
	EXPECT_EQ(0, ri.slots_reclaimed);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.sent);
	EXPECT_EQ(1, st.received);

	/* An empty slot message, and the raw view of a receive. */
	s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 0, 0, 0, 0));
	memset(&r, 0, sizeof(r));
	r.flags = IPCCHAN_RECV_SLOT | IPCCHAN_NONBLOCK;
	r.slot = 77;	/* output only */
	ASSERT_EQ(0, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &r));
	EXPECT_EQ(0, r.len);
	EXPECT_EQ((__u32)s, r.slot);
	EXPECT_NE(0, r.seq);
	EXPECT_EQ(0, r.pad);
	EXPECT_EQ(0, r.reserved);
	EXPECT_EQ(0, ipcchan_slot_release(fds[0], r.slot));

	/* Every slot, each with its own bytes. */
	{
		int held[64], i, k;

		ASSERT_LE(tx.nr_slots, ARRAY_SIZE(held));
		for (i = 0; i < (int)tx.nr_slots; i++) {
			held[i] = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
			ASSERT_GE(held[i], 0);
			for (k = 0; k < i; k++) {
				ASSERT_NE(held[k], held[i]);
			}
			fill_msg(ipcchan_slot_ptr(&tx, held[i]), 1024,
				 100 + held[i]);
		}
		for (i = 0; i < (int)tx.nr_slots; i++) {
			ASSERT_EQ(0, ipcchan_slot_send(fds[1], held[i], 1024,
						       0, IPCCHAN_NONBLOCK, 0));
		}
		for (i = 0; i < (int)tx.nr_slots; i++) {
			ASSERT_EQ(1024, ipcchan_slot_recv(fds[0], &slot, NULL,
							  0, NULL,
							  IPCCHAN_NONBLOCK, 0));
			/* FIFO within a priority. */
			EXPECT_EQ((uint32_t)held[i], slot);
			EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rx, slot),
						1024, 100 + slot));
			EXPECT_EQ(0, ipcchan_slot_release(fds[0], slot));
		}
	}
	EXPECT_SLOTS(fds[1], tx.nr_slots, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&tx));
	EXPECT_EQ(0, ipcchan_unmap(&rx));
	close_pair(fds);
}

/*
 * A receiver that knows nothing of slots (no RECV_SLOT: plain, PEEK,
 * batch) gets a copy, and the slot goes back to the pool when the message
 * is received. Bytes past the length are not touched.
 */
TEST_F(shm, slot_received_as_copy)
{
	unsigned char buf[2048 + 64];
	struct ipcchan_msghdr mh[2];
	struct ipcchan_region tx;
	struct ipcchan_recv r;
	uint32_t slot;
	size_t i;
	long n;
	int fds[2], s;

	/* One slot, a page. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, self->page, 0, 0,
			       fds));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &tx));

	s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	fill_msg(ipcchan_slot_ptr(&tx, s), 2048, 1);
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 1500, 3, 0, 0));

	/* Too small a buffer: -EMSGSIZE, the length, still queued. */
	n = chan_recv(fds[0], buf, 1499, IPCCHAN_NONBLOCK, &r);
	EXPECT_EQ(-EMSGSIZE, n);
	EXPECT_EQ(1500, r.len);
	EXPECT_SLOTS(fds[1], 0, 0, 1, 0);
	/* PEEK copies and leaves it in flight. */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(1500, chan_recv(fds[0], buf, sizeof(buf),
				  IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &r));
	EXPECT_EQ(-1, check_msg(buf, 1500, 1));
	/* Without RECV_SLOT, slot reads 0 (it was a reserved field). */
	EXPECT_EQ(0, r.slot);
	EXPECT_SLOTS(fds[1], 0, 0, 1, 0);
	/* A plain receive copies it and frees the slot. */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(1500, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				  &r));
	EXPECT_EQ(-1, check_msg(buf, 1500, 1));
	for (i = 1500; i < sizeof(buf); i++) {
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %zu written", i);
	}
	EXPECT_EQ(0, r.slot);
	EXPECT_EQ(3, r.prio);
	EXPECT_SLOTS(fds[1], 1, 0, 0, 0);

	/* A batch too, mixed with an ordinary message. */
	s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	fill_msg(ipcchan_slot_ptr(&tx, s), 2048, 2);
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 2048, 0, 0, 0));
	ASSERT_EQ(0, chan_send(fds[1], "plain", 5, 0, IPCCHAN_NONBLOCK));
	memset(buf, 0, sizeof(buf));
	memset(mh, 0, sizeof(mh));
	mh[0].buf = ptr64(buf);
	mh[0].len = 2048;
	mh[1].buf = ptr64(buf + 2048);
	mh[1].len = 64;
	ASSERT_EQ(2, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, mh, 2,
				IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(2048, mh[0].len);
	EXPECT_EQ(-1, check_msg(buf, 2048, 2));
	EXPECT_EQ(5, mh[1].len);
	EXPECT_EQ(0, memcmp(buf + 2048, "plain", 5));
	EXPECT_SLOTS(fds[1], 1, 0, 0, 0);

	/* RECV_SLOT takes ordinary messages as ordinary messages. */
	ASSERT_EQ(0, chan_send(fds[1], "plain", 5, 0, IPCCHAN_NONBLOCK));
	slot = 0;
	ASSERT_EQ(5, ipcchan_slot_recv(fds[0], &slot, buf, sizeof(buf), NULL,
				       IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(IPCCHAN_SLOT_NONE, slot);
	EXPECT_EQ(0, memcmp(buf, "plain", 5));
	/* ... and too small a buffer is still -EMSGSIZE for them. */
	ASSERT_EQ(0, chan_send(fds[1], "plain", 5, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, ipcchan_slot_recv(fds[0], &slot, NULL, 0, NULL,
					       IPCCHAN_NONBLOCK, 0));
	ASSERT_EQ(5, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	/* An ordinary receive reports no slot. */
	EXPECT_EQ(0, r.slot);
	EXPECT_EQ(0, ipcchan_unmap(&tx));
	close_pair(fds);

	/* End of channel, with RECV_SLOT: 0, seq 0, no slot. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 64, 0, 0, fds));
	close_fd(&fds[1]);
	memset(&r, 0, sizeof(r));
	r.flags = IPCCHAN_RECV_SLOT;
	EXPECT_EQ(0, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &r));
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(IPCCHAN_SLOT_NONE, r.slot);
	close_pair(fds);
}

/*
 * The kernel copies between a channel and the channel's own mapping:
 * sending from the region, receiving into it, and a slot copied into
 * another slot of the same region (the fault path of the region under the
 * channel's locks; lockdep watches in the debug kernel).
 */
TEST_F(shm, copies_to_and_from_own_mapping)
{
	size_t region = 4 * self->page;
	struct ipcchan_region rg;
	struct ipcchan_recv r;
	char *p;
	int fds[2], s;

	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX, region, 1024,
			       0, 0, fds));
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	p = rg.addr;
	/* Untouched pages: the copy faults them in. */
	ASSERT_EQ(0, chan_send(fds[0], p + region - 1000, 1000, 0,
			       IPCCHAN_NONBLOCK));
	ASSERT_EQ(1000, chan_recv(fds[1], p + region - 3000, 1000,
				  IPCCHAN_NONBLOCK, NULL));
	fill_msg(p + 2 * self->page, 1000, 5);
	ASSERT_EQ(0, chan_send(fds[1], p + 2 * self->page, 1000, 0,
			       IPCCHAN_NONBLOCK));
	ASSERT_EQ(1000, chan_recv(fds[0], p + 100, 1000, IPCCHAN_NONBLOCK,
				  NULL));
	EXPECT_EQ(-1, check_msg(p + 100, 1000, 5));

	/* A slot message copied into another slot. */
	s = ipcchan_slot_loan(fds[0], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	fill_msg(ipcchan_slot_ptr(&rg, s), 1024, 6);
	ASSERT_EQ(0, ipcchan_slot_send(fds[0], s, 1024, 0, 0, 0));
	ASSERT_EQ(1024, chan_recv(fds[1], ipcchan_slot_ptr(&rg, (s + 1) %
							   rg.nr_slots),
				  1024, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, (s + 1) % rg.nr_slots),
				1024, 6));
	/* ... and into itself, the slot freed as it is received. */
	s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	fill_msg(ipcchan_slot_ptr(&rg, s), 1024, 8);
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 1024, 0, 0, 0));
	ASSERT_EQ(1024, chan_recv(fds[0], ipcchan_slot_ptr(&rg, s), 1024,
				  IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, s), 1024, 8));
	EXPECT_SLOTS(fds[0], rg.nr_slots, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
}

/* Slot messages are bounded by the slot, not by msg_size_max or queue_bytes. */
TEST_F(shm, slot_message_bounds)
{
	struct ipcchan_attr a;
	struct ipcchan_region tx;
	struct ipcchan_stats st;
	static char buf[4096];
	int fds[2], s, t, i;

	memset(&a, 0, sizeof(a));
	a.msg_size_max = 128;
	a.queue_msgs = 3;
	a.queue_bytes = 128;
	a.region_size = 4 * self->page;
	a.slot_size = 4096;
	ASSERT_EQ(0, ipcchan_create(self->ctl, 0, &a, fds));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &tx));
	s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(s, 0);
	/* More than the slot: -EMSGSIZE, and still ours. */
	EXPECT_EQ(-EMSGSIZE, ipcchan_slot_send(fds[1], s, 4097, 0,
					       IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(-EMSGSIZE, ipcchan_slot_send(fds[1], s, ~(size_t)0, 0,
					       IPCCHAN_NONBLOCK, 0));
	EXPECT_SLOTS(fds[1], 3, 1, 0, 1);
	/* Three slot messages of 4096 fill queue_msgs, not queue_bytes. */
	for (i = 0; i < 3; i++) {
		if (i) {
			s = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
			ASSERT_GE(s, 0);
		}
		fill_msg(ipcchan_slot_ptr(&tx, s), 4096, 20 + i);
		ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 4096, 0,
					       IPCCHAN_NONBLOCK, 0));
	}
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(3, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	/* The queue is full: the send fails and the slot stays ours. */
	t = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
	ASSERT_GE(t, 0);
	EXPECT_EQ(-EAGAIN, ipcchan_slot_send(fds[1], t, 1, 0,
					     IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(-ETIMEDOUT, ipcchan_slot_send(fds[1], t, 1, 0,
						IPCCHAN_TIMEOUT,
						10 * NSEC_PER_MSEC));
	EXPECT_SLOTS(fds[1], 0, 1, 3, 1);
	/* An ordinary message still obeys msg_size_max. */
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 129, 0, IPCCHAN_NONBLOCK));
	/* A 4096-byte copy into a 4096-byte buffer is fine. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(4096, chan_recv(fds[0], buf, sizeof(buf),
					  IPCCHAN_NONBLOCK, NULL));
		EXPECT_EQ(-1, check_msg(buf, 4096, 20 + i));
	}
	EXPECT_EQ(0, ipcchan_slot_send(fds[1], t, 1, 0, IPCCHAN_NONBLOCK, 0));
	ASSERT_EQ(1, chan_recv(fds[0], buf, 1, IPCCHAN_NONBLOCK, NULL));
	EXPECT_SLOTS(fds[1], 4, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&tx));
	close_pair(fds);
}

/* A received slot may be sent on, as a reply, without a copy. */
TEST_F(shm, slot_sent_back_as_reply)
{
	struct ipcchan_region rg;
	uint32_t slot, back;
	int fds[2], s;
	pid_t pid;

	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX,
			       2 * self->page, 256, 0, 0, fds));
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_region crg;
		unsigned char *b;
		ssize_t n;
		int i;

		alarm(20);
		close(fds[0]);
		CHILD_CHECK(ipcchan_map(fds[1], 0, &crg) == 0, "map");
		/* Echo server: uppercase in place, send the slot back. */
		for (i = 0; i < 50; i++) {
			n = ipcchan_slot_recv(fds[1], &slot, NULL, 0, NULL, 0,
					      0);
			CHILD_CHECK(n == 100 && slot < crg.nr_slots,
				    "recv %zd slot %u", n, slot);
			b = ipcchan_slot_ptr(&crg, slot);
			CHILD_CHECK(b[0] == (unsigned char)i, "msg %d: %u", i,
				    b[0]);
			b[1] = 0xee;
			CHILD_CHECK(ipcchan_slot_send(fds[1], slot, 2, 0, 0, 0) ==
				    0, "reply");
		}
		_exit(0);
	}
	close_fd(&fds[1]);
	for (int i = 0; i < 50; i++) {
		s = ipcchan_slot_loan(fds[0], 0, 0);
		ASSERT_GE(s, 0);
		((unsigned char *)ipcchan_slot_ptr(&rg, s))[0] = i;
		ASSERT_EQ(0, ipcchan_slot_send(fds[0], s, 100, 0, 0, 0));
		ASSERT_EQ(2, ipcchan_slot_recv(fds[0], &back, NULL, 0, NULL,
					       IPCCHAN_TIMEOUT,
					       WAIT_MS * NSEC_PER_MSEC));
		EXPECT_EQ((uint32_t)s, back);
		EXPECT_EQ(0xee, ((unsigned char *)ipcchan_slot_ptr(&rg, s))[1]);
		ASSERT_EQ(0, ipcchan_slot_release(fds[0], back));
	}
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_SLOTS(fds[0], rg.nr_slots, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

TEST_F_TIMEOUT(shm, slot_exhaustion, 60)
{
	int fds[2], nb[2], held[4], s, i, ready[2];
	struct sigaction sa;
	__u64 t0, t;
	pid_t pid;
	char c;

	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, self->page / 4, 0, 0,
			       fds));
	for (i = 0; i < 4; i++) {
		held[i] = ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0);
		ASSERT_GE(held[i], 0);
	}
	EXPECT_SLOTS(fds[1], 0, 4, 0, 4);
	/* None free: -EAGAIN nonblocking ... */
	EXPECT_EQ(-EAGAIN, ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(-EAGAIN, loan_nb(fds[1]));
	/* ... -ETIMEDOUT after the timeout, not before ... */
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT,
						100 * NSEC_PER_MSEC));
	t = now_ns(CLOCK_MONOTONIC) - t0;
	EXPECT_LE(100 * NSEC_PER_MSEC, t);
	/* ... at an absolute deadline, on either clock, past ones too. */
	EXPECT_EQ(-ETIMEDOUT, ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT |
						IPCCHAN_ABSTIME,
						now_ns(CLOCK_MONOTONIC) +
						20 * NSEC_PER_MSEC));
	EXPECT_EQ(-ETIMEDOUT, ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT |
						IPCCHAN_ABSTIME, 0));
	EXPECT_EQ(-ETIMEDOUT, ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT |
						IPCCHAN_ABSTIME |
						IPCCHAN_REALTIME,
						now_ns(CLOCK_REALTIME) +
						20 * NSEC_PER_MSEC));
	EXPECT_SLOTS(fds[1], 0, 4, 0, 4);

	/* An endpoint with O_NONBLOCK: as a send, -EAGAIN. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_FD_NONBLOCK, self->page,
			       self->page, 0, 0, nb));
	s = ipcchan_slot_loan(nb[1], 0, 0);
	ASSERT_GE(s, 0);
	EXPECT_EQ(-EAGAIN, ipcchan_slot_loan(nb[1], 0, 0));
	close_pair(nb);

	/* A slot that is free is loaned at once, past deadline or not. */
	EXPECT_EQ(0, ipcchan_slot_release(fds[1], held[3]));
	held[3] = ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
				    0);
	ASSERT_GE(held[3], 0);

	/* A blocked loan is interrupted by a signal (with a timeout: -EINTR). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		s = ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT,
				      15 * NSEC_PER_SEC);
		CHILD_CHECK(s == -EINTR, "loan: %d", s);
		CHILD_CHECK(got_usr1, "no handler ran");
		/* Then one that blocks until the parent releases a slot. */
		CHILD_CHECK(write(ready[1], "r", 1) == 1, "write");
		s = ipcchan_slot_loan(fds[1], 0, 0);
		CHILD_CHECK(s >= 0, "blocking loan: %d", s);
		CHILD_CHECK(write(ready[1], &s, sizeof(s)) == sizeof(s),
			    "write");
		_exit(0);
	}
	ASSERT_EQ(0, wait_asleep_in_ioctl(pid));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, wait_asleep_in_ioctl(pid));
	/* Nothing was taken by the interrupted loan. */
	EXPECT_SLOTS(fds[1], 0, 4, 0, 4);
	EXPECT_EQ(0, ipcchan_slot_release(fds[1], held[1]));
	ASSERT_EQ(sizeof(s), read(ready[0], &s, sizeof(s)));
	EXPECT_EQ(held[1], s);
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	/* The child shared our file: the slot is held here. */
	EXPECT_SLOTS(fds[1], 0, 4, 0, 4);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, ipcchan_slot_release(fds[1], held[i]));
	}
	EXPECT_SLOTS(fds[1], 4, 0, 0, 0);
	close_pair(fds);
	close(ready[0]);
	close(ready[1]);
}

/* A slot freed by a receiver's release wakes a sender blocked in a loan. */
TEST_F_TIMEOUT(shm, slot_loan_woken_by_receiver, 60)
{
	struct ipcchan_region rg;
	int fds[2], ready[2], s, t;
	uint32_t slot;
	pid_t pid;

	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, self->page, 0, 0,
			       fds));
	ASSERT_EQ(0, ipcchan_map(fds[1], 0, &rg));
	s = ipcchan_slot_loan(fds[1], 0, 0);
	ASSERT_EQ(0, s);
	strcpy(rg.addr, "first");
	ASSERT_EQ(0, ipcchan_slot_send(fds[1], s, 6, 0, 0, 0));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		close(fds[0]);
		t = ipcchan_slot_loan(fds[1], IPCCHAN_TIMEOUT,
				      15 * NSEC_PER_SEC);
		CHILD_CHECK(t == 0, "loan: %d", t);
		strcpy(rg.addr, "second");
		CHILD_CHECK(ipcchan_slot_send(fds[1], t, 7, 0, 0, 0) == 0,
			    "send");
		_exit(0);
	}
	ASSERT_EQ(0, wait_asleep_in_ioctl(pid));
	ASSERT_EQ(6, ipcchan_slot_recv(fds[0], &slot, NULL, 0, NULL, 0, 0));
	EXPECT_STREQ("first", (char *)rg.addr);
	/* Still asleep: a received slot is held, not free. */
	sleep_ms(SETTLE_MS);
	EXPECT_EQ(-EBUSY, child_done(pid));
	EXPECT_EQ(0, ipcchan_slot_release(fds[0], slot));
	ASSERT_EQ(7, ipcchan_slot_recv(fds[0], &slot, NULL, 0, NULL,
				       IPCCHAN_TIMEOUT,
				       WAIT_MS * NSEC_PER_MSEC));
	EXPECT_STREQ("second", (char *)rg.addr);
	EXPECT_EQ(0, ipcchan_slot_release(fds[0], slot));
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
	close(ready[0]);
	close(ready[1]);
}

/* ---- bad input ------------------------------------------------------------- */

struct cmd_size {
	const char *name;
	unsigned long cmd;
	unsigned int ver0;
};

static const struct cmd_size shm_cmds[] = {
	{ "SLOT_LOAN", IPCCHAN_IOC_SLOT_LOAN, IPCCHAN_SLOT_LOAN_SIZE_VER0 },
	{ "SLOT_RELEASE", IPCCHAN_IOC_SLOT_RELEASE,
	  IPCCHAN_SLOT_RELEASE_SIZE_VER0 },
	{ "SEM", IPCCHAN_IOC_SEM, IPCCHAN_SEM_SIZE_VER0 },
	{ "REGION_INFO", IPCCHAN_IOC_REGION_INFO,
	  IPCCHAN_REGION_INFO_SIZE_VER0 },
};

TEST_F(shm, struct_sizes)
{
	static unsigned char buf[8192];
	struct ipcchan_region_info ri;
	unsigned int i, j;
	int fds[2];

	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 64, 2, 0, fds));
	for (i = 0; i < ARRAY_SIZE(shm_cmds); i++) {
		const struct cmd_size *c = &shm_cmds[i];
		unsigned int sizes[] = { 0, 1, 8, c->ver0 - 8, c->ver0 - 1 };

		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			memset(buf, 0, sizeof(buf));
			EXPECT_EQ(-EINVAL, chan_ioctl(fds[1],
						      ioc_resize(c->cmd,
								 sizes[j]),
						      buf))
				TH_LOG("%s size %u", c->name, sizes[j]);
		}
		memset(buf, 0, sizeof(buf));
		buf[c->ver0 + 17] = 1;
		EXPECT_EQ(-E2BIG, chan_ioctl(fds[1], ioc_resize(c->cmd,
								c->ver0 + 64),
					     buf))
			TH_LOG("%s with a non-zero tail", c->name);
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(-E2BIG, chan_ioctl(fds[1], ioc_resize(c->cmd,
								4096 + 8),
					     buf))
			TH_LOG("%s above a page", c->name);
		/* On the control fd: not a control command. */
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(-ENOTTY, chan_ioctl(self->ctl, c->cmd, buf))
			TH_LOG("%s on the control fd", c->name);
	}
	/* Nothing was loaned or posted by all that. */
	EXPECT_SLOTS(fds[1], self->page / 64, 0, 0, 0);
	EXPECT_EQ(0, sem_value(fds[1], 0));

	/* Larger with a zero tail: accepted, the tail left zero. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(0, chan_ioctl(fds[1], ioc_resize(IPCCHAN_IOC_REGION_INFO,
						   sizeof(ri) + 64), buf));
	memcpy(&ri, buf, sizeof(ri));
	EXPECT_EQ(self->page, ri.region_size);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, buf[sizeof(ri) + i]);
	}
	memset(buf, 0, sizeof(buf));
	((struct ipcchan_slot_loan *)buf)->flags = IPCCHAN_NONBLOCK;
	EXPECT_EQ(0, chan_ioctl(fds[1], ioc_resize(IPCCHAN_IOC_SLOT_LOAN,
						   IPCCHAN_SLOT_LOAN_SIZE_VER0 +
						   64), buf));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, buf[IPCCHAN_SLOT_LOAN_SIZE_VER0 + i]);
	}
	EXPECT_EQ(0, release_raw(fds[1],
				 ((struct ipcchan_slot_loan *)buf)->slot));
	memset(buf, 0, sizeof(buf));
	((struct ipcchan_sem *)buf)->op = IPCCHAN_SEM_POST;
	((struct ipcchan_sem *)buf)->count = 2;
	EXPECT_EQ(0, chan_ioctl(fds[1], ioc_resize(IPCCHAN_IOC_SEM,
						   IPCCHAN_SEM_SIZE_VER0 + 64),
				buf));
	EXPECT_EQ(2, ((struct ipcchan_sem *)buf)->value);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, buf[IPCCHAN_SEM_SIZE_VER0 + i]);
	}
	close_pair(fds);
}

TEST_F(shm, region_info_bad_input)
{
	struct ipcchan_region_info ri;
	unsigned int i;
	int fds[2];

	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 64, 0, 0, fds));
	memset(&ri, 0, sizeof(ri));
	ri.flags = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO, &ri));
	memset(&ri, 0, sizeof(ri));
	ri.flags = 1ULL << 63;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO, &ri));
	for (i = 0; i < ARRAY_SIZE(ri.reserved); i++) {
		memset(&ri, 0, sizeof(ri));
		ri.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO,
					      &ri)) TH_LOG("reserved[%u]", i);
	}
	memset(&ri, 0, sizeof(ri));
	ri.pad = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO, &ri));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO,
				      unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO,
				      KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_REGION_INFO, NULL));
	close_pair(fds);
}

TEST_F(shm, slot_loan_bad_input)
{
	struct ipcchan_slot_loan l;
	unsigned int i;
	int fds[2], noslots[2], plain[2];
	void *ro;
	__u64 bad_flags[] = {
		1ULL << 4, 1ULL << 8, 1ULL << 9, 1ULL << 10, 1ULL << 63,
		IPCCHAN_ABSTIME, IPCCHAN_REALTIME,
		IPCCHAN_TIMEOUT | IPCCHAN_REALTIME,
		IPCCHAN_SEM_UNDO,
	};

	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 1024, 0, 0, fds));
	for (i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		memset(&l, 0, sizeof(l));
		l.flags = bad_flags[i];
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN,
					      &l))
			TH_LOG("flags %#llx", (unsigned long long)bad_flags[i]);
	}
	memset(&l, 0, sizeof(l));
	l.pad = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN, &l));
	for (i = 0; i < ARRAY_SIZE(l.reserved); i++) {
		memset(&l, 0, sizeof(l));
		l.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN,
					      &l)) TH_LOG("reserved[%u]", i);
	}
	/* Output fields are outputs only. */
	memset(&l, 0, sizeof(l));
	l.slot = 3;
	l.offset = 12345;
	l.size = 1;
	l.flags = IPCCHAN_NONBLOCK;
	ASSERT_EQ(0, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN, &l));
	EXPECT_EQ(1024, l.size);
	EXPECT_EQ(0, release_raw(fds[1], l.slot));
	/* Bad pointers. */
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN,
				      unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN,
				      KERNEL_ADDR));
	/* Readable, not writable: the slot, loaned, is given back. */
	ro = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SLOT_LOAN, ro));
	munmap(ro, self->page);
	EXPECT_SLOTS(fds[1], 4, 0, 0, 0);

	/* An endpoint that does not send. */
	EXPECT_EQ(-EBADF, loan_nb(fds[0]));
	/* A region without slots, a channel without a region. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 0, 1, 0, noslots));
	EXPECT_EQ(-ENODEV, loan_nb(noslots[1]));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, plain));
	EXPECT_EQ(-ENODEV, loan_nb(plain[1]));
	EXPECT_EQ(-ENOTTY, loan_nb(self->ctl));
	EXPECT_SLOTS(fds[1], 4, 0, 0, 0);
	close_pair(plain);
	close_pair(noslots);
	close_pair(fds);
}

/*
 * A release of a slot the caller does not hold (free, in flight, held by
 * another endpoint, out of range, already released) is -EINVAL and
 * changes nothing: the counts, the holder's rights and the bytes stay.
 */
TEST_F(shm, slot_release_bad_input)
{
	const char *name = uniq_name(self, "rel");
	struct ipcchan_slot_release rel;
	struct ipcchan_region rg;
	int noslots[2], a, b, c, mine, theirs, flight;
	uint32_t slot, bad[] = { 4, 5, 1000, 65535, 65536, 0x7fffffff,
				 IPCCHAN_SLOT_NONE };
	unsigned int i;

	a = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			   IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0600,
			   self->page, 1024, 0);
	ASSERT_GE(a, 0);
	b = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0);
	ASSERT_GE(b, 0);
	c = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, ipcchan_map(a, 0, &rg));

	mine = loan_nb(a);
	ASSERT_GE(mine, 0);
	theirs = loan_nb(b);
	ASSERT_GE(theirs, 0);
	flight = loan_nb(a);
	ASSERT_GE(flight, 0);
	fill_msg(ipcchan_slot_ptr(&rg, mine), 1024, 1);
	fill_msg(ipcchan_slot_ptr(&rg, theirs), 1024, 2);
	fill_msg(ipcchan_slot_ptr(&rg, flight), 1024, 3);
	ASSERT_EQ(0, send_slot_raw(a, flight, 1024, 0, IPCCHAN_NONBLOCK));
	/* The one free slot. */
	for (slot = 0; slot < 4; slot++)
		if ((int)slot != mine && (int)slot != theirs &&
		    (int)slot != flight)
			break;
	EXPECT_SLOTS(a, 1, 2, 1, 1);

	/* Out of range, forged. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, release_raw(a, bad[i])) TH_LOG("slot %u",
								   bad[i]);
	}
	/* Free. */
	EXPECT_EQ(-EINVAL, release_raw(a, slot));
	/* Held by another endpoint (a different open file). */
	EXPECT_EQ(-EINVAL, release_raw(a, theirs));
	EXPECT_EQ(-EINVAL, release_raw(b, mine));
	EXPECT_EQ(-EINVAL, release_raw(c, mine));
	/* In flight: nobody holds it, not even its sender. */
	EXPECT_EQ(-EINVAL, release_raw(a, flight));
	EXPECT_EQ(-EINVAL, release_raw(c, flight));
	/* flags, pad, reserved. */
	memset(&rel, 0, sizeof(rel));
	rel.slot = mine;
	rel.flags = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(a, IPCCHAN_IOC_SLOT_RELEASE, &rel));
	rel.flags = 0;
	rel.pad = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(a, IPCCHAN_IOC_SLOT_RELEASE, &rel));
	rel.pad = 0;
	for (i = 0; i < ARRAY_SIZE(rel.reserved); i++) {
		rel.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(a, IPCCHAN_IOC_SLOT_RELEASE,
					      &rel));
		rel.reserved[i] = 0;
	}
	EXPECT_EQ(-EFAULT, chan_ioctl(a, IPCCHAN_IOC_SLOT_RELEASE,
				      unmapped_addr()));
	/* No slots at all. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 0, 0, 0, noslots));
	EXPECT_EQ(-ENODEV, release_raw(noslots[1], 0));
	EXPECT_EQ(-ENODEV, release_raw(noslots[0], 0));
	close_pair(noslots);
	EXPECT_EQ(-ENOTTY, release_raw(self->ctl, mine));

	/* Nothing changed. */
	EXPECT_SLOTS(a, 1, 2, 1, 1);
	EXPECT_SLOTS(b, 1, 2, 1, 1);
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, mine), 1024, 1));
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, theirs), 1024, 2));
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, flight), 1024, 3));
	/* The in-flight slot arrives intact, and only its receiver frees it. */
	ASSERT_EQ(1024, ipcchan_slot_recv(c, &slot, NULL, 0, NULL,
					  IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ((uint32_t)flight, slot);
	EXPECT_EQ(-EINVAL, release_raw(a, flight));
	EXPECT_EQ(0, release_raw(c, flight));
	/* The holders still hold theirs; a double release is -EINVAL. */
	EXPECT_EQ(0, release_raw(a, mine));
	EXPECT_EQ(-EINVAL, release_raw(a, mine));
	EXPECT_EQ(0, release_raw(b, theirs));
	EXPECT_EQ(-EINVAL, release_raw(b, theirs));
	EXPECT_SLOTS(a, 4, 0, 0, 0);
	/* A loan after all that works, with no slot counted twice. */
	for (i = 0; i < 4; i++) {
		EXPECT_LE(0, loan_nb(a));
	}
	EXPECT_EQ(-EAGAIN, loan_nb(a));
	EXPECT_SLOTS(a, 0, 4, 0, 4);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close(a);
	close(b);
	close(c);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

TEST_F(shm, slot_send_recv_bad_input)
{
	struct ipcchan_region rg;
	struct ipcchan_iovec iov = { ptr64("x"), 1 };
	struct ipcchan_stats st;
	struct ipcchan_send s;
	struct ipcchan_recv r;
	int fds[2], other[2], plain[2], mine, free_slot, i;
	char buf[64];

	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX, self->page,
			       1024, 0, 0, fds));
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	mine = loan_nb(fds[0]);
	ASSERT_GE(mine, 0);
	fill_msg(ipcchan_slot_ptr(&rg, mine), 1024, 4);
	free_slot = (mine + 1) % 4;

	/* Not held by this endpoint: free, held by the peer end, forged. */
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], free_slot, 1, 0,
					 IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[1], mine, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], 4, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], IPCCHAN_SLOT_NONE, 1, 0,
					 IPCCHAN_NONBLOCK));
	/* buf with SEND_SLOT; SEND_IOV with it; slot without it. */
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_SLOT | IPCCHAN_NONBLOCK;
	s.slot = mine;
	s.len = 1;
	s.buf = ptr64(buf);
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	s.buf = 0;
	s.flags |= IPCCHAN_SEND_IOV;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	s.buf = ptr64(&iov);
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_NONBLOCK;
	s.buf = ptr64("y");
	s.len = 1;
	s.slot = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	s.slot = IPCCHAN_SLOT_NONE;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	/* prio and reserved, with SEND_SLOT. */
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], mine, 1, IPCCHAN_PRIO_MAX,
					 IPCCHAN_NONBLOCK));
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_SLOT | IPCCHAN_NONBLOCK;
	s.slot = mine;
	s.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_SEND, &s));
	/* Longer than the slot. */
	EXPECT_EQ(-EMSGSIZE, send_slot_raw(fds[0], mine, 1025, 0,
					   IPCCHAN_NONBLOCK));
	/* Nothing was sent, the slot is still ours, its bytes intact. */
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(0, st.sent);
	EXPECT_SLOTS(fds[0], 3, 1, 0, 1);
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, mine), 1024, 4));

	/* Once sent it is not ours: a second send is -EINVAL. */
	EXPECT_EQ(0, send_slot_raw(fds[0], mine, 1024, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], mine, 1024, 0,
					 IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);

	/* RECV_SLOT with PEEK; pad. */
	EXPECT_EQ(-EINVAL, chan_recv(fds[1], buf, sizeof(buf),
				     IPCCHAN_RECV_SLOT | IPCCHAN_RECV_PEEK |
				     IPCCHAN_NONBLOCK, NULL));
	memset(&r, 0, sizeof(r));
	r.flags = IPCCHAN_RECV_SLOT | IPCCHAN_NONBLOCK;
	r.pad = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_RECV, &r));
	/* The result cannot be written back: it stays queued, in flight. */
	{
		struct ipcchan_recv *ro = mmap(NULL, self->page,
					       PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS,
					       -1, 0);

		ASSERT_NE(MAP_FAILED, ro);
		ro->flags = IPCCHAN_RECV_SLOT | IPCCHAN_NONBLOCK;
		ASSERT_EQ(0, mprotect(ro, self->page, PROT_READ));
		EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_RECV, ro));
		munmap(ro, self->page);
	}
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_SLOTS(fds[0], 3, 0, 1, 0);
	ASSERT_EQ(1024, ipcchan_slot_recv(fds[1], (uint32_t *)&i, NULL, 0,
					  NULL, IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(mine, i);
	EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, mine), 1024, 4));
	EXPECT_EQ(0, ipcchan_slot_release(fds[1], i));

	/* SEND_SLOT on channels without slots. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 0, 0, 0, other));
	EXPECT_EQ(-ENODEV, send_slot_raw(other[1], 0, 0, 0, IPCCHAN_NONBLOCK));
	close_pair(other);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, plain));
	EXPECT_EQ(-ENODEV, send_slot_raw(plain[1], 0, 0, 0, IPCCHAN_NONBLOCK));
	/* RECV_SLOT on them is an ordinary receive. */
	ASSERT_EQ(0, chan_send(plain[1], "ab", 2, 0, IPCCHAN_NONBLOCK));
	memset(&r, 0, sizeof(r));
	ASSERT_EQ(2, chan_recv(plain[0], buf, sizeof(buf),
			       IPCCHAN_RECV_SLOT | IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(IPCCHAN_SLOT_NONE, r.slot);
	close_pair(plain);
	/* A slot held by another channel's endpoint means nothing here. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 1024, 0, 0, other));
	i = loan_nb(other[1]);
	ASSERT_GE(i, 0);
	EXPECT_EQ(-EINVAL, send_slot_raw(fds[0], i, 0, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, release_raw(fds[0], i));
	EXPECT_SLOTS(other[1], 3, 1, 0, 1);
	close_pair(other);
	EXPECT_SLOTS(fds[0], 4, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
}

/* Ownership belongs to the open file: dup, fork and SCM_RIGHTS share it. */
TEST_F(shm, slot_ownership_per_open_file)
{
	const char *name = uniq_name(self, "owner");
	int a, a2, b, s, sv[2];
	pid_t pid;

	a = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			   IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND |
			   IPCCHAN_OPEN_RECV, 0600, self->page, 256, 0);
	ASSERT_GE(a, 0);
	b = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV,
		      0);
	ASSERT_GE(b, 0);
	a2 = dup(a);
	ASSERT_GE(a2, 0);

	s = loan_nb(a);
	ASSERT_GE(s, 0);
	/* Another open of the same channel is another holder. */
	EXPECT_EQ(-EINVAL, release_raw(b, s));
	EXPECT_EQ(-EINVAL, send_slot_raw(b, s, 1, 0, IPCCHAN_NONBLOCK));
	/* A dup is the same file. */
	EXPECT_SLOTS(a2, 15, 1, 0, 1);
	EXPECT_SLOTS(b, 15, 1, 0, 0);
	EXPECT_EQ(0, release_raw(a2, s));

	/* So is a forked child's copy ... */
	s = loan_nb(a);
	ASSERT_GE(s, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		CHILD_CHECK(release_raw(b, s) == -EINVAL, "b released it");
		CHILD_CHECK(release_raw(a, s) == 0, "a could not");
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_SLOTS(a, 16, 0, 0, 0);

	/* ... and a descriptor passed with SCM_RIGHTS. */
	s = loan_nb(a);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		close(a);
		close(a2);
		fd = recv_fd(sv[1]);
		CHILD_CHECK(fd >= 0, "recv_fd: %d", fd);
		CHILD_CHECK(send_slot_raw(fd, s, 3, 0, IPCCHAN_NONBLOCK) == 0,
			    "send the passed file's slot");
		_exit(0);
	}
	ASSERT_EQ(0, send_fd(sv[0], a));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_SLOTS(a, 15, 0, 1, 0);
	/* Received by b: b holds it now, a does not. */
	ASSERT_EQ(3, ipcchan_slot_recv(b, (uint32_t *)&s, NULL, 0, NULL,
				       IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(-EINVAL, release_raw(a, s));
	EXPECT_EQ(0, release_raw(b, s));
	close(sv[0]);
	close(sv[1]);
	close(a2);
	close(a);
	close(b);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

/* ---- cleanup when a holder's file is released ------------------------------- */

/*
 * An endpoint file holding loaned and received slots is closed: every
 * slot it held returns, counted in slots_reclaimed; slots in flight stay
 * in flight. Also with the region still mapped through that endpoint:
 * the mapping does not keep the endpoint (and its slots) alive.
 */
TEST_F(shm, slots_reclaimed_on_close)
{
	const char *name = uniq_name(self, "reclaim");
	struct ipcchan_region rg, hrg;
	int p, h, s, i, round;
	uint32_t slot;
	__u64 r0;

	p = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			   IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0600,
			   2 * self->page, 512, 1);
	ASSERT_GE(p, 0);
	ASSERT_EQ(0, ipcchan_map(p, 0, &rg));
	for (round = 0; round < 2; round++) {
		h = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND |
			      IPCCHAN_OPEN_RECV, 0);
		ASSERT_GE(h, 0);
		if (round) {
			ASSERT_EQ(0, ipcchan_map(h, 0, &hrg));
		}
		r0 = reclaimed(p);
		/* h holds two loans and two received slots; one in flight. */
		for (i = 0; i < 2; i++) {
			ASSERT_LE(0, loan_nb(h));
		}
		for (i = 0; i < 3; i++) {
			s = loan_nb(p);
			ASSERT_GE(s, 0);
			fill_msg(ipcchan_slot_ptr(&rg, s), 512, s);
			ASSERT_EQ(0, send_slot_raw(p, s, 512, 0,
						   IPCCHAN_NONBLOCK));
		}
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(512, ipcchan_slot_recv(h, &slot, NULL, 0,
							 NULL,
							 IPCCHAN_NONBLOCK, 0));
		}
		EXPECT_SLOTS(p, 16 - 5, 4, 1, 0);
		EXPECT_SLOTS(h, 16 - 5, 4, 1, 4);
		/* A semaphore unit taken with UNDO comes back too. */
		ASSERT_EQ(0, ipcchan_sem_post(p, 0, 1, 0));
		ASSERT_EQ(0, ipcchan_sem_trywait(h, 0, IPCCHAN_SEM_UNDO));
		EXPECT_EQ(0, sem_value(p, 0));

		close(h);
		EXPECT_EQ(r0 + 4, reclaimed(p)) TH_LOG("round %d", round);
		EXPECT_SLOTS(p, 16 - 1, 0, 1, 0);
		EXPECT_EQ(1, sem_value(p, 0)) TH_LOG("round %d", round);
		ASSERT_EQ(0, ipcchan_sem_trywait(p, 0, 0));
		/* The one in flight is still receivable, intact. */
		h = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0);
		ASSERT_GE(h, 0);
		ASSERT_EQ(512, ipcchan_slot_recv(h, &slot, NULL, 0, NULL,
						 IPCCHAN_NONBLOCK, 0));
		EXPECT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, slot), 512,
					slot));
		EXPECT_EQ(0, ipcchan_slot_release(h, slot));
		close(h);
		EXPECT_SLOTS(p, 16, 0, 0, 0);
		if (round) {
			/* The closed endpoint's mapping: still there, shared. */
			((char *)hrg.addr)[5] = 'h';
			EXPECT_EQ('h', ((char *)rg.addr)[5]);
			EXPECT_EQ(0, ipcchan_unmap(&hrg));
		}
	}
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close(p);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

/*
 * Slots queued to a channel whose last receiver is gone return when the
 * queue is dropped: no leak, and the counters say so.
 */
TEST_F(shm, queued_slots_to_dead_receiver_returned)
{
	struct ipcchan_query q0, q;
	struct ipcchan_stats st;
	int fds[2], s, i;
	__u64 r0;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 512, 0, 0, fds));
	for (i = 0; i < 5; i++) {
		s = loan_nb(fds[1]);
		ASSERT_GE(s, 0);
		ASSERT_EQ(0, send_slot_raw(fds[1], s, 100 * i, 0,
					   IPCCHAN_NONBLOCK));
	}
	ASSERT_EQ(0, chan_send(fds[1], "plain", 5, 0, IPCCHAN_NONBLOCK));
	s = loan_nb(fds[1]);
	ASSERT_GE(s, 0);
	EXPECT_SLOTS(fds[1], 2, 1, 5, 1);
	r0 = reclaimed(fds[1]);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 6 * IPCCHAN_MSG_OVERHEAD + 5, q.user_bytes);

	/* The only receiver goes: the queue is dropped. */
	close_fd(&fds[0]);
	EXPECT_SLOTS(fds[1], 7, 1, 0, 1);
	EXPECT_EQ(r0 + 5, reclaimed(fds[1]));
	ASSERT_EQ(0, chan_stats(fds[1], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(6, st.dropped);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
	/* A send now fails with -EPIPE and leaves the slot held. */
	EXPECT_EQ(-EPIPE, send_slot_raw(fds[1], s, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_SLOTS(fds[1], 7, 1, 0, 1);
	EXPECT_EQ(0, release_raw(fds[1], s));
	EXPECT_SLOTS(fds[1], 8, 0, 0, 0);
	EXPECT_EQ(r0 + 5, reclaimed(fds[1]));
	close_pair(fds);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_region_bytes, q.user_region_bytes);
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
}

/* ---- semaphores ------------------------------------------------------------- */

TEST_F(shm, sem_post_wait_value)
{
	const char *name = uniq_name(self, "sem");
	int fds[2], dup_[2], named, i;
	__u32 v;

	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 3, 0, fds));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, sem_value(fds[0], i));
	}
	EXPECT_EQ(0, ipcchan_sem_post(fds[1], 0, 3, 0));
	/* Any endpoint, either direction, sees and takes them. */
	EXPECT_EQ(3, sem_value(fds[0], 0));
	EXPECT_EQ(0, sem_value(fds[0], 1));
	EXPECT_EQ(0, ipcchan_sem_trywait(fds[0], 0, 0));
	EXPECT_EQ(0, ipcchan_sem_wait(fds[1], 0, 0));
	EXPECT_EQ(0, ipcchan_sem_trywait(fds[0], 0, 0));
	EXPECT_EQ(-EAGAIN, ipcchan_sem_trywait(fds[0], 0, 0));
	EXPECT_EQ(0, sem_value(fds[1], 0));
	/* The raw call reports the value after the operation. */
	EXPECT_EQ(0, sem_raw(fds[1], IPCCHAN_SEM_POST, 2, 5, 0, 0, &v));
	EXPECT_EQ(5, v);
	EXPECT_EQ(0, sem_raw(fds[0], IPCCHAN_SEM_WAIT, 2, 0, 0, 0, &v));
	EXPECT_EQ(4, v);
	EXPECT_EQ(0, sem_raw(fds[0], IPCCHAN_SEM_GETVALUE, 2, 0, 0, 0, &v));
	EXPECT_EQ(4, v);
	EXPECT_EQ(0, sem_value(fds[0], 1));
	/* Up to IPCCHAN_SEM_VALUE_MAX, not one more. */
	EXPECT_EQ(0, ipcchan_sem_post(fds[0], 1, IPCCHAN_SEM_VALUE_MAX - 1,
				      0));
	EXPECT_EQ(0, ipcchan_sem_post(fds[0], 1, 1, 0));
	EXPECT_EQ((int)IPCCHAN_SEM_VALUE_MAX, sem_value(fds[0], 1));
	EXPECT_EQ(-EOVERFLOW, ipcchan_sem_post(fds[0], 1, 1, 0));
	EXPECT_EQ(-EOVERFLOW, ipcchan_sem_post(fds[0], 1, UINT_MAX, 0));
	EXPECT_EQ((int)IPCCHAN_SEM_VALUE_MAX, sem_value(fds[0], 1));
	EXPECT_EQ(-EOVERFLOW, ipcchan_sem_post(fds[0], 2,
					       IPCCHAN_SEM_VALUE_MAX, 0));
	EXPECT_EQ(-EOVERFLOW, ipcchan_sem_post(fds[0], 0, 0x80000000u, 0));
	EXPECT_EQ(4, sem_value(fds[0], 2));
	EXPECT_EQ(0, sem_value(fds[0], 0));
	close_pair(fds);

	/* A duplex pair has one set. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 1, 0,
			       dup_));
	EXPECT_EQ(0, ipcchan_sem_post(dup_[0], 0, 1, 0));
	EXPECT_EQ(0, ipcchan_sem_trywait(dup_[1], 0, 0));
	EXPECT_EQ(-EAGAIN, ipcchan_sem_trywait(dup_[0], 0, 0));
	close_pair(dup_);

	/* A named channel's semaphores, for every opener. */
	named = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			       IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_RECV, 0600, 0,
			       0, 2);
	ASSERT_GE(named, 0);
	EXPECT_EQ(0, ipcchan_sem_post(named, 1, 7, 0));
	close(named);
	/* They live with the channel, not with its endpoints. */
	named = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0);
	ASSERT_GE(named, 0);
	EXPECT_EQ(7, sem_value(named, 1));
	close(named);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

TEST_F_TIMEOUT(shm, sem_blocking_and_timed_waits, 60)
{
	struct timespec ts;
	struct sigaction sa;
	int fds[2], nb[2], r;
	__u64 t0, t;
	pid_t pid;

	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 2, 0, fds));
	/* Relative timeout: not before it expires. */
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, sem_raw(fds[0], IPCCHAN_SEM_WAIT, 0, 0,
				      IPCCHAN_TIMEOUT, 100 * NSEC_PER_MSEC,
				      NULL));
	EXPECT_LE(100 * NSEC_PER_MSEC, now_ns(CLOCK_MONOTONIC) - t0);
	/* An absolute deadline on CLOCK_MONOTONIC, as sem_clockwait. */
	t0 = now_ns(CLOCK_MONOTONIC);
	ts = ts_after(CLOCK_MONOTONIC, 100);
	EXPECT_EQ(-ETIMEDOUT, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	t = now_ns(CLOCK_MONOTONIC);
	EXPECT_LE((__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec, t);
	EXPECT_LE(t0 + 90 * NSEC_PER_MSEC, t);
	/* On CLOCK_REALTIME with IPCCHAN_REALTIME. */
	ts = ts_after(CLOCK_REALTIME, 50);
	EXPECT_EQ(-ETIMEDOUT, ipcchan_sem_timedwait(fds[0], 0,
						    IPCCHAN_REALTIME, &ts));
	/* A past deadline is a timeout only when the wait must sleep. */
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	EXPECT_EQ(-ETIMEDOUT, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	EXPECT_EQ(0, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	ts.tv_sec = -5;
	EXPECT_EQ(-ETIMEDOUT, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	/* The library checks the timespec as sem_clockwait does. */
	ts.tv_sec = 1;
	ts.tv_nsec = 1000000000;
	EXPECT_EQ(-EINVAL, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	ts.tv_nsec = -1;
	EXPECT_EQ(-EINVAL, ipcchan_sem_timedwait(fds[0], 0, 0, &ts));
	EXPECT_EQ(-EINVAL, ipcchan_sem_timedwait(fds[0], 0, 0, NULL));

	/* O_NONBLOCK on the endpoint does not apply to semaphores. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_FD_NONBLOCK, 0, 0, 1, 0,
			       nb));
	EXPECT_EQ(-ETIMEDOUT, sem_raw(nb[0], IPCCHAN_SEM_WAIT, 0, 0,
				      IPCCHAN_TIMEOUT, 20 * NSEC_PER_MSEC,
				      NULL));
	close_pair(nb);

	/* A blocking wait wakes on a post from another process. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		r = ipcchan_sem_wait(fds[0], 1, 0);
		CHILD_CHECK(r == 0, "wait: %d", r);
		_exit(0);
	}
	ASSERT_EQ(0, wait_asleep_in_ioctl(pid));
	EXPECT_EQ(-EBUSY, child_done(pid));
	EXPECT_EQ(0, ipcchan_sem_post(fds[1], 1, 1, 0));
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	EXPECT_EQ(0, sem_value(fds[0], 1));

	/* A post of n wakes n waiters; each takes one. */
	{
		pid_t w[3];
		int i;

		for (i = 0; i < 3; i++) {
			w[i] = fork();
			ASSERT_GE(w[i], 0);
			if (w[i] == 0) {
				alarm(20);
				r = ipcchan_sem_wait(fds[1], 1, 0);
				_exit(r == 0 ? 0 : 1);
			}
		}
		int done = 0, last = -1;
		__u64 end;

		for (i = 0; i < 3; i++) {
			ASSERT_EQ(0, wait_asleep_in_ioctl(w[i]));
		}
		EXPECT_EQ(0, ipcchan_sem_post(fds[0], 1, 2, 0));
		/* Two of them finish; the third sleeps on. */
		end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;
		while (done < 2 && now_ns(CLOCK_MONOTONIC) < end) {
			for (i = 0; i < 3; i++) {
				if (w[i] <= 0)
					continue;
				r = child_done(w[i]);
				if (r == -EBUSY)
					continue;
				EXPECT_EQ(0, r);
				w[i] = 0;
				done++;
			}
			sleep_ms(5);
		}
		ASSERT_EQ(2, done);
		for (i = 0; i < 3; i++) {
			if (w[i] > 0)
				last = i;
		}
		ASSERT_LE(0, last);
		EXPECT_EQ(0, sem_value(fds[0], 1));
		EXPECT_EQ(0, wait_asleep_in_ioctl(w[last]));
		EXPECT_EQ(0, ipcchan_sem_post(fds[0], 1, 1, 0));
		EXPECT_EQ(0, wait_child_ms(w[last], WAIT_MS));
		EXPECT_EQ(0, sem_value(fds[0], 1));
	}

	/* A signal: -EINTR with a timeout, and nothing was taken. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		r = sem_raw(fds[0], IPCCHAN_SEM_WAIT, 0, 0,
			    IPCCHAN_TIMEOUT | IPCCHAN_SEM_UNDO,
			    15 * NSEC_PER_SEC, NULL);
		CHILD_CHECK(r == -EINTR, "wait: %d", r);
		CHILD_CHECK(got_usr1, "no handler");
		_exit(0);
	}
	ASSERT_EQ(0, wait_asleep_in_ioctl(pid));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	EXPECT_EQ(0, wait_child_ms(pid, WAIT_MS));
	EXPECT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	EXPECT_EQ(1, sem_value(fds[0], 0));
	close_pair(fds);
}

/*
 * Processes take turns through semaphore 0 used as a lock (value 1), half
 * of them sleeping in WAIT, half spinning on a nonblocking WAIT. The value
 * a call reports is the one right after it, read under the semaphore's
 * lock: a WAIT that took the lock sees 0 and a POST that gave it back sees
 * 1, whoever takes it next and however soon. Semaphore 1 counts the turns
 * (posted with the lock held: its POST sees the count so far). This is
 * the test that has two CPUs in the semaphore code at once: under KCSAN
 * (make check-races) it is where a semaphore access outside region->lock
 * shows up.
 */
#define SEMC_PROCS	4
#define SEMC_TURNS	1500

struct semc_shared {
	unsigned int turns;	/* written with the lock held */
	unsigned int bad_wait;	/* idem */
	unsigned int bad_count;	/* idem */
	unsigned int bad_post;	/* atomic: the lock is given back */
	unsigned int errors;	/* atomic */
};

static void semc_worker(int fd, bool spin, struct semc_shared *sh)
{
	unsigned int t;
	__u32 v;
	int r;

	for (t = 0; t < SEMC_TURNS; t++) {
		do {
			r = sem_raw(fd, IPCCHAN_SEM_WAIT, 0, 0,
				    spin ? IPCCHAN_NONBLOCK : 0, 0, &v);
			if (r == -EAGAIN)
				sched_yield();
		} while (r == -EAGAIN);
		if (r) {
			__atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		if (v != 0)
			sh->bad_wait++;
		sh->turns++;
		if (sem_raw(fd, IPCCHAN_SEM_POST, 1, 1, 0, 0, &v) ||
		    v != sh->turns)
			sh->bad_count++;
		if (sem_raw(fd, IPCCHAN_SEM_POST, 0, 1, 0, 0, &v)) {
			__atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		if (v != 1)
			__atomic_add_fetch(&sh->bad_post, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

TEST_F_TIMEOUT(shm, sem_contention, 120)
{
	pid_t pid[SEMC_PROCS];
	struct semc_shared *sh;
	int fds[2], i;

	sh = shared_alloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	memset(sh, 0, sizeof(*sh));
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 2, 0, fds));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	for (i = 0; i < SEMC_PROCS; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0)
			semc_worker(fds[i % 2], i % 2, sh);
	}
	for (i = 0; i < SEMC_PROCS; i++) {
		EXPECT_EQ(0, wait_child_ms(pid[i], 100000)) TH_LOG("worker %d", i);
	}
	EXPECT_EQ(0, sh->errors);
	EXPECT_EQ(SEMC_PROCS * SEMC_TURNS, sh->turns);
	EXPECT_EQ(0, sh->bad_wait);
	EXPECT_EQ(0, sh->bad_count);
	EXPECT_EQ(0, sh->bad_post);
	EXPECT_EQ(1, sem_value(fds[0], 0));
	EXPECT_EQ(SEMC_PROCS * SEMC_TURNS, sem_value(fds[0], 1));
	close_pair(fds);
	munmap(sh, sizeof(*sh));
}

TEST_F(shm, sem_bad_input)
{
	struct ipcchan_sem s;
	int fds[2], none[2];
	unsigned int i;
	struct {
		__u32 op, index, count;
		__u64 flags;
		const char *what;
	} bad[] = {
		{ 0, 0, 0, 0, "op 0" },
		{ 4, 0, 0, 0, "op 4" },
		{ ~0u, 0, 0, 0, "op ~0" },
		{ IPCCHAN_SEM_POST, 2, 1, 0, "index == nr_sems" },
		{ IPCCHAN_SEM_WAIT, 2, 0, IPCCHAN_NONBLOCK, "index == nr_sems" },
		{ IPCCHAN_SEM_GETVALUE, ~0u, 0, 0, "index ~0" },
		{ IPCCHAN_SEM_POST, 0, 0, 0, "post of 0" },
		{ IPCCHAN_SEM_WAIT, 0, 1, IPCCHAN_NONBLOCK, "wait with count" },
		{ IPCCHAN_SEM_GETVALUE, 0, 1, 0, "getvalue with count" },
		{ IPCCHAN_SEM_POST, 0, 1, IPCCHAN_NONBLOCK, "post, NONBLOCK" },
		{ IPCCHAN_SEM_POST, 0, 1, IPCCHAN_TIMEOUT, "post, TIMEOUT" },
		{ IPCCHAN_SEM_GETVALUE, 0, 0, IPCCHAN_SEM_UNDO,
		  "getvalue, UNDO" },
		{ IPCCHAN_SEM_GETVALUE, 0, 0, IPCCHAN_NONBLOCK,
		  "getvalue, NONBLOCK" },
		{ IPCCHAN_SEM_WAIT, 0, 0, IPCCHAN_ABSTIME | IPCCHAN_NONBLOCK,
		  "ABSTIME without TIMEOUT" },
		{ IPCCHAN_SEM_WAIT, 0, 0, IPCCHAN_TIMEOUT | IPCCHAN_REALTIME,
		  "REALTIME without ABSTIME" },
		{ IPCCHAN_SEM_WAIT, 0, 0, 1ULL << 9 | IPCCHAN_NONBLOCK,
		  "unknown flag 9" },
		{ IPCCHAN_SEM_POST, 0, 1, 1ULL << 63, "unknown flag 63" },
		{ IPCCHAN_SEM_POST, 0, 1, 1ULL << 4, "unknown flag 4" },
	};

	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 2, 0, fds));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, sem_raw(fds[1], bad[i].op, bad[i].index,
					   bad[i].count, bad[i].flags, 0,
					   NULL))
			TH_LOG("%s", bad[i].what);
	}
	for (i = 0; i < ARRAY_SIZE(s.reserved); i++) {
		memset(&s, 0, sizeof(s));
		s.op = IPCCHAN_SEM_POST;
		s.count = 1;
		s.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEM, &s));
	}
	/* value is output only. */
	memset(&s, 0, sizeof(s));
	s.op = IPCCHAN_SEM_GETVALUE;
	s.value = 99;
	EXPECT_EQ(0, chan_ioctl(fds[1], IPCCHAN_IOC_SEM, &s));
	EXPECT_EQ(1, s.value);
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEM,
				      unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEM, KERNEL_ADDR));
	EXPECT_EQ(-ENOTTY, sem_raw(self->ctl, IPCCHAN_SEM_GETVALUE, 0, 0, 0, 0,
				   NULL));
	/* Nothing was posted or taken. */
	EXPECT_EQ(1, sem_value(fds[0], 0));
	EXPECT_EQ(0, sem_value(fds[0], 1));
	/* The library passes the same errors on. */
	EXPECT_EQ(-EINVAL, ipcchan_sem_post(fds[0], 2, 1, 0));
	EXPECT_EQ(-EINVAL, ipcchan_sem_getvalue(fds[0], 2));
	EXPECT_EQ(-EINVAL, ipcchan_sem_post(fds[0], 0, 0, 0));
	EXPECT_EQ(-EINVAL, ipcchan_sem_wait(fds[0], 0, 1ULL << 40));
	close_pair(fds);

	/* No semaphores at all: every index is out of range. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, self->page, 64, 0, 0, none));
	EXPECT_EQ(-EINVAL, ipcchan_sem_post(none[1], 0, 1, 0));
	EXPECT_EQ(-EINVAL, ipcchan_sem_getvalue(none[0], 0));
	EXPECT_EQ(-EINVAL, ipcchan_sem_trywait(none[0], 0, 0));
	close_pair(none);
}

/*
 * SEM_UNDO is recorded against the open file: when it is released, units
 * it took come back and units it posted go away (never below 0). A dup or
 * a forked child's copy closing releases nothing.
 */
TEST_F(shm, sem_undo_on_release)
{
	int fds[2], d;
	pid_t pid;

	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 2, 0, fds));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 5, 0));
	/* fds[0] takes two with UNDO, one without. */
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[0], 0, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_wait(fds[0], 0, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[0], 0, 0));
	/* And posts 3 with UNDO on sem 1, of which fds[1] takes 1. */
	ASSERT_EQ(0, ipcchan_sem_post(fds[0], 1, 3, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[1], 1, 0));
	EXPECT_EQ(2, sem_value(fds[1], 0));
	EXPECT_EQ(2, sem_value(fds[1], 1));

	/* A dup closing, or a child sharing the file exiting: nothing. */
	d = dup(fds[0]);
	ASSERT_GE(d, 0);
	close(d);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(2, sem_value(fds[1], 0));
	EXPECT_EQ(2, sem_value(fds[1], 1));

	/* The file's release: +2 on sem 0, -3 on sem 1 (held at 0). */
	close_fd(&fds[0]);
	EXPECT_EQ(4, sem_value(fds[1], 0));
	EXPECT_EQ(0, sem_value(fds[1], 1));
	close_pair(fds);

	/* Balanced operations undo nothing. */
	ASSERT_EQ(0, make_chan(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 1, 0,
			       fds));
	ASSERT_EQ(0, ipcchan_sem_post(fds[0], 0, 2, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[0], 0, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[0], 0, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	close_fd(&fds[0]);
	EXPECT_EQ(1, sem_value(fds[1], 0));
	close_pair(fds);

	/* A unit taken with UNDO and posted back without: still undone. */
	ASSERT_EQ(0, make_chan(self->ctl, 0, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, 0));
	ASSERT_EQ(0, ipcchan_sem_trywait(fds[0], 0, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(0, ipcchan_sem_post(fds[0], 0, 1, 0));
	close_fd(&fds[0]);
	EXPECT_EQ(2, sem_value(fds[1], 0));
	close_pair(fds);
}

/* ---- crash cleanup ----------------------------------------------------------- */

/*
 * A process holding two loaned slots, two received slots and a semaphore
 * unit taken with UNDO, through an endpoint file of its own, is
 * SIGKILLed. Peers blocked in a semaphore wait and in a slot loan proceed,
 * and the region shows every slot back.
 */
TEST_F_TIMEOUT(shm, crash_cleanup, 90)
{
	const char *name = uniq_name(self, "crash");
	struct ipcchan_region rg;
	int p, ready[2], res[2], i, s, st;
	pid_t victim, sem_waiter, loaner;
	__u64 r0;
	char c;

	p = shm_open_named(self->ctl, name, IPCCHAN_OPEN_CREATE |
			   IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND |
			   IPCCHAN_OPEN_RECV, 0600, 4 * self->page,
			   self->page, 1);
	ASSERT_GE(p, 0);
	ASSERT_EQ(0, ipcchan_map(p, 0, &rg));
	/* Two messages for the victim to receive, one unit to take. */
	for (i = 0; i < 2; i++) {
		s = ipcchan_slot_loan(p, IPCCHAN_NONBLOCK, 0);
		ASSERT_GE(s, 0);
		fill_msg(ipcchan_slot_ptr(&rg, s), 64, s);
		ASSERT_EQ(0, ipcchan_slot_send(p, s, 64, 0, 0, 0));
	}
	ASSERT_EQ(0, ipcchan_sem_post(p, 0, 1, 0));
	r0 = reclaimed(p);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(res));

	victim = fork();
	ASSERT_GE(victim, 0);
	if (victim == 0) {
		struct ipcchan_region vrg;
		uint32_t slot;
		int v, k;

		alarm(60);
		close(p);
		/* Its own endpoint: only this process holds the file. */
		v = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND |
			      IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC, 0);
		CHILD_CHECK(v >= 0, "open: %d", v);
		CHILD_CHECK(ipcchan_map(v, 0, &vrg) == 0, "map");
		for (k = 0; k < 2; k++) {
			CHILD_CHECK(ipcchan_slot_recv(v, &slot, NULL, 0, NULL,
						      IPCCHAN_NONBLOCK, 0) ==
				    64, "recv");
			CHILD_CHECK(check_msg(ipcchan_slot_ptr(&vrg, slot), 64,
					      slot) == -1, "bytes");
		}
		for (k = 0; k < 2; k++) {
			s = ipcchan_slot_loan(v, IPCCHAN_NONBLOCK, 0);
			CHILD_CHECK(s >= 0, "loan: %d", s);
			memset(ipcchan_slot_ptr(&vrg, s), 0xcc, 64);
		}
		CHILD_CHECK(ipcchan_sem_trywait(v, 0, IPCCHAN_SEM_UNDO) == 0,
			    "sem");
		CHILD_CHECK(write(ready[1], "r", 1) == 1, "write");
		for (;;)
			pause();
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_SLOTS(p, 0, 4, 0, 0);
	EXPECT_EQ(0, sem_value(p, 0));

	/* Peers that block on what the victim holds. */
	sem_waiter = fork();
	ASSERT_GE(sem_waiter, 0);
	if (sem_waiter == 0) {
		alarm(60);
		st = ipcchan_sem_wait(p, 0, 0);
		CHILD_CHECK(st == 0, "sem wait: %d", st);
		_exit(0);
	}
	loaner = fork();
	ASSERT_GE(loaner, 0);
	if (loaner == 0) {
		alarm(60);
		s = ipcchan_slot_loan(p, 0, 0);
		CHILD_CHECK(s >= 0, "loan: %d", s);
		CHILD_CHECK(write(res[1], &s, sizeof(s)) == sizeof(s),
			    "write");
		_exit(0);
	}
	ASSERT_EQ(0, wait_asleep_in_ioctl(sem_waiter));
	ASSERT_EQ(0, wait_asleep_in_ioctl(loaner));
	sleep_ms(SETTLE_MS);
	EXPECT_EQ(-EBUSY, child_done(sem_waiter));
	EXPECT_EQ(-EBUSY, child_done(loaner));

	ASSERT_EQ(0, kill(victim, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, wait_child(victim));
	/* Both proceed. */
	EXPECT_EQ(0, wait_child_ms(sem_waiter, WAIT_MS));
	EXPECT_EQ(0, wait_child_ms(loaner, WAIT_MS));
	ASSERT_EQ(sizeof(s), read(res[0], &s, sizeof(s)));
	/* Four slots reclaimed; the loaner's one is held by our file. */
	EXPECT_EQ(r0 + 4, reclaimed(p));
	EXPECT_SLOTS(p, 3, 1, 0, 1);
	EXPECT_EQ(0, sem_value(p, 0));
	EXPECT_EQ(0, ipcchan_slot_release(p, s));
	EXPECT_SLOTS(p, 4, 0, 0, 0);
	/* The pool works as before. */
	for (i = 0; i < 4; i++) {
		EXPECT_LE(0, ipcchan_slot_loan(p, IPCCHAN_NONBLOCK, 0));
	}
	EXPECT_EQ(-EAGAIN, ipcchan_slot_loan(p, IPCCHAN_NONBLOCK, 0));
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close(p);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	close(ready[0]);
	close(ready[1]);
	close(res[0]);
	close(res[1]);
}

/* ---- data integrity across processes ------------------------------------------ */

#define INTEG_PRODUCERS	3
#define INTEG_CONSUMERS	3
#define INTEG_PER_PROD	400
#define INTEG_MSGS	(INTEG_PRODUCERS * INTEG_PER_PROD)

struct integ {
	__u32 seen[INTEG_MSGS];
	__u64 sent_sum;
	__u64 recv_sum;
	__u32 received[INTEG_CONSUMERS];
};

/* A producer: loan, write in place, send; its own mapping. */
static void integ_producer(int tx, int p, struct integ *res)
{
	struct ipcchan_region rg;
	__u64 sum = 0;
	size_t len;
	__u32 id;
	int i, s;

	CHILD_CHECK(ipcchan_map(tx, 0, &rg) == 0, "producer %d: map", p);
	for (i = 0; i < INTEG_PER_PROD; i++) {
		id = p * INTEG_PER_PROD + i;
		len = msg_len(id, rg.slot_size);
		s = ipcchan_slot_loan(tx, IPCCHAN_TIMEOUT,
				      WAIT_MS * NSEC_PER_MSEC);
		CHILD_CHECK(s >= 0 && s < (int)rg.nr_slots, "loan: %d", s);
		fill_msg(ipcchan_slot_ptr(&rg, s), len, id);
		sum += cksum(ipcchan_slot_ptr(&rg, s), len);
		/* The id travels as the priority: lengths start at 0. */
		s = ipcchan_slot_send(tx, s, len, id, IPCCHAN_TIMEOUT,
				      WAIT_MS * NSEC_PER_MSEC);
		CHILD_CHECK(s == 0, "send: %d", s);
	}
	__atomic_fetch_add(&res->sent_sum, sum, __ATOMIC_SEQ_CST);
	_exit(0);
}

/*
 * A consumer: until end of channel, receive in place (copy == 0) or as a
 * copy into a buffer whose bytes past the message must stay untouched.
 */
static void integ_consumer(int rx, int c, int copy, struct integ *res)
{
	static unsigned char buf[4096 + 64];
	struct ipcchan_region rg;
	struct ipcchan_recv r;
	const unsigned char *data;
	__u64 sum = 0;
	uint32_t slot;
	size_t len, k;
	ssize_t n;
	__u32 id;

	CHILD_CHECK(ipcchan_map(rx, 0, &rg) == 0, "consumer %d: map", c);
	CHILD_CHECK(rg.slot_size <= 4096, "slot size %u", rg.slot_size);
	for (;;) {
		if (copy) {
			memset(buf, 0xa5, sizeof(buf));
			memset(&r, 0, sizeof(r));
			r.flags = IPCCHAN_TIMEOUT;
			r.timeout_ns = WAIT_MS * NSEC_PER_MSEC;
			r.buf = ptr64(buf);
			r.len = rg.slot_size;
			n = ipcchan_recv_msg(rx, &r);
			CHILD_CHECK(n >= 0, "consumer %d: recv %zd", c, n);
			if (!r.seq)
				break;
			CHILD_CHECK(r.slot == 0, "slot %u without RECV_SLOT",
				    r.slot);
			id = r.prio;
			data = buf;
		} else {
			unsigned int prio;

			n = ipcchan_slot_recv(rx, &slot, NULL, 0, &prio,
					      IPCCHAN_TIMEOUT,
					      WAIT_MS * NSEC_PER_MSEC);
			CHILD_CHECK(n >= 0, "consumer %d: recv %zd", c, n);
			if (slot == IPCCHAN_SLOT_NONE) {
				CHILD_CHECK(n == 0, "ordinary message %zd", n);
				break;
			}
			CHILD_CHECK(slot < rg.nr_slots, "slot %u", slot);
			id = prio;
			data = ipcchan_slot_ptr(&rg, slot);
		}
		CHILD_CHECK(id < INTEG_MSGS, "id %u", id);
		len = msg_len(id, rg.slot_size);
		CHILD_CHECK((size_t)n == len, "id %u: %zd bytes, sent %zu", id,
			    n, len);
		CHILD_CHECK(check_msg(data, len, id) == -1,
			    "id %u: byte %ld differs", id,
			    check_msg(data, len, id));
		sum += cksum(data, len);
		if (copy) {
			for (k = len; k < sizeof(buf); k++)
				CHILD_CHECK(buf[k] == 0xa5,
					    "id %u: byte %zu past the end", id,
					    k);
		} else {
			CHILD_CHECK(ipcchan_slot_release(rx, slot) == 0,
				    "release %u", slot);
		}
		__atomic_fetch_add(&res->seen[id], 1, __ATOMIC_SEQ_CST);
		res->received[c]++;
	}
	__atomic_fetch_add(&res->recv_sum, sum, __ATOMIC_SEQ_CST);
	_exit(0);
}

static void integrity_run(struct __test_metadata *_metadata, int ctl,
			  size_t region, uint32_t slot_size)
{
	struct integ *res = shared_alloc(sizeof(*res));
	pid_t pids[INTEG_PRODUCERS + INTEG_CONSUMERS];
	struct ipcchan_region_info ri;
	struct ipcchan_stats st;
	__u64 expect_sum = 0;
	unsigned char *tmp;
	int fds[2], i, dup_seen = 0, missing = 0;
	size_t len;

	ASSERT_NE(NULL, res);
	tmp = malloc(slot_size);
	ASSERT_NE(NULL, tmp);
	for (i = 0; i < INTEG_MSGS; i++) {
		len = msg_len(i, slot_size);
		fill_msg(tmp, len, i);
		expect_sum += cksum(tmp, len);
	}
	free(tmp);
	/* A queue shorter than the pool: senders block on both. */
	ASSERT_EQ(0, make_chan(ctl, 0, region, slot_size, 0, 8, fds));
	for (i = 0; i < INTEG_CONSUMERS; i++) {
		pids[INTEG_PRODUCERS + i] = fork();
		ASSERT_GE(pids[INTEG_PRODUCERS + i], 0);
		if (pids[INTEG_PRODUCERS + i] == 0) {
			alarm(100);
			close(fds[1]);
			integ_consumer(fds[0], i, i == INTEG_CONSUMERS - 1,
				       res);
		}
	}
	for (i = 0; i < INTEG_PRODUCERS; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			alarm(100);
			close(fds[0]);
			integ_producer(fds[1], i, res);
		}
	}
	/* The last sender goes when the producers do: then end of channel. */
	close_fd(&fds[1]);
	for (i = 0; i < INTEG_PRODUCERS + INTEG_CONSUMERS; i++) {
		EXPECT_EQ(0, wait_child_ms(pids[i], 100 * 1000))
			TH_LOG("%s %d", i < INTEG_PRODUCERS ? "producer" :
			       "consumer", i);
	}
	for (i = 0; i < INTEG_MSGS; i++) {
		if (res->seen[i] > 1)
			dup_seen++;
		if (!res->seen[i])
			missing++;
	}
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, dup_seen);
	EXPECT_EQ(expect_sum, res->sent_sum);
	EXPECT_EQ(expect_sum, res->recv_sum);
	ksft_print_msg("integrity, %u-byte slots: %d messages, consumers received %u, %u and %u (the last by copy)\n",
		       slot_size, INTEG_MSGS, res->received[0],
		       res->received[1], res->received[2]);
	/* Every slot back, each message loaned once and received once. */
	ASSERT_EQ(0, rinfo(fds[0], &ri));
	EXPECT_EQ(ri.nr_slots, ri.slots_free);
	EXPECT_EQ(INTEG_MSGS, ri.loans);
	EXPECT_EQ(0, ri.slots_reclaimed);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(INTEG_MSGS, st.sent);
	EXPECT_EQ(INTEG_MSGS, st.received);
	EXPECT_EQ(0, st.dropped);
	close_pair(fds);
	munmap(res, sizeof(*res));
}

TEST_F_TIMEOUT(shm, integrity_many_processes, 240)
{
	/* Big slots, fewer than the messages in flight could use ... */
	integrity_run(_metadata, self->ctl, 16 * self->page, 4096);
	/* ... and the smallest slots, a page of them. */
	integrity_run(_metadata, self->ctl, self->page, IPCCHAN_SLOT_ALIGN);
}

/* ---- side by side: POSIX shared memory with a pipe, and slots --------------- */

#define SBS_SLOTS	16
#define SBS_TOTAL	(1 << 20)

struct sbs_note {
	__u32 slot;
	__u32 len;
};

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		done += n;
	}
	return 0;
}

/* Message i of a transfer of messages of size sz: SBS_TOTAL / sz of them. */
static __u32 sbs_id(size_t sz, int i)
{
	return (__u32)(sz * 131 + i);
}

/*
 * POSIX shared memory: a ring of SBS_SLOTS slots in a shm_open() object
 * mapped by both processes; a pipe carries (slot, length) to the consumer
 * and another one carries the slot back. Returns the nanoseconds from the
 * go to the last message checked; *sum gets the consumer's checksums.
 */
static __u64 sbs_posix(struct __test_metadata *_metadata, size_t sz,
		       __u64 *sum)
{
	int n = SBS_TOTAL / sz, full[2], freed[2], go[2], shm, i;
	struct sbs_note note;
	char name[64];
	__u64 t0, t;
	pid_t pid;
	char *ring;

	snprintf(name, sizeof(name), "/ipcchan_shm.%d", (int)getpid());
	shm = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (shm < 0)
		TH_LOG("shm_open %s: %s", name, strerror(errno));
	ASSERT_GE(shm, 0);
	shm_unlink(name);
	ASSERT_EQ(0, ftruncate(shm, SBS_SLOTS * sz));
	ASSERT_EQ(0, pipe(full));
	ASSERT_EQ(0, pipe(freed));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		__u32 slot;
		char c;

		alarm(100);
		ring = mmap(NULL, SBS_SLOTS * sz, PROT_READ | PROT_WRITE,
			    MAP_SHARED, shm, 0);
		CHILD_CHECK(ring != MAP_FAILED, "mmap");
		CHILD_CHECK(read(go[0], &c, 1) == 1, "go");
		for (i = 0; i < n; i++) {
			if (i < SBS_SLOTS)
				slot = i;
			else
				CHILD_CHECK(read_full(freed[0], &slot,
						      sizeof(slot)) == 0,
					    "free slot");
			fill_msg(ring + slot * sz, sz, sbs_id(sz, i));
			note.slot = slot;
			note.len = sz;
			CHILD_CHECK(write(full[1], &note, sizeof(note)) ==
				    sizeof(note), "note");
		}
		_exit(0);
	}
	ring = mmap(NULL, SBS_SLOTS * sz, PROT_READ | PROT_WRITE, MAP_SHARED,
		    shm, 0);
	ASSERT_NE(MAP_FAILED, ring);
	*sum = 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(1, write(go[1], "g", 1));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, read_full(full[0], &note, sizeof(note)));
		ASSERT_LT(note.slot, SBS_SLOTS);
		ASSERT_EQ(-1, check_msg(ring + note.slot * sz, note.len,
					sbs_id(sz, i)));
		*sum += cksum(ring + note.slot * sz, note.len);
		ASSERT_EQ(sizeof(note.slot), write(freed[1], &note.slot,
						   sizeof(note.slot)));
	}
	t = now_ns(CLOCK_MONOTONIC) - t0;
	EXPECT_EQ(0, wait_child_ms(pid, 100 * 1000));
	munmap(ring, SBS_SLOTS * sz);
	close(shm);
	close(full[0]);
	close(full[1]);
	close(freed[0]);
	close(freed[1]);
	close(go[0]);
	close(go[1]);
	return t;
}

/* The same transfer through SBS_SLOTS zero-copy slots of one channel. */
static __u64 sbs_slots(struct __test_metadata *_metadata, int ctl, size_t sz,
		       __u64 *sum)
{
	int n = SBS_TOTAL / sz, fds[2], go[2], i, s;
	struct ipcchan_region rg;
	uint32_t slot;
	__u64 t0, t;
	ssize_t len;
	pid_t pid;

	ASSERT_EQ(0, make_chan(ctl, 0, SBS_SLOTS * sz, sz, 0, SBS_SLOTS, fds));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		alarm(100);
		close(fds[0]);
		CHILD_CHECK(ipcchan_map(fds[1], 0, &rg) == 0, "map");
		CHILD_CHECK(read(go[0], &c, 1) == 1, "go");
		for (i = 0; i < n; i++) {
			s = ipcchan_slot_loan(fds[1], 0, 0);
			CHILD_CHECK(s >= 0, "loan: %d", s);
			fill_msg(ipcchan_slot_ptr(&rg, s), sz, sbs_id(sz, i));
			s = ipcchan_slot_send(fds[1], s, sz, 0, 0, 0);
			CHILD_CHECK(s == 0, "send: %d", s);
		}
		_exit(0);
	}
	close_fd(&fds[1]);
	ASSERT_EQ(0, ipcchan_map(fds[0], 0, &rg));
	*sum = 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(1, write(go[1], "g", 1));
	for (i = 0; i < n; i++) {
		len = ipcchan_slot_recv(fds[0], &slot, NULL, 0, NULL, 0, 0);
		ASSERT_EQ((ssize_t)sz, len);
		ASSERT_LT(slot, rg.nr_slots);
		ASSERT_EQ(-1, check_msg(ipcchan_slot_ptr(&rg, slot), sz,
					sbs_id(sz, i)));
		*sum += cksum(ipcchan_slot_ptr(&rg, slot), sz);
		ASSERT_EQ(0, ipcchan_slot_release(fds[0], slot));
	}
	t = now_ns(CLOCK_MONOTONIC) - t0;
	EXPECT_EQ(0, wait_child_ms(pid, 100 * 1000));
	EXPECT_SLOTS(fds[0], SBS_SLOTS, 0, 0, 0);
	EXPECT_EQ(0, ipcchan_unmap(&rg));
	close_pair(fds);
	close(go[0]);
	close(go[1]);
	return t;
}

TEST_F_TIMEOUT(shm, side_by_side_posix_shm_and_pipe, 240)
{
	static const size_t sizes[] = { 4096, 65536 };
	__u64 want, sum_posix, sum_slots, t_posix, t_slots;
	unsigned char *tmp;
	unsigned int k;
	int i;

	/* Room for 16 slots of 64 KiB. */
	if (self->q.max_region_size < SBS_SLOTS * 65536) {
		ASSERT_EQ(0, param_set("max_region_size", SBS_SLOTS * 65536));
	}
	if (self->q.max_user_region_bytes - self->q.user_region_bytes <
	    SBS_SLOTS * 65536) {
		ASSERT_EQ(0, param_set("max_user_region_bytes",
				       self->q.user_region_bytes +
				       SBS_SLOTS * 65536));
	}
	for (k = 0; k < ARRAY_SIZE(sizes); k++) {
		size_t sz = sizes[k];

		tmp = malloc(sz);
		ASSERT_NE(NULL, tmp);
		want = 0;
		for (i = 0; i < (int)(SBS_TOTAL / sz); i++) {
			fill_msg(tmp, sz, sbs_id(sz, i));
			want += cksum(tmp, sz);
		}
		free(tmp);
		t_posix = sbs_posix(_metadata, sz, &sum_posix);
		t_slots = sbs_slots(_metadata, self->ctl, sz, &sum_slots);
		/* The same bytes arrived both ways. */
		EXPECT_EQ(want, sum_posix);
		EXPECT_EQ(want, sum_slots);
		ksft_print_msg("side by side, 1 MiB in %zu-byte messages, %d slots: POSIX shm + pipe %.1f ms, ipcchan slots %.1f ms, ratio slots/posix %.2f\n",
			       sz, SBS_SLOTS, t_posix / 1e6, t_slots / 1e6,
			       t_posix ? (double)t_slots / t_posix : 0.0);
	}
}

TEST_HARNESS_MAIN
