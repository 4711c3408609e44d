// SPDX-License-Identifier: GPL-2.0
/*
 * Anonymous message channels: IPCCHAN_IOC_CREATE (simplex and duplex),
 * IPCCHAN_IOC_SEND / RECV / SEND_BATCH / RECV_BATCH / STATS on the
 * endpoints: message boundaries and byte-exact payloads, priorities,
 * PEEK, EMSGSIZE both ways, credentials and sequence numbers, vectored and
 * batch transfer, queue capacity, nonblocking fds, stats and the query's
 * usage counters, every bad input (flags, reserved fields, pointers,
 * struct sizes, wrong endpoint, wrong fd kind), fd inheritance and passing,
 * close-on-exec, fdinfo, and the per-user and system limits set through
 * the module parameters.
 *
 * Blocking, wakeups, timeouts, hangup and poll are in ipcchan_block.c;
 * named channels in ipcchan_named.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

#define CREATE_KNOWN	(IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | \
			 IPCCHAN_CREATE_DUPLEX)
#define XFER_KNOWN	(IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | \
			 IPCCHAN_ABSTIME | IPCCHAN_REALTIME)
#define SEND_KNOWN	(XFER_KNOWN | IPCCHAN_SEND_IOV | IPCCHAN_SEND_SLOT)
#define RECV_KNOWN	(XFER_KNOWN | IPCCHAN_RECV_PEEK | IPCCHAN_RECV_CREDS | \
			 IPCCHAN_RECV_SLOT)
#define STATS_KNOWN	IPCCHAN_STATS_TX

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 8));
}

static int check_fill(const void *buf, size_t len, unsigned int seed)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 131 + seed * 7 + (i >> 8)))
			return (int)i;
	return -1;
}

static void close_pair(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

/* sent == received + queued_msgs + dropped, and the reserved words read 0. */
static void check_stats_invariant(struct __test_metadata *_metadata, int fd,
				  __u64 flags)
{
	struct ipcchan_stats st;
	unsigned int i;

	ASSERT_EQ(0, chan_stats(fd, flags, &st));
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped)
		TH_LOG("sent %llu received %llu queued %llu dropped %llu",
		       (unsigned long long)st.sent,
		       (unsigned long long)st.received,
		       (unsigned long long)st.queued_msgs,
		       (unsigned long long)st.dropped);
	for (i = 0; i < ARRAY_SIZE(st.reserved); i++) {
		EXPECT_EQ(0, st.reserved[i]);
	}
}

static __u64 queued(struct __test_metadata *_metadata, int fd)
{
	struct ipcchan_stats st;

	EXPECT_EQ(0, chan_stats(fd, 0, &st));
	return st.queued_msgs;
}

FIXTURE(chan) {
	int ctl;
	struct ipcchan_query q;
	/* The defaults a channel created with zero attributes must get. */
	__u64 def_msg;
	__u64 def_qmsgs;
	__u64 def_qbytes;
};

FIXTURE_SETUP(chan)
{
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0) TH_LOG("open %s: %s", IPCCHAN_DEVICE_PATH,
				       strerror(-self->ctl));
	ASSERT_EQ(0, chan_query(self->ctl, &self->q));
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_CHANNELS)
		TH_LOG("the module does not report IPCCHAN_FEAT_CHANNELS");
	self->def_msg = self->q.max_msg_size < IPCCHAN_DEFAULT_MSG_SIZE ?
			self->q.max_msg_size : IPCCHAN_DEFAULT_MSG_SIZE;
	self->def_qmsgs = self->q.max_queue_msgs < IPCCHAN_DEFAULT_QUEUE_MSGS ?
			  self->q.max_queue_msgs : IPCCHAN_DEFAULT_QUEUE_MSGS;
	self->def_qbytes = self->def_qmsgs * self->def_msg;
	if (self->def_qbytes > self->q.max_queue_bytes)
		self->def_qbytes = self->q.max_queue_bytes;
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(chan)
{
	close(self->ctl);
}

/* ---- creation ------------------------------------------------------------ */

TEST_F(chan, create_simplex)
{
	struct ipcchan_create c;
	struct ipcchan_recv r;
	char buf[16];

	memset(&c, 0, sizeof(c));
	/* Output fields carry garbage in: they are outputs only. */
	c.fds[0] = 12345;
	c.fds[1] = -7;
	ASSERT_LE(0, ioctl(self->ctl, IPCCHAN_IOC_CREATE, &c));
	ASSERT_GE(c.fds[0], 0);
	ASSERT_GE(c.fds[1], 0);
	EXPECT_NE(c.fds[0], c.fds[1]);
	EXPECT_NE(self->ctl, c.fds[0]);
	EXPECT_NE(self->ctl, c.fds[1]);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(0, c.reserved[0] | c.reserved[1] | c.region_size |
		     c.slot_size | c.nr_sems);
	/* Neither flag was asked for. */
	EXPECT_EQ(0, fcntl(c.fds[0], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(c.fds[1], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(c.fds[0], F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, fcntl(c.fds[1], F_GETFL) & O_NONBLOCK);

	/* fds[1] sends, fds[0] receives; as pipe(2). */
	ASSERT_EQ(0, chan_send_str(c.fds[1], "ping", 0, 0));
	EXPECT_EQ(4, chan_recv(c.fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	EXPECT_EQ(4, r.len);

	EXPECT_EQ(-EBADF, chan_send_str(c.fds[0], "x", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EBADF, chan_recv(c.fds[1], buf, sizeof(buf),
				    IPCCHAN_NONBLOCK, NULL));
	close(c.fds[0]);
	close(c.fds[1]);
}

TEST_F(chan, create_duplex)
{
	struct ipcchan_stats sa, sb;
	struct ipcchan_recv r;
	int fds[2], i;
	char buf[16];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	ASSERT_GE(fds[0], 0);
	ASSERT_GE(fds[1], 0);
	EXPECT_NE(fds[0], fds[1]);

	/* Each endpoint sends to the other, never to itself. */
	ASSERT_EQ(0, chan_send_str(fds[0], "a->b", 1, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "b->a", 2, IPCCHAN_NONBLOCK));
	EXPECT_EQ(4, chan_recv(fds[1], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "a->b", 4));
	EXPECT_EQ(1, r.prio);
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(4, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "b->a", 4));
	EXPECT_EQ(2, r.prio);
	EXPECT_EQ(1, r.seq);	/* two channels, each numbered from 1 */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EAGAIN, chan_recv(fds[i], buf, sizeof(buf),
					     IPCCHAN_NONBLOCK, NULL));
	}

	/* Two channels with the same (default) attributes. */
	ASSERT_EQ(0, chan_stats(fds[0], 0, &sa));
	ASSERT_EQ(0, chan_stats(fds[1], 0, &sb));
	EXPECT_EQ(self->def_msg, sa.msg_size_max);
	EXPECT_EQ(sa.msg_size_max, sb.msg_size_max);
	EXPECT_EQ(sa.queue_msgs, sb.queue_msgs);
	EXPECT_EQ(sa.queue_bytes, sb.queue_bytes);
	EXPECT_EQ(1, sa.senders);
	EXPECT_EQ(1, sa.receivers);
	EXPECT_EQ(1, sb.senders);
	EXPECT_EQ(1, sb.receivers);
	close_pair(fds);
}

TEST_F(chan, create_defaults)
{
	struct ipcchan_stats st;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(self->def_msg, st.msg_size_max);
	EXPECT_EQ(self->def_qmsgs, st.queue_msgs);
	EXPECT_EQ(self->def_qbytes, st.queue_bytes);
	/* With the module's default limits these are the documented numbers. */
	if (self->q.max_msg_size >= IPCCHAN_DEFAULT_MSG_SIZE) {
		EXPECT_EQ(IPCCHAN_DEFAULT_MSG_SIZE, st.msg_size_max);
	}
	if (self->q.max_queue_msgs >= IPCCHAN_DEFAULT_QUEUE_MSGS) {
		EXPECT_EQ(IPCCHAN_DEFAULT_QUEUE_MSGS, st.queue_msgs);
	}
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	EXPECT_EQ(0, st.peak_msgs);
	EXPECT_EQ(0, st.sent);
	EXPECT_EQ(0, st.received);
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(1, st.senders);
	EXPECT_EQ(1, st.receivers);
	EXPECT_EQ(0, st.waiting_senders);
	EXPECT_EQ(0, st.waiting_receivers);
	close_pair(fds);

	/* A zero field is defaulted on its own, the others kept. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 100, 0, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(100, st.msg_size_max);
	EXPECT_EQ(self->def_qmsgs, st.queue_msgs);
	EXPECT_EQ(self->def_qmsgs * 100 < self->q.max_queue_bytes ?
		  self->def_qmsgs * 100 : self->q.max_queue_bytes,
		  st.queue_bytes);
	close_pair(fds);

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 3, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(self->def_msg, st.msg_size_max);
	EXPECT_EQ(3, st.queue_msgs);
	EXPECT_EQ(3 * self->def_msg < self->q.max_queue_bytes ?
		  3 * self->def_msg : self->q.max_queue_bytes, st.queue_bytes);
	close_pair(fds);
}

TEST_F(chan, create_explicit_attrs)
{
	struct ipcchan_stats st;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 200, 7, 1000, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(200, st.msg_size_max);
	EXPECT_EQ(7, st.queue_msgs);
	EXPECT_EQ(1000, st.queue_bytes);
	/* The send endpoint reports the same channel. */
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(200, st.msg_size_max);
	EXPECT_EQ(7, st.queue_msgs);
	EXPECT_EQ(1000, st.queue_bytes);
	close_pair(fds);
}

TEST_F(chan, attr_validation)
{
	__u64 max = self->q.max_msg_size;
	int fds[2];

	/* msg_size_max above the module's max_msg_size. */
	if (max < UINT32_MAX) {
		EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, (__u32)max + 1,
					       1, 0, fds));
	}
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, UINT32_MAX, 1, 0, fds));
	/* queue_msgs above max_queue_msgs. */
	if (self->q.max_queue_msgs < UINT32_MAX) {
		EXPECT_EQ(-EINVAL,
			  chan_create(self->ctl, 0, 16,
				      (__u32)self->q.max_queue_msgs + 1, 0, fds));
	}
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 16, UINT32_MAX, 0, fds));
	/* queue_bytes above max_queue_bytes, and below msg_size_max. */
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 16, 1,
				       self->q.max_queue_bytes + 1, fds));
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 16, 1, UINT64_MAX, fds));
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 100, 1, 99, fds));
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, 0, 0, 1, fds));
	/* Both types near their limits: no wrap in queue_msgs * msg_size_max. */
	EXPECT_EQ(-EINVAL, chan_create(self->ctl, 0, UINT32_MAX, UINT32_MAX,
				       0, fds));

	/* The edges are accepted. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 100, 1, 100, fds));
	close_pair(fds);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 1, 1, 1, fds));
	close_pair(fds);
	if (max <= self->q.max_queue_bytes) {
		ASSERT_EQ(0, chan_create(self->ctl, 0, (__u32)max, 1, max, fds));
		close_pair(fds);
	}
	ASSERT_EQ(0, chan_create(self->ctl, 0, 1,
				 (__u32)self->q.max_queue_msgs, 0, fds));
	close_pair(fds);

	/* Nothing was left behind by the failures. */
	{
		struct ipcchan_query q;

		ASSERT_EQ(0, chan_query(self->ctl, &q));
		EXPECT_EQ(self->q.nr_channels, q.nr_channels);
		EXPECT_EQ(self->q.user_channels, q.user_channels);
	}
}

TEST_F(chan, create_unknown_flags)
{
	unsigned int bit;
	int fds[2];

	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;
		int r;

		if (f & CREATE_KNOWN)
			continue;
		fds[0] = fds[1] = -1;
		r = chan_create(self->ctl, f, 0, 0, 0, fds);
		EXPECT_EQ(-EINVAL, r) TH_LOG("flag bit %u", bit);
		if (r == 0)
			close_pair(fds);
		/* Also beside every known flag. */
		r = chan_create(self->ctl, f | CREATE_KNOWN, 0, 0, 0, fds);
		EXPECT_EQ(-EINVAL, r) TH_LOG("flag bit %u with known", bit);
		if (r == 0)
			close_pair(fds);
	}
}

TEST_F(chan, create_reserved_nonzero)
{
	struct ipcchan_create c;
	struct ipcchan_query q;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c.reserved); i++) {
		memset(&c, 0, sizeof(c));
		c.reserved[i] = 1ULL << (i * 13);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, IPCCHAN_IOC_CREATE, &c))
			TH_LOG("reserved[%u]", i);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->q.nr_channels, q.nr_channels);
}

TEST_F(chan, create_bad_pointers)
{
	void *ptrs[] = { NULL, unmapped_addr(), KERNEL_ADDR };
	long page = sysconf(_SC_PAGESIZE);
	struct ipcchan_query q;
	unsigned char *map;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ptrs); i++) {
		void *p = ptrs[i];

		EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_CREATE, p))
			TH_LOG("%p", p);
	}

	/* Readable input, unwritable output: -EFAULT and no channel leaks. */
	map = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, page);
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_CREATE, map));
	munmap(map, page);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->q.nr_channels, q.nr_channels);
	EXPECT_EQ(self->q.user_channels, q.user_channels);
}

/* Every channel command, with its first published struct size. */
struct cmd_size {
	const char *name;
	unsigned long cmd;
	unsigned int ver0;
	int on_ctl;	/* issued on the control fd, else on an endpoint */
	int tx;		/* on the send endpoint */
};

static const struct cmd_size chan_cmds[] = {
	{ "CREATE", IPCCHAN_IOC_CREATE, IPCCHAN_CREATE_SIZE_VER0, 1, 0 },
	{ "SEND", IPCCHAN_IOC_SEND, IPCCHAN_SEND_SIZE_VER0, 0, 1 },
	{ "RECV", IPCCHAN_IOC_RECV, IPCCHAN_RECV_SIZE_VER0, 0, 0 },
	{ "SEND_BATCH", IPCCHAN_IOC_SEND_BATCH, IPCCHAN_BATCH_SIZE_VER0, 0, 1 },
	{ "RECV_BATCH", IPCCHAN_IOC_RECV_BATCH, IPCCHAN_BATCH_SIZE_VER0, 0, 0 },
	{ "STATS", IPCCHAN_IOC_STATS, IPCCHAN_STATS_SIZE_VER0, 0, 0 },
};

TEST_F(chan, struct_sizes)
{
	static unsigned char buf[4096];
	unsigned int i, j;
	int fds[2];

	/* The published sizes are the structs' sizes. */
	EXPECT_EQ(IPCCHAN_CREATE_SIZE_VER0, sizeof(struct ipcchan_create));
	EXPECT_EQ(IPCCHAN_SEND_SIZE_VER0, sizeof(struct ipcchan_send));
	EXPECT_EQ(IPCCHAN_RECV_SIZE_VER0, sizeof(struct ipcchan_recv));
	EXPECT_EQ(IPCCHAN_BATCH_SIZE_VER0, sizeof(struct ipcchan_batch));
	EXPECT_EQ(IPCCHAN_STATS_SIZE_VER0, sizeof(struct ipcchan_stats));

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (i = 0; i < ARRAY_SIZE(chan_cmds); i++) {
		const struct cmd_size *c = &chan_cmds[i];
		unsigned int sizes[] = { 0, 1, 8, c->ver0 - 8, c->ver0 - 1 };
		int fd = c->on_ctl ? self->ctl : fds[c->tx];

		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			memset(buf, 0, sizeof(buf));
			EXPECT_EQ(-EINVAL, chan_ioctl(fd, ioc_resize(c->cmd,
								     sizes[j]),
						      buf))
				TH_LOG("%s size %u", c->name, sizes[j]);
		}
		/* Larger than known with a non-zero tail. */
		memset(buf, 0, sizeof(buf));
		buf[c->ver0 + 17] = 1;
		EXPECT_EQ(-E2BIG, chan_ioctl(fd, ioc_resize(c->cmd,
							    c->ver0 + 64), buf))
			TH_LOG("%s with a non-zero tail", c->name);
	}
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	close_pair(fds);
}

TEST_F(chan, struct_sizes_larger_zero_tail)
{
	struct {
		union {
			struct ipcchan_create c;
			struct ipcchan_send s;
			struct ipcchan_recv r;
			struct ipcchan_stats st;
		};
		unsigned char tail[64];
	} big;
	unsigned int i, size;
	int fds[2];
	char buf[8];

	/* CREATE */
	memset(&big, 0, sizeof(big));
	size = sizeof(big.c) + sizeof(big.tail);
	ASSERT_LE(0, chan_ioctl(self->ctl, ioc_resize(IPCCHAN_IOC_CREATE,
						      size), &big.c));
	fds[0] = big.c.fds[0];
	fds[1] = big.c.fds[1];
	ASSERT_GE(fds[0], 0);
	ASSERT_GE(fds[1], 0);
	for (i = 0; i < sizeof(big.tail); i++) {
		ASSERT_EQ(0, ((unsigned char *)&big.c)[sizeof(big.c) + i]);
	}

	/* SEND */
	memset(&big, 0, sizeof(big));
	big.s.buf = ptr64("tail");
	big.s.len = 4;
	ASSERT_LE(0, chan_ioctl(fds[1], ioc_resize(IPCCHAN_IOC_SEND,
						   sizeof(big.s) + 64), &big.s));
	EXPECT_EQ(1, queued(_metadata, fds[0]));

	/* RECV: the kernel writes only what it knows. */
	memset(&big, 0, sizeof(big));
	big.r.buf = ptr64(buf);
	big.r.len = sizeof(buf);
	big.r.flags = IPCCHAN_NONBLOCK;
	EXPECT_EQ(4, chan_ioctl(fds[0], ioc_resize(IPCCHAN_IOC_RECV,
						   sizeof(big.r) + 64), &big.r));
	EXPECT_EQ(4, big.r.len);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, ((unsigned char *)&big.r)[sizeof(big.r) + i]);
	}

	/* STATS */
	memset(&big, 0, sizeof(big));
	EXPECT_EQ(0, chan_ioctl(fds[0], ioc_resize(IPCCHAN_IOC_STATS,
						   sizeof(big.st) + 64), &big.st));
	EXPECT_EQ(1, big.st.received);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, ((unsigned char *)&big.st)[sizeof(big.st) + i]);
	}
	close_pair(fds);
}

/* ---- messages ------------------------------------------------------------ */

TEST_F(chan, message_boundaries)
{
	static const char * const msgs[] = { "a", "bc", "def", "", "ghij" };
	struct ipcchan_recv r;
	char buf[64];
	unsigned int i;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (i = 0; i < ARRAY_SIZE(msgs); i++) {
		ASSERT_EQ(0, chan_send_str(fds[1], msgs[i], 0, IPCCHAN_NONBLOCK));
	}
	for (i = 0; i < ARRAY_SIZE(msgs); i++) {
		memset(buf, 'X', sizeof(buf));
		EXPECT_EQ((long)strlen(msgs[i]),
			  chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r))
			TH_LOG("message %u", i);
		EXPECT_EQ(strlen(msgs[i]), r.len);
		EXPECT_EQ(0, memcmp(buf, msgs[i], strlen(msgs[i])));
		/* Nothing past the message was written. */
		EXPECT_EQ('X', buf[strlen(msgs[i])]);
		EXPECT_EQ(i + 1, r.seq);
	}
	EXPECT_EQ(-EAGAIN, chan_recv(fds[0], buf, sizeof(buf),
				     IPCCHAN_NONBLOCK, NULL));
	close_pair(fds);
}

static void roundtrip(struct __test_metadata *_metadata, int fds[2],
		      size_t len, unsigned int seed)
{
	unsigned char *out = malloc(len + 1), *in = malloc(len + 64);
	struct ipcchan_recv r;
	int bad;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	fill(out, len, seed);
	memset(in, 0xee, len + 64);
	ASSERT_EQ(0, chan_send(fds[1], out, len, 0, IPCCHAN_NONBLOCK))
		TH_LOG("send %zu bytes", len);
	/* A buffer of exactly the message's length is enough. */
	EXPECT_EQ((long)len, chan_recv(fds[0], in, len, IPCCHAN_NONBLOCK, &r))
		TH_LOG("receive %zu bytes", len);
	EXPECT_EQ(len, r.len);
	EXPECT_NE(0, r.seq);
	bad = check_fill(in, len, seed);
	EXPECT_EQ(-1, bad) TH_LOG("length %zu differs at byte %d", len, bad);
	EXPECT_EQ(0xee, in[len]);
	free(out);
	free(in);
}

TEST_F(chan, lengths_byte_exact)
{
	struct ipcchan_stats st;
	__u64 big;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	roundtrip(_metadata, fds, 0, 1);
	roundtrip(_metadata, fds, 1, 2);
	roundtrip(_metadata, fds, 2, 3);
	roundtrip(_metadata, fds, st.msg_size_max - 1, 4);
	roundtrip(_metadata, fds, st.msg_size_max, 5);
	close_pair(fds);

	/* The largest message the module allows, alone in its queue. */
	big = self->q.max_msg_size;
	if (big > self->q.max_queue_bytes)
		big = self->q.max_queue_bytes;
	if (big > 4 << 20)
		big = 4 << 20;
	ASSERT_EQ(0, chan_create(self->ctl, 0, (__u32)big, 1, big, fds));
	roundtrip(_metadata, fds, big, 6);
	roundtrip(_metadata, fds, big - 1, 7);
	roundtrip(_metadata, fds, 0, 8);
	close_pair(fds);
}

TEST_F(chan, zero_length_message)
{
	struct ipcchan_recv r;
	char buf[4] = "abc";
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 0, 3, IPCCHAN_NONBLOCK));
	EXPECT_EQ(1, queued(_metadata, fds[0]));
	/* Returns 0 with a non-zero seq: a message, not end of channel. */
	EXPECT_EQ(0, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(3, r.prio);
	EXPECT_EQ(0, memcmp(buf, "abc", 4));
	/* Into a zero-length buffer too. */
	ASSERT_EQ(0, chan_send(fds[1], buf, 0, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, chan_recv(fds[0], buf, 0, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(2, r.seq);
	close_pair(fds);
}

TEST_F(chan, send_too_large)
{
	struct ipcchan_stats st;
	char *buf;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 64, 4, 0, fds));
	buf = calloc(1, 4096);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 65, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 4096, 0, IPCCHAN_NONBLOCK));
	/* Lengths far past any buffer: the size check comes first. */
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 1ULL << 32, 0,
				       IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 1ULL << 63, 0,
				       IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, UINT64_MAX, 0,
				       IPCCHAN_NONBLOCK));
	/* Blocking makes no difference: it is refused at once. */
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, 65, 0, 0));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.sent);
	EXPECT_EQ(0, chan_send(fds[1], buf, 64, 0, IPCCHAN_NONBLOCK));
	free(buf);
	close_pair(fds);
}

TEST_F(chan, priority_order)
{
	static const struct { __u32 prio; const char *tag; } in[] = {
		{ 1, "a" }, { 5, "b" }, { 1, "c" }, { 5, "d" }, { 0, "e" },
		{ 32767, "f" }, { 0, "g" }, { 32767, "h" }, { 5, "i" },
	};
	static const char order[] = "fhbdiaceg";
	/* seq follows send order, whatever the receive order. */
	static const __u64 seqs[] = { 6, 8, 2, 4, 9, 1, 3, 5, 7 };
	struct ipcchan_recv r;
	unsigned int i;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 16, 0, fds));
	for (i = 0; i < ARRAY_SIZE(in); i++) {
		ASSERT_EQ(0, chan_send_str(fds[1], in[i].tag, in[i].prio,
					   IPCCHAN_NONBLOCK));
	}
	for (i = 0; i < strlen(order); i++) {
		c = 0;
		ASSERT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, &r));
		EXPECT_EQ(order[i], c) TH_LOG("position %u: got '%c'", i, c);
		EXPECT_EQ(seqs[i], r.seq);
		EXPECT_EQ(in[seqs[i] - 1].prio, r.prio);
	}
	close_pair(fds);
}

TEST_F(chan, priority_range)
{
	struct ipcchan_recv r;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	EXPECT_EQ(0, chan_send_str(fds[1], "x", IPCCHAN_PRIO_MAX - 1,
				   IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send_str(fds[1], "y", IPCCHAN_PRIO_MAX,
					 IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send_str(fds[1], "y", 65535, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send_str(fds[1], "y", 1U << 31,
					 IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send_str(fds[1], "y", UINT32_MAX,
					 IPCCHAN_NONBLOCK));
	EXPECT_EQ(1, queued(_metadata, fds[0]));
	ASSERT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ('x', c);
	EXPECT_EQ(32767, r.prio);
	EXPECT_EQ(0, chan_send_str(fds[1], "z", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, r.prio);
	close_pair(fds);
}

TEST_F(chan, peek)
{
	struct ipcchan_recv r, p;
	struct ipcchan_stats st;
	char buf[16];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "first", 2, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "second", 1, IPCCHAN_NONBLOCK));

	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, chan_recv(fds[0], buf, sizeof(buf),
			       IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &p));
	EXPECT_STREQ("first", buf);
	EXPECT_EQ(2, p.prio);
	EXPECT_EQ(1, p.seq);
	/* Again: the same message. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, chan_recv(fds[0], buf, sizeof(buf),
			       IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &p));
	EXPECT_STREQ("first", buf);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(2, st.queued_msgs);
	EXPECT_EQ(11, st.queued_bytes);
	EXPECT_EQ(0, st.received);

	/* A receive gets what the peek showed. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_STREQ("first", buf);
	EXPECT_EQ(p.seq, r.seq);
	EXPECT_EQ(p.prio, r.prio);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, chan_recv(fds[0], buf, sizeof(buf),
			       IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &p));
	EXPECT_STREQ("second", buf);
	EXPECT_EQ(2, p.seq);
	/* A too-small buffer fails the peek too, with the length. */
	EXPECT_EQ(-EMSGSIZE, chan_recv(fds[0], buf, 3,
				       IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &p));
	EXPECT_EQ(6, p.len);
	EXPECT_EQ(6, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	/* Peek on an empty queue. */
	EXPECT_EQ(-EAGAIN, chan_recv(fds[0], buf, sizeof(buf),
				     IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, NULL));
	check_stats_invariant(_metadata, fds[0], 0);
	close_pair(fds);
}

TEST_F(chan, recv_emsgsize)
{
	struct ipcchan_stats st;
	struct ipcchan_recv r;
	char out[100], in[100];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	fill(out, sizeof(out), 9);
	ASSERT_EQ(0, chan_send(fds[1], out, 100, 4, IPCCHAN_NONBLOCK));

	memset(in, 0x55, sizeof(in));
	EXPECT_EQ(-EMSGSIZE, chan_recv(fds[0], in, 99, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(100, r.len);	/* the true length */
	EXPECT_EQ(-EMSGSIZE, chan_recv(fds[0], in, 1, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(100, r.len);
	EXPECT_EQ(-EMSGSIZE, chan_recv(fds[0], in, 0, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(100, r.len);
	/* Nothing was copied and the message is still queued. */
	EXPECT_EQ(0x55, (unsigned char)in[0]);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(100, st.queued_bytes);
	EXPECT_EQ(0, st.received);

	/* The length it reported is enough. */
	EXPECT_EQ(100, chan_recv(fds[0], in, r.len, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(in, out, 100));
	EXPECT_EQ(4, r.prio);
	EXPECT_EQ(1, r.seq);
	close_pair(fds);
}

TEST_F(chan, recv_creds)
{
	struct ipcchan_recv r;
	__u64 before, after;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	before = now_ns(CLOCK_MONOTONIC);
	ASSERT_EQ(0, chan_send_str(fds[1], "c", 0, IPCCHAN_NONBLOCK));
	after = now_ns(CLOCK_MONOTONIC);
	sleep_ms(20);

	memset(&r, 0, sizeof(r));
	EXPECT_EQ(1, chan_recv(fds[0], &c, 1,
			       IPCCHAN_NONBLOCK | IPCCHAN_RECV_CREDS, &r));
	EXPECT_EQ((__u32)getpid(), r.pid);
	EXPECT_EQ(geteuid(), r.uid);
	EXPECT_EQ(getegid(), r.gid);
	EXPECT_LE(before, r.timestamp_ns);
	EXPECT_GE(after, r.timestamp_ns)
		TH_LOG("timestamp %llu, sent between %llu and %llu",
		       (unsigned long long)r.timestamp_ns,
		       (unsigned long long)before, (unsigned long long)after);
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(0, r.reserved | r.pad);
	EXPECT_EQ(0, r.slot);	/* no RECV_SLOT: reads 0, as reserved did */

	/* With PEEK too. */
	ASSERT_EQ(0, chan_send_str(fds[1], "d", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK |
			       IPCCHAN_RECV_CREDS | IPCCHAN_RECV_PEEK, &r));
	EXPECT_EQ((__u32)getpid(), r.pid);
	EXPECT_LE(after, r.timestamp_ns);
	close_pair(fds);
}

TEST_F(chan, recv_outputs_initialised)
{
	struct ipcchan_recv r;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "q", 9, IPCCHAN_NONBLOCK));
	/* Garbage in every output field; without RECV_CREDS none is asked. */
	memset(&r, 0xa5, sizeof(r));
	r.flags = IPCCHAN_NONBLOCK;
	r.buf = ptr64(&c);
	r.len = 1;
	r.timeout_ns = 0;
	r.pad = 0;
	r.reserved = 0;
	EXPECT_EQ(1, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &r));
	EXPECT_EQ(1, r.len);
	EXPECT_EQ(9, r.prio);
	EXPECT_EQ(1, r.seq);
	/* Output structs are fully initialised: nothing of the input stays. */
	EXPECT_EQ(0, r.pid);
	EXPECT_EQ(0, r.uid);
	EXPECT_EQ(0, r.gid);
	EXPECT_EQ(0, r.timestamp_ns);
	EXPECT_EQ(0, r.reserved | r.pad);
	EXPECT_EQ(0, r.slot);	/* no RECV_SLOT: reads 0, as reserved did */
	close_pair(fds);
}

TEST_F(chan, seq_from_one_increasing)
{
	struct ipcchan_recv r;
	__u64 last = 0;
	unsigned int i;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 8, 0, fds));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, chan_send(fds[1], "s", 1, 0, IPCCHAN_NONBLOCK));
		ASSERT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, &r));
		EXPECT_EQ(i + 1, r.seq);
		EXPECT_LT(last, r.seq);
		last = r.seq;
	}
	/* Failed sends take no number. */
	EXPECT_EQ(-EINVAL, chan_send(fds[1], "s", 1, IPCCHAN_PRIO_MAX,
				     IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], "s", 1, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(21, r.seq);
	close_pair(fds);
}

/* ---- vectored send ------------------------------------------------------- */

TEST_F(chan, send_iov_gathers)
{
	struct ipcchan_iovec iov[4];
	struct ipcchan_send s;
	struct ipcchan_recv r;
	char buf[64];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	iov[0] = (struct ipcchan_iovec){ ptr64("he"), 2 };
	iov[1] = (struct ipcchan_iovec){ ptr64("XX"), 0 };
	iov[2] = (struct ipcchan_iovec){ ptr64("llo"), 3 };
	iov[3] = (struct ipcchan_iovec){ ptr64(" world!"), 6 };
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_IOV | IPCCHAN_NONBLOCK;
	s.buf = ptr64(iov);
	s.len = 4;
	s.prio = 6;
	ASSERT_LE(0, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(11, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_STREQ("hello world", buf);
	EXPECT_EQ(6, r.prio);
	EXPECT_EQ(1, r.seq);

	/* No pieces: an empty message (buf is not read). */
	s.buf = 0;
	s.len = 0;
	ASSERT_LE(0, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	EXPECT_EQ(0, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(2, r.seq);
	close_pair(fds);
}

TEST_F(chan, send_iov_max_pieces)
{
	struct ipcchan_iovec *iov;
	struct ipcchan_send s;
	unsigned char src[IPCCHAN_IOV_MAX + 1], dst[IPCCHAN_IOV_MAX + 1];
	unsigned int i;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 2 * IPCCHAN_IOV_MAX, 2, 0, fds));
	iov = calloc(IPCCHAN_IOV_MAX + 1, sizeof(*iov));
	ASSERT_NE(NULL, iov);
	fill(src, sizeof(src), 11);
	/* Pieces in reverse order, one byte each. */
	for (i = 0; i <= IPCCHAN_IOV_MAX; i++) {
		iov[i].base = ptr64(&src[IPCCHAN_IOV_MAX - i]);
		iov[i].len = 1;
	}
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_IOV | IPCCHAN_NONBLOCK;
	s.buf = ptr64(iov);
	s.len = IPCCHAN_IOV_MAX;
	ASSERT_LE(0, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	EXPECT_EQ(IPCCHAN_IOV_MAX, chan_recv(fds[0], dst, sizeof(dst),
					     IPCCHAN_NONBLOCK, NULL));
	for (i = 0; i < IPCCHAN_IOV_MAX; i++) {
		ASSERT_EQ(src[IPCCHAN_IOV_MAX - i], dst[i]) TH_LOG("byte %u", i);
	}

	/* One piece too many. */
	s.len = IPCCHAN_IOV_MAX + 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	s.len = UINT64_MAX;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	free(iov);
	close_pair(fds);
}

TEST_F(chan, send_iov_errors)
{
	struct ipcchan_iovec iov[3];
	struct ipcchan_send s;
	char buf[32] = { 0 };
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_IOV | IPCCHAN_NONBLOCK;
	s.buf = ptr64(iov);

	/* The pieces add up to more than msg_size_max. */
	iov[0] = (struct ipcchan_iovec){ ptr64(buf), 10 };
	iov[1] = (struct ipcchan_iovec){ ptr64(buf), 7 };
	s.len = 2;
	EXPECT_EQ(-EMSGSIZE, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	/* Pieces whose lengths wrap when added. */
	iov[0] = (struct ipcchan_iovec){ ptr64(buf), 1ULL << 63 };
	iov[1] = (struct ipcchan_iovec){ ptr64(buf), 1ULL << 63 };
	EXPECT_EQ(-EMSGSIZE, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	iov[0] = (struct ipcchan_iovec){ ptr64(buf), UINT64_MAX };
	iov[1] = (struct ipcchan_iovec){ ptr64(buf), 2 };
	EXPECT_EQ(-EMSGSIZE, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));

	/* Bad iovec array. */
	s.len = 1;
	s.buf = 0;
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	s.buf = ptr64(unmapped_addr());
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	s.buf = ptr64(KERNEL_ADDR);
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));

	/* A bad piece among good ones. */
	s.buf = ptr64(iov);
	s.len = 3;
	iov[0] = (struct ipcchan_iovec){ ptr64(buf), 2 };
	iov[1] = (struct ipcchan_iovec){ 0, 2 };
	iov[2] = (struct ipcchan_iovec){ ptr64(buf), 2 };
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	iov[1].base = ptr64(KERNEL_ADDR);
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	iov[1].base = ptr64(unmapped_addr());
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));

	EXPECT_EQ(0, queued(_metadata, fds[0]));
	check_stats_invariant(_metadata, fds[0], 0);
	close_pair(fds);
}

/* ---- batches -------------------------------------------------------------- */

TEST_F(chan, batch_send_partial)
{
	struct ipcchan_msghdr m[8];
	struct ipcchan_stats st;
	char data[8][8];
	__u32 done;
	unsigned int i;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 5, 0, fds));
	memset(m, 0, sizeof(m));
	for (i = 0; i < 8; i++) {
		snprintf(data[i], sizeof(data[i]), "m%u", i);
		m[i].buf = ptr64(data[i]);
		m[i].len = strlen(data[i]);
		m[i].prio = i % 3;
		m[i].seq = 0x1234;	/* ignored on send */
	}
	/* Capacity 5, batch 8: the call returns how many fit. */
	EXPECT_EQ(5, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 8,
				IPCCHAN_NONBLOCK, 0, &done));
	EXPECT_EQ(5, done);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(5, st.queued_msgs);
	EXPECT_EQ(5, st.sent);
	/* Full now: nothing fits, so the error of the first. */
	EXPECT_EQ(-EAGAIN, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, &m[5], 3,
				      IPCCHAN_NONBLOCK, 0, NULL));
	/* A blocking batch with room for some returns at once with those. */
	{
		char c[8];
		struct ipcchan_recv r;

		ASSERT_EQ(2, chan_recv(fds[0], c, sizeof(c), IPCCHAN_NONBLOCK, &r));
		ASSERT_EQ(2, chan_recv(fds[0], c, sizeof(c), IPCCHAN_NONBLOCK, &r));
	}
	alarm(20);
	EXPECT_EQ(2, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, &m[5], 3, 0, 0,
				&done));
	alarm(0);
	EXPECT_EQ(2, done);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(5, st.queued_msgs);
	EXPECT_EQ(7, st.sent);
	check_stats_invariant(_metadata, fds[0], 0);
	close_pair(fds);
}

TEST_F(chan, batch_recv_partial)
{
	struct ipcchan_msghdr m[8];
	char bufs[8][16];
	unsigned int i;
	__u32 done;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "low", 1, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "high", 9, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "", 1, IPCCHAN_NONBLOCK));
	memset(m, 0, sizeof(m));
	memset(bufs, 0, sizeof(bufs));
	for (i = 0; i < 8; i++) {
		m[i].buf = ptr64(bufs[i]);
		m[i].len = sizeof(bufs[i]);
		m[i].prio = 777;
		m[i].seq = 777;
	}
	/* Three queued, eight asked, blocking: returns the three at once. */
	alarm(20);
	EXPECT_EQ(3, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m, 8, 0, 0,
				&done));
	alarm(0);
	EXPECT_EQ(3, done);
	EXPECT_STREQ("high", bufs[0]);
	EXPECT_EQ(4, m[0].len);
	EXPECT_EQ(9, m[0].prio);
	EXPECT_EQ(2, m[0].seq);
	EXPECT_STREQ("low", bufs[1]);
	EXPECT_EQ(3, m[1].len);
	EXPECT_EQ(1, m[1].prio);
	EXPECT_EQ(1, m[1].seq);
	EXPECT_EQ(0, m[2].len);
	EXPECT_EQ(1, m[2].prio);
	EXPECT_EQ(3, m[2].seq);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, m[i].pad);
	}
	/* Entries past done are untouched. */
	EXPECT_EQ(sizeof(bufs[3]), m[3].len);
	EXPECT_EQ(777, m[3].seq);
	EXPECT_EQ(-EAGAIN, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m, 8,
				      IPCCHAN_NONBLOCK, 0, NULL));
	close_pair(fds);
}

TEST_F(chan, batch_roundtrip_many)
{
	static struct ipcchan_msghdr m[IPCCHAN_BATCH_MAX + 1];
	static __u32 vals[IPCCHAN_BATCH_MAX], got[IPCCHAN_BATCH_MAX];
	struct ipcchan_stats st;
	unsigned int i;
	int fds[2];

	ASSERT_LE(IPCCHAN_BATCH_MAX, self->q.max_queue_msgs);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 4, IPCCHAN_BATCH_MAX, 0, fds));
	for (i = 0; i < IPCCHAN_BATCH_MAX; i++) {
		vals[i] = i * 2654435761u;
		m[i].buf = ptr64(&vals[i]);
		m[i].len = 4;
		m[i].prio = 0;
	}
	EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m,
				      IPCCHAN_BATCH_MAX + 1, IPCCHAN_NONBLOCK,
				      0, NULL));
	EXPECT_EQ(IPCCHAN_BATCH_MAX,
		  chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m,
			     IPCCHAN_BATCH_MAX, IPCCHAN_NONBLOCK, 0, NULL));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(IPCCHAN_BATCH_MAX, st.queued_msgs);
	EXPECT_EQ(4 * IPCCHAN_BATCH_MAX, st.queued_bytes);
	EXPECT_EQ(IPCCHAN_BATCH_MAX, st.peak_msgs);
	for (i = 0; i < IPCCHAN_BATCH_MAX; i++) {
		m[i].buf = ptr64(&got[i]);
		m[i].len = 4;
	}
	EXPECT_EQ(-EINVAL, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m,
				      IPCCHAN_BATCH_MAX + 1, IPCCHAN_NONBLOCK,
				      0, NULL));
	EXPECT_EQ(IPCCHAN_BATCH_MAX,
		  chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m,
			     IPCCHAN_BATCH_MAX, IPCCHAN_NONBLOCK, 0, NULL));
	for (i = 0; i < IPCCHAN_BATCH_MAX; i++) {
		ASSERT_EQ(vals[i], got[i]) TH_LOG("message %u", i);
		ASSERT_EQ(i + 1, m[i].seq);
	}
	close_pair(fds);
}

TEST_F(chan, batch_bytes_capacity)
{
	struct ipcchan_msghdr m[4];
	char data[40];
	unsigned int i;
	int fds[2];

	/* 100 bytes of queue, 40-byte messages: two fit. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 40, 10, 100, fds));
	memset(data, 'b', sizeof(data));
	memset(m, 0, sizeof(m));
	for (i = 0; i < 4; i++) {
		m[i].buf = ptr64(data);
		m[i].len = sizeof(data);
	}
	EXPECT_EQ(2, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 4,
				IPCCHAN_NONBLOCK, 0, NULL));
	/* A smaller one still fits in the bytes left. */
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], data, 21, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, chan_send(fds[1], data, 20, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], data, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(3, queued(_metadata, fds[0]));
	close_pair(fds);
}

TEST_F(chan, batch_errors)
{
	struct ipcchan_msghdr m[3];
	struct ipcchan_batch b;
	char small[4], big[200];
	unsigned int i, bit;
	__u32 done;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 100, 8, 0, fds));
	memset(big, 'z', sizeof(big));
	memset(m, 0, sizeof(m));

	/* count 0. */
	EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 0,
				      IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(-EINVAL, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m, 0,
				      IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m,
				      UINT32_MAX, IPCCHAN_NONBLOCK, 0, NULL));
	/* Bad msgs arrays. */
	EXPECT_EQ(-EFAULT, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, NULL, 1,
				      IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(-EFAULT, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
				      KERNEL_ADDR, 1, IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(-EFAULT, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
				      unmapped_addr(), 1, IPCCHAN_NONBLOCK, 0,
				      NULL));
	/* A bad payload pointer in the first message. */
	m[0].buf = 0;
	m[0].len = 5;
	EXPECT_EQ(-EFAULT, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 1,
				      IPCCHAN_NONBLOCK, 0, NULL));
	/* The first message too large. */
	m[0].buf = ptr64(big);
	m[0].len = 101;
	EXPECT_EQ(-EMSGSIZE, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 1,
					IPCCHAN_NONBLOCK, 0, NULL));
	/* A bad priority or pad in the first. */
	m[0].len = 1;
	m[0].prio = IPCCHAN_PRIO_MAX;
	EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 1,
				      IPCCHAN_NONBLOCK, 0, NULL));
	m[0].prio = 0;
	m[0].pad = 1;
	EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 1,
				      IPCCHAN_NONBLOCK, 0, NULL));
	m[0].pad = 0;
	EXPECT_EQ(0, queued(_metadata, fds[0]));

	/*
	 * An error after the first message stops the batch; the call reports
	 * what was sent and the next call the error.
	 */
	m[0].buf = ptr64(big);
	m[0].len = 10;
	m[1].buf = ptr64(big);
	m[1].len = 101;
	m[2].buf = ptr64(big);
	m[2].len = 10;
	EXPECT_EQ(1, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 3,
				IPCCHAN_NONBLOCK, 0, &done));
	EXPECT_EQ(1, done);
	EXPECT_EQ(-EMSGSIZE, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, &m[1], 2,
					IPCCHAN_NONBLOCK, 0, NULL));
	m[1].len = 10;
	m[1].pad = 3;
	EXPECT_EQ(1, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 3,
				IPCCHAN_NONBLOCK, 0, NULL));
	m[1].pad = 0;
	m[1].buf = ptr64(KERNEL_ADDR);
	EXPECT_EQ(1, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 3,
				IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(3, queued(_metadata, fds[0]));

	/* Receive: the first buffer too small gives its needed size. */
	m[0].buf = ptr64(small);
	m[0].len = sizeof(small);
	EXPECT_EQ(-EMSGSIZE, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m, 1,
					IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(10, m[0].len);
	EXPECT_EQ(3, queued(_metadata, fds[0]));
	/* The second too small: one received, the next call fails. */
	m[0].buf = ptr64(big);
	m[0].len = sizeof(big);
	m[1].buf = ptr64(small);
	m[1].len = sizeof(small);
	EXPECT_EQ(1, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m, 2,
				IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(-EMSGSIZE, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, &m[1], 1,
					IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(10, m[1].len);
	EXPECT_EQ(2, queued(_metadata, fds[0]));

	/* Unknown flags and reserved words. */
	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & XFER_KNOWN)
			continue;
		m[0].buf = ptr64(big);
		m[0].len = 1;
		EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m,
					      1, f | IPCCHAN_NONBLOCK, 0, NULL))
			TH_LOG("send batch flag bit %u", bit);
		m[0].len = sizeof(big);
		EXPECT_EQ(-EINVAL, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, m,
					      1, f | IPCCHAN_NONBLOCK, 0, NULL))
			TH_LOG("recv batch flag bit %u", bit);
	}
	for (i = 0; i < ARRAY_SIZE(b.reserved); i++) {
		m[0].buf = ptr64(big);
		m[0].len = 1;
		memset(&b, 0, sizeof(b));
		b.flags = IPCCHAN_NONBLOCK;
		b.msgs = ptr64(m);
		b.count = 1;
		b.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND_BATCH, &b));
		m[0].len = sizeof(big);
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_RECV_BATCH, &b));
	}
	/* Bad struct pointers. */
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND_BATCH, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV_BATCH, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV_BATCH,
				      KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV_BATCH,
				      unmapped_addr()));
	EXPECT_EQ(2, queued(_metadata, fds[0]));
	check_stats_invariant(_metadata, fds[0], 0);
	close_pair(fds);
}

/* ---- capacity and nonblocking fds ---------------------------------------- */

TEST_F(chan, queue_full_nonblock)
{
	struct ipcchan_stats st;
	char buf[32] = "0123456789";
	unsigned int i;
	int fds[2];

	/* By count. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 3, 0, fds));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	}
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 0, 0, IPCCHAN_NONBLOCK));
	/* Priority does not make room. */
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 1, 32767, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(3, st.queued_msgs);
	EXPECT_EQ(3, st.sent);
	/* One out, one in. */
	ASSERT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	close_pair(fds);

	/* By bytes. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 10, 100, 25, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 6, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, chan_send(fds[1], buf, 5, 0, IPCCHAN_NONBLOCK));
	/* Zero-length messages need no bytes. */
	EXPECT_EQ(0, chan_send(fds[1], buf, 0, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(4, st.queued_msgs);
	EXPECT_EQ(25, st.queued_bytes);
	close_pair(fds);
}

static void check_nonblocking(struct __test_metadata *_metadata, int fds[2])
{
	char buf[8] = "x";

	EXPECT_EQ(O_NONBLOCK, fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(O_NONBLOCK, fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	/* Without the per-call flag: the fd's O_NONBLOCK applies. */
	alarm(20);
	EXPECT_EQ(-EAGAIN, chan_recv(fds[0], buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(-EAGAIN, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH,
				      &(struct ipcchan_msghdr){
					      .buf = ptr64(buf), .len = 8 },
				      1, 0, 0, NULL));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, 0));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 1, 0, 0));
	EXPECT_EQ(-EAGAIN, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
				      &(struct ipcchan_msghdr){
					      .buf = ptr64(buf), .len = 1 },
				      1, 0, 0, NULL));
	EXPECT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), 0, NULL));
	alarm(0);
}

TEST_F(chan, fd_nonblock_flag)
{
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_NONBLOCK, 0, 1, 0, fds));
	check_nonblocking(_metadata, fds);
	EXPECT_EQ(0, fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close_pair(fds);
}

TEST_F(chan, fcntl_nonblock)
{
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK));
	ASSERT_EQ(0, fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK));
	check_nonblocking(_metadata, fds);
	close_pair(fds);
}

/* ---- stats and query ------------------------------------------------------ */

TEST_F(chan, stats_fields)
{
	struct ipcchan_stats st, st_tx, st_s;
	struct ipcchan_recv r;
	char buf[64] = { 0 };
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 128, 4, 0, fds));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(128, st.msg_size_max);
	EXPECT_EQ(4, st.queue_msgs);
	EXPECT_EQ(512 < self->q.max_queue_bytes ? 512 : self->q.max_queue_bytes,
		  st.queue_bytes);

	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 20, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 30, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(3, st.queued_msgs);
	EXPECT_EQ(60, st.queued_bytes);
	EXPECT_EQ(3, st.peak_msgs);
	EXPECT_EQ(3, st.sent);
	EXPECT_EQ(0, st.received);
	EXPECT_EQ(0, st.dropped);
	check_stats_invariant(_metadata, fds[0], 0);

	/* The send-only endpoint reports its tx channel, with or without TX. */
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st_s));
	ASSERT_EQ(0, chan_stats(fds[1], IPCCHAN_STATS_TX, &st_tx));
	EXPECT_EQ(st_s.queued_msgs, st_tx.queued_msgs);
	EXPECT_EQ(st_s.sent, st_tx.sent);
	EXPECT_EQ(st_s.queue_msgs, st_tx.queue_msgs);
	EXPECT_EQ(st.queued_msgs, st_s.queued_msgs);
	EXPECT_EQ(st.queued_bytes, st_s.queued_bytes);
	EXPECT_EQ(st.sent, st_s.sent);
	EXPECT_EQ(st.msg_size_max, st_s.msg_size_max);

	ASSERT_EQ(10, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(2, st.queued_msgs);
	EXPECT_EQ(50, st.queued_bytes);
	EXPECT_EQ(1, st.received);
	EXPECT_EQ(3, st.peak_msgs);
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(3, st.peak_msgs);
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(4, st.peak_msgs);
	EXPECT_EQ(5, st.sent);
	while (chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL) >= 0)
		;
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	EXPECT_EQ(5, st.received);
	EXPECT_EQ(4, st.peak_msgs);
	EXPECT_EQ(1, st.senders);
	EXPECT_EQ(1, st.receivers);
	EXPECT_EQ(0, st.waiting_senders);
	EXPECT_EQ(0, st.waiting_receivers);
	check_stats_invariant(_metadata, fds[0], 0);

	/* A dup is the same endpoint, not another one. */
	{
		int d = dup(fds[1]);

		ASSERT_GE(d, 0);
		ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
		EXPECT_EQ(1, st.senders);
		close(d);
	}
	/* The last sender gone. */
	close(fds[1]);
	fds[1] = -1;
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.senders);
	EXPECT_EQ(1, st.receivers);
	close_pair(fds);
}

TEST_F(chan, stats_duplex_tx)
{
	struct ipcchan_stats rx, tx, peer;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[0], "aa", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[0], "bbb", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &rx));
	ASSERT_EQ(0, chan_stats(fds[0], IPCCHAN_STATS_TX, &tx));
	ASSERT_EQ(0, chan_stats(fds[1], 0, &peer));
	EXPECT_EQ(0, rx.queued_msgs);
	EXPECT_EQ(0, rx.sent);
	EXPECT_EQ(2, tx.queued_msgs);
	EXPECT_EQ(5, tx.queued_bytes);
	EXPECT_EQ(2, tx.sent);
	EXPECT_EQ(2, peer.queued_msgs);
	EXPECT_EQ(2, peer.sent);
	EXPECT_EQ(1, tx.senders);
	EXPECT_EQ(1, tx.receivers);
	EXPECT_EQ(1, rx.senders);
	EXPECT_EQ(1, rx.receivers);
	close_pair(fds);
}

TEST_F(chan, stats_bad_input)
{
	struct ipcchan_stats st;
	unsigned int bit, i;
	unsigned char *map;
	long page = sysconf(_SC_PAGESIZE);
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & STATS_KNOWN)
			continue;
		EXPECT_EQ(-EINVAL, chan_stats(fds[0], f, &st))
			TH_LOG("flag bit %u", bit);
		EXPECT_EQ(-EINVAL, chan_stats(fds[1], f, &st))
			TH_LOG("flag bit %u on the send endpoint", bit);
	}
	for (i = 0; i < ARRAY_SIZE(st.reserved); i++) {
		memset(&st, 0, sizeof(st));
		st.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_STATS, &st))
			TH_LOG("reserved[%u]", i);
	}
	/* STATS_TX on an endpoint that does not send. */
	EXPECT_EQ(-EBADF, chan_stats(fds[0], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_STATS, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_STATS, KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_STATS,
				      unmapped_addr()));
	map = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, page);
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_STATS, map));
	munmap(map, page);
	close_pair(fds);
}

TEST_F(chan, query_accounting)
{
	struct ipcchan_query q0, q;
	char buf[100] = { 0 };
	int s[2], d[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, s));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	EXPECT_EQ(q0.user_channels + 1, q.user_channels);
	EXPECT_EQ(q0.user_bytes, q.user_bytes);

	/* A duplex pair is two channels. */
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, d));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 3, q.nr_channels);
	EXPECT_EQ(q0.user_channels + 3, q.user_channels);

	/*
	 * Queued messages are charged until received: payload plus
	 * IPCCHAN_MSG_OVERHEAD each, so an empty one is not free.
	 */
	ASSERT_EQ(0, chan_send(d[1], buf, 0, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	ASSERT_EQ(0, chan_send(s[1], buf, 100, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(d[0], buf, 17, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 117 + 3 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	/* A peek or a failed receive changes nothing. */
	EXPECT_EQ(100, chan_recv(s[0], buf, sizeof(buf),
				 IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, NULL));
	EXPECT_EQ(-EMSGSIZE, chan_recv(s[0], buf, 10, IPCCHAN_NONBLOCK, NULL));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 117 + 3 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	EXPECT_EQ(100, chan_recv(s[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 17 + 2 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);

	/* Closing returns the channels and the bytes still queued. */
	close_pair(s);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 2, q.nr_channels);
	EXPECT_EQ(q0.user_channels + 2, q.user_channels);
	close_pair(d);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(q0.user_channels, q.user_channels);
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
}

TEST_F(chan, channel_lives_while_any_endpoint)
{
	struct ipcchan_query q0, q;
	int fds[2];
	char c;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "k", 0, IPCCHAN_NONBLOCK));
	/* The channel outlives the control fd it was created through. */
	close(self->ctl);
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	close(fds[1]);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	EXPECT_EQ(1, chan_recv(fds[0], &c, 1, IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('k', c);
	close(fds[0]);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
}

/* ---- bad input on send and receive --------------------------------------- */

TEST_F(chan, send_bad_input)
{
	struct ipcchan_send s;
	unsigned int bit, i;
	char buf[8] = "abc";
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & SEND_KNOWN)
			continue;
		EXPECT_EQ(-EINVAL, chan_send(fds[1], buf, 3, 0,
					     f | IPCCHAN_NONBLOCK))
			TH_LOG("flag bit %u", bit);
	}
	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_NONBLOCK;
	s.buf = ptr64(buf);
	s.len = 3;
	/* A slot number without IPCCHAN_SEND_SLOT. */
	s.slot = 1;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	s.slot = 0x80000000;
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s));
	s.slot = 0;
	for (i = 0; i < ARRAY_SIZE(s.reserved); i++) {
		s.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, &s))
			TH_LOG("reserved[%u]", i);
		s.reserved[i] = 0;
	}
	/* Bad struct pointers. */
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[1], IPCCHAN_IOC_SEND, KERNEL_ADDR));
	/* Bad payload pointers. */
	EXPECT_EQ(-EFAULT, chan_send(fds[1], NULL, 3, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EFAULT, chan_send(fds[1], unmapped_addr(), 3, 0,
				     IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EFAULT, chan_send(fds[1], KERNEL_ADDR, 3, 0,
				     IPCCHAN_NONBLOCK));
	/* A payload that runs off its mapping. */
	{
		long page = sysconf(_SC_PAGESIZE);
		char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, munmap(map + page, page));
		EXPECT_EQ(-EFAULT, chan_send(fds[1], map + page - 10, 20, 0,
					     IPCCHAN_NONBLOCK));
		munmap(map, page);
	}
	/* Nothing of all that was queued. */
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	check_stats_invariant(_metadata, fds[0], 0);
	{
		struct ipcchan_stats st;

		ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
		EXPECT_EQ(0, st.sent);
	}
	close_pair(fds);
}

TEST_F(chan, send_bad_input_on_full_queue)
{
	char buf[4] = "x";
	int fds[2];

	/* Bad fields are refused before the queue state is looked at. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send(fds[1], buf, 1, IPCCHAN_PRIO_MAX,
				     IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EINVAL, chan_send(fds[1], buf, 1, 0,
				     IPCCHAN_NONBLOCK | (1ULL << 40)));
	EXPECT_EQ(-EMSGSIZE, chan_send(fds[1], buf, self->def_msg + 1, 0,
				       IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	close_pair(fds);
}

TEST_F(chan, recv_bad_input)
{
	struct ipcchan_recv r;
	unsigned int bit, i;
	char buf[8];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	/* On an empty queue: -EINVAL, not -EAGAIN. */
	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & RECV_KNOWN)
			continue;
		EXPECT_EQ(-EINVAL, chan_recv(fds[0], buf, sizeof(buf),
					     f | IPCCHAN_NONBLOCK, NULL))
			TH_LOG("flag bit %u, empty", bit);
	}
	/* With a message queued: -EINVAL, and the message stays. */
	ASSERT_EQ(0, chan_send_str(fds[1], "m", 0, IPCCHAN_NONBLOCK));
	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & RECV_KNOWN)
			continue;
		EXPECT_EQ(-EINVAL, chan_recv(fds[0], buf, sizeof(buf),
					     f | IPCCHAN_NONBLOCK, NULL))
			TH_LOG("flag bit %u, queued", bit);
	}
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		r.flags = IPCCHAN_NONBLOCK;
		r.buf = ptr64(buf);
		r.len = sizeof(buf);
		if (i)
			r.pad = 1;
		else
			r.reserved = 1;
		EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &r))
			TH_LOG("%s", i ? "pad" : "reserved");
	}
	/* PEEK with RECV_SLOT is refused, even on a channel without slots. */
	memset(&r, 0, sizeof(r));
	r.flags = IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK | IPCCHAN_RECV_SLOT;
	r.buf = ptr64(buf);
	r.len = sizeof(buf);
	EXPECT_EQ(-EINVAL, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, &r));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(fds[0], IPCCHAN_IOC_RECV, KERNEL_ADDR));
	EXPECT_EQ(1, queued(_metadata, fds[0]));

	/*
	 * A bad buffer: -EFAULT. Whether the message survives is not
	 * specified; the counters stay consistent either way.
	 */
	EXPECT_EQ(-EFAULT, chan_recv(fds[0], NULL, 8, IPCCHAN_NONBLOCK, NULL));
	check_stats_invariant(_metadata, fds[0], 0);
	ASSERT_EQ(0, chan_send_str(fds[1], "n", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EFAULT, chan_recv(fds[0], KERNEL_ADDR, 8, IPCCHAN_NONBLOCK,
				     NULL));
	check_stats_invariant(_metadata, fds[0], 0);
	ASSERT_EQ(0, chan_send_str(fds[1], "o", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EFAULT, chan_recv(fds[0], unmapped_addr(), 8,
				     IPCCHAN_NONBLOCK, NULL));
	check_stats_invariant(_metadata, fds[0], 0);
	{
		long page = sysconf(_SC_PAGESIZE);
		char *map = mmap(NULL, page, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, chan_send_str(fds[1], "p", 0, IPCCHAN_NONBLOCK));
		EXPECT_EQ(-EFAULT, chan_recv(fds[0], map, 8, IPCCHAN_NONBLOCK,
					     NULL));
		munmap(map, page);
	}
	check_stats_invariant(_metadata, fds[0], 0);
	{
		struct ipcchan_query q;

		/* Bytes of any message dropped by a fault are returned. */
		while (chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				 NULL) >= 0)
			;
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		EXPECT_EQ(self->q.user_bytes, q.user_bytes);
	}
	close_pair(fds);
}

TEST_F(chan, timeout_flag_rules)
{
	static const __u64 bad[] = {
		IPCCHAN_ABSTIME,
		IPCCHAN_REALTIME,
		IPCCHAN_ABSTIME | IPCCHAN_REALTIME,
		IPCCHAN_TIMEOUT | IPCCHAN_REALTIME,
		IPCCHAN_NONBLOCK | IPCCHAN_ABSTIME,
		IPCCHAN_NONBLOCK | IPCCHAN_REALTIME,
	};
	struct ipcchan_msghdr m = { 0 };
	char buf[8] = "t";
	unsigned int i;
	int fds[2];

	/* ABSTIME without TIMEOUT, REALTIME without ABSTIME: -EINVAL. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	m.buf = ptr64(buf);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		__u64 f = bad[i];

		m.len = 1;
		EXPECT_EQ(-EINVAL, chan_send_t(fds[1], buf, 1, 0, f, 1))
			TH_LOG("send flags %#llx", (unsigned long long)f);
		EXPECT_EQ(-EINVAL, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
					      &m, 1, f, 1, NULL))
			TH_LOG("send batch flags %#llx", (unsigned long long)f);
		EXPECT_EQ(-EINVAL, chan_recv_t(fds[0], buf, sizeof(buf), f, 1,
					       NULL))
			TH_LOG("recv flags %#llx", (unsigned long long)f);
		m.len = sizeof(buf);
		EXPECT_EQ(-EINVAL, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH,
					      &m, 1, f, 1, NULL))
			TH_LOG("recv batch flags %#llx", (unsigned long long)f);
	}
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	/* timeout_ns is ignored without TIMEOUT. */
	EXPECT_EQ(0, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK, UINT64_MAX));
	EXPECT_EQ(1, chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				 UINT64_MAX, NULL));
	close_pair(fds);
}

TEST_F(chan, dropped_when_no_receiver_can_come)
{
	struct ipcchan_query q0, q;
	struct ipcchan_stats st;
	char buf[10] = { 0 };
	int fds[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 10, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 30 + 3 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);

	/* The last receiver goes: the queue is dropped at once. */
	close(fds[0]);
	fds[0] = -1;
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(3, st.sent);
	EXPECT_EQ(0, st.received);
	EXPECT_EQ(3, st.dropped);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	EXPECT_EQ(0, st.receivers);
	EXPECT_EQ(1, st.senders);
	check_stats_invariant(_metadata, fds[1], 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes, q.user_bytes);

	/* Sends fail with -EPIPE and no SIGPIPE (default disposition here). */
	signal(SIGPIPE, SIG_DFL);
	EXPECT_EQ(-EPIPE, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EPIPE, chan_send(fds[1], buf, 1, 0, 0));
	EXPECT_EQ(-EPIPE, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
				     &(struct ipcchan_msghdr){
					     .buf = ptr64(buf), .len = 1 },
				     1, IPCCHAN_NONBLOCK, 0, NULL));
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(3, st.sent);
	close_pair(fds);

	/* Duplex: closing one end drops what was queued for it. */
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 4, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[0], buf, 5, 0, IPCCHAN_NONBLOCK));
	close(fds[0]);
	fds[0] = -1;
	ASSERT_EQ(0, chan_stats(fds[1], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(1, st.dropped);
	EXPECT_EQ(0, st.queued_msgs);
	/* What the closed end sent is still there to receive. */
	ASSERT_EQ(0, chan_stats(fds[1], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(5, chan_recv(fds[1], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(-EPIPE, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	close_pair(fds);
}

TEST_F(chan, wrong_direction_ebadf)
{
	struct ipcchan_msghdr m = { 0 };
	struct ipcchan_query q;
	char buf[8] = "x";
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	m.buf = ptr64(buf);
	m.len = 1;
	EXPECT_EQ(-EBADF, chan_send(fds[0], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EBADF, chan_send(fds[0], buf, 1, 0, 0));
	EXPECT_EQ(-EBADF, chan_batch(fds[0], IPCCHAN_IOC_SEND_BATCH, &m, 1,
				     IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	m.len = sizeof(buf);
	EXPECT_EQ(-EBADF, chan_recv(fds[1], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				    NULL));
	EXPECT_EQ(-EBADF, chan_recv(fds[1], buf, sizeof(buf), 0, NULL));
	EXPECT_EQ(-EBADF, chan_recv(fds[1], buf, sizeof(buf),
				    IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, NULL));
	EXPECT_EQ(-EBADF, chan_batch(fds[1], IPCCHAN_IOC_RECV_BATCH, &m, 1,
				     IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(1, queued(_metadata, fds[0]));
	/* Nothing else on the channel changed. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(self->q.user_bytes + 1 + IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	close_pair(fds);
}

TEST_F(chan, channel_ioctls_on_ctl_enotty)
{
	static const struct { const char *name; unsigned long cmd; } cmds[] = {
		{ "SEND", IPCCHAN_IOC_SEND },
		{ "RECV", IPCCHAN_IOC_RECV },
		{ "SEND_BATCH", IPCCHAN_IOC_SEND_BATCH },
		{ "RECV_BATCH", IPCCHAN_IOC_RECV_BATCH },
		{ "STATS", IPCCHAN_IOC_STATS },
		{ "NOTIFY", IPCCHAN_IOC_NOTIFY },
	};
	unsigned char buf[256];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(-ENOTTY, chan_ioctl(self->ctl, cmds[i].cmd, buf))
			TH_LOG("%s on the control fd", cmds[i].name);
	}
}

TEST_F(chan, ctl_ioctls_on_endpoint_enotty)
{
	static const struct { const char *name; unsigned long cmd; } cmds[] = {
		{ "CREATE", IPCCHAN_IOC_CREATE },
		{ "OPEN", IPCCHAN_IOC_OPEN },
		{ "UNLINK", IPCCHAN_IOC_UNLINK },
		/* Unknown numbers and directions of our type. */
		{ "0x7f", _IOWR(IPCCHAN_IOC_TYPE, 0x7f, struct ipcchan_send) },
		{ "SEND as IOWR", _IOWR(IPCCHAN_IOC_TYPE, 0x10,
					struct ipcchan_send) },
		{ "RECV as IOW", _IOW(IPCCHAN_IOC_TYPE, 0x11,
				      struct ipcchan_recv) },
		{ "STATS as IOR", _IOR(IPCCHAN_IOC_TYPE, 0x14,
				       struct ipcchan_stats) },
		{ "SEND, other type", _IOW(IPCCHAN_IOC_TYPE + 1, 0x10,
					   struct ipcchan_send) },
	};
	unsigned char buf[256];
	struct ipcchan_query q;
	unsigned int i, j;
	int fds[2], dup_fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0,
				 dup_fds));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	for (j = 0; j < 4; j++) {
		int fd = j < 2 ? fds[j] : dup_fds[j - 2];

		for (i = 0; i < ARRAY_SIZE(cmds); i++) {
			memset(buf, 0, sizeof(buf));
			EXPECT_EQ(-ENOTTY, chan_ioctl(fd, cmds[i].cmd, buf))
				TH_LOG("%s on endpoint %u", cmds[i].name, j);
		}
	}
	/* No channel was made by any of them. */
	{
		struct ipcchan_query q2;

		ASSERT_EQ(0, chan_query(self->ctl, &q2));
		EXPECT_EQ(q.nr_channels, q2.nr_channels);
	}
	close_pair(fds);
	close_pair(dup_fds);
}

TEST_F(chan, read_write_on_endpoints)
{
	struct ipcchan_stats st;
	char buf[16] = "data";
	int fds[2];

	/* read(2) and write(2) fail with -EINVAL and move no message. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	alarm(20);
	errno = 0;
	EXPECT_EQ(-1, write(fds[1], buf, 4));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, write(fds[0], buf, 4));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, write(fds[1], buf, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.sent);

	ASSERT_EQ(0, chan_send_str(fds[1], "msg", 0, IPCCHAN_NONBLOCK));
	errno = 0;
	EXPECT_EQ(-1, read(fds[0], buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, read(fds[1], buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	alarm(0);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(0, st.received);
	close_pair(fds);
}

/* ---- fds: fork, SCM_RIGHTS, flags, fdinfo -------------------------------- */

TEST_F(chan, fork_inherits_endpoints)
{
	struct ipcchan_recv r;
	struct ipcchan_stats st;
	char buf[32];
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		CHILD_CHECK(chan_send_str(fds[1], "from child", 7,
					  IPCCHAN_NONBLOCK) == 0, "send");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(10, chan_recv(fds[0], buf, sizeof(buf),
				IPCCHAN_NONBLOCK | IPCCHAN_RECV_CREDS, &r));
	EXPECT_STREQ("from child", buf);
	EXPECT_EQ(7, r.prio);
	EXPECT_EQ((__u32)pid, r.pid);
	/* The child's exit closed its copies; ours still send. */
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.senders);

	/* And a child receives what the parent sent. */
	ASSERT_EQ(0, chan_send_str(fds[1], "to child", 0, IPCCHAN_NONBLOCK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char b[32] = { 0 };

		alarm(20);
		CHILD_CHECK(chan_recv(fds[0], b, sizeof(b), IPCCHAN_NONBLOCK,
				      NULL) == 8, "recv");
		CHILD_CHECK(!strcmp(b, "to child"), "got '%s'", b);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, queued(_metadata, fds[0]));
	close_pair(fds);
}

TEST_F(chan, scm_rights_passing)
{
	int sv[2], fd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child makes a channel and hands its send end over. */
		char b[32] = { 0 };
		int ctl, cfds[2];
		struct ipcchan_recv r;

		alarm(30);
		close(sv[0]);
		ctl = ctl_open();
		CHILD_CHECK(ctl >= 0, "ctl_open %d", ctl);
		CHILD_CHECK(chan_create(ctl, 0, 0, 0, 0, cfds) == 0, "create");
		CHILD_CHECK(send_fd(sv[1], cfds[1]) == 0, "send_fd");
		close(cfds[1]);
		/* The parent sends through the passed fd: wait for it. */
		CHILD_CHECK(chan_recv_t(cfds[0], b, sizeof(b),
					IPCCHAN_TIMEOUT | IPCCHAN_RECV_CREDS,
					20 * NSEC_PER_SEC, &r) == 6,
			    "recv");
		CHILD_CHECK(!strcmp(b, "passed"), "got '%s'", b);
		CHILD_CHECK(r.pid == (__u32)getppid(), "pid %u", r.pid);
		_exit(0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	ASSERT_GE(fd, 0) TH_LOG("recv_fd: %s", strerror(-fd));
	/* It is a send endpoint: it sends and does not receive. */
	EXPECT_EQ(-EBADF, chan_recv(fd, NULL, 0, IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, chan_send_str(fd, "passed", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, wait_child(pid));
	close(fd);
	close(sv[0]);
}

TEST_F(chan, cloexec_flag)
{
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC, 0, 0, 0, fds));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	close_pair(fds);

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_FD_CLOEXEC |
				 IPCCHAN_FD_NONBLOCK | IPCCHAN_CREATE_DUPLEX,
				 0, 0, 0, fds));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(O_NONBLOCK, fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	close_pair(fds);

	/* Without the flag; the control fd's own CLOEXEC does not leak in. */
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	EXPECT_EQ(0, fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	close_pair(fds);
}

TEST_F(chan, fdinfo)
{
	static const char * const std[] = { "pos:", "flags:", "mnt_id:",
					     "ino:" };
	char path[64], buf[4096], *line, *save;
	int fds[2], fd, extra = 0, ipcchan_lines = 0, i;
	unsigned int k;
	ssize_t n;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fds[i]);
		fd = open(path, O_RDONLY);
		ASSERT_GE(fd, 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		ASSERT_GT(n, 0);
		buf[n] = '\0';
		TH_LOG("fdinfo of endpoint %d:\n%s", i, buf);
		extra = ipcchan_lines = 0;
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			int standard = 0;

			for (k = 0; k < ARRAY_SIZE(std); k++)
				if (!strncmp(line, std[k], strlen(std[k])))
					standard = 1;
			if (!standard)
				extra++;
			if (!strncmp(line, "ipcchan-", 8))
				ipcchan_lines++;
		}
		EXPECT_LT(0, extra) TH_LOG("endpoint %d: only standard lines", i);
		if (!ipcchan_lines)
			TH_LOG("endpoint %d: no line starts with 'ipcchan-'", i);
	}
	close_pair(fds);
}

/* ---- limits (module parameters) ------------------------------------------ */

FIXTURE(limits) {
	int ctl;
	struct param_save p[3];
};

FIXTURE_SETUP(limits)
{
	struct ipcchan_query q;

	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	ASSERT_TRUE(q.features & IPCCHAN_FEAT_CHANNELS);
	ASSERT_EQ(0, param_save(&self->p[0], "max_user_channels"));
	ASSERT_EQ(0, param_save(&self->p[1], "max_channels"));
	ASSERT_EQ(0, param_save(&self->p[2], "max_user_bytes"));
}

FIXTURE_TEARDOWN(limits)
{
	unsigned int i;

	/* Runs after an ASSERT failure too: the suite's limits come back. */
	for (i = 0; i < ARRAY_SIZE(self->p); i++) {
		struct param_save *p = &self->p[i];

		EXPECT_EQ(0, param_restore(p)) TH_LOG("restoring %s", p->name);
	}
	close(self->ctl);
}

TEST_F(limits, max_user_channels_emfile)
{
	struct ipcchan_query q0, q;
	int a[2], b[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, param_set("max_user_channels", q0.user_channels + 1));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_channels + 1, q.max_user_channels);

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, a));
	EXPECT_EQ(-EMFILE, chan_create(self->ctl, 0, 0, 0, 0, b));
	EXPECT_EQ(-EMFILE, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0,
				       0, b));
	close_pair(a);
	/* One channel of room: a duplex pair needs two, and leaves none. */
	EXPECT_EQ(-EMFILE, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0,
				       0, b));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_channels, q.user_channels);
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	/* Room again after the close. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, a));
	close_pair(a);

	ASSERT_EQ(0, param_set("max_user_channels", q0.user_channels + 2));
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, b));
	EXPECT_EQ(-EMFILE, chan_create(self->ctl, 0, 0, 0, 0, a));
	close_pair(b);
	EXPECT_EQ(0, param_restore(&self->p[0]));
}

TEST_F(limits, max_channels_enfile)
{
	struct ipcchan_query q0, q;
	int a[2], b[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, param_set("max_channels", q0.nr_channels + 1));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.max_channels);

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, a));
	EXPECT_EQ(-ENFILE, chan_create(self->ctl, 0, 0, 0, 0, b));
	close_pair(a);
	EXPECT_EQ(-ENFILE, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0,
				       0, b));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(q0.user_channels, q.user_channels);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, a));
	close_pair(a);
	EXPECT_EQ(0, param_restore(&self->p[1]));
}

TEST_F(limits, max_user_bytes_enospc)
{
	struct ipcchan_query q0, q;
	struct ipcchan_stats st;
	char buf[200] = { 0 };
	int fds[2];

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, chan_create(self->ctl, 0, 200, 10, 0, fds));
	ASSERT_EQ(0, param_set("max_user_bytes",
			       q0.user_bytes + 100 + 2 * IPCCHAN_MSG_OVERHEAD));

	/* Exactly the limit fits (payloads plus the per-message overhead). */
	ASSERT_EQ(0, chan_send(fds[1], buf, 60, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fds[1], buf, 40, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 100 + 2 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	/* An empty message is charged too. */
	EXPECT_EQ(-ENOSPC, chan_send(fds[1], buf, 0, 0, IPCCHAN_NONBLOCK));
	/* Then nothing more, blocking or not: -ENOSPC, not a wait. */
	EXPECT_EQ(-ENOSPC, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-ENOSPC, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT,
				       5 * NSEC_PER_SEC));
	EXPECT_EQ(-ENOSPC, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH,
				      &(struct ipcchan_msghdr){
					      .buf = ptr64(buf), .len = 1 },
				      1, IPCCHAN_NONBLOCK, 0, NULL));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(2, st.queued_msgs);
	EXPECT_EQ(2, st.sent);
	/* Receiving returns the charge. */
	ASSERT_EQ(60, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(-ENOSPC, chan_send(fds[1], buf, 61, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, chan_send(fds[1], buf, 60, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes + 100 + 2 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	close_pair(fds);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
	EXPECT_EQ(0, param_restore(&self->p[2]));
}

/* ---- descriptor limits: nothing created, nothing installed -------------- */

/* The query's channel counts equal q0's; a message saying which differ. */
static const char *counts_unchanged(int ctl, const struct ipcchan_query *q0)
{
	struct ipcchan_query q;

	if (chan_query(ctl, &q))
		return "query failed";
	if (q.nr_channels != q0->nr_channels)
		return "nr_channels changed";
	if (q.user_channels != q0->user_channels)
		return "user_channels changed";
	return NULL;
}

/*
 * With no descriptor free below RLIMIT_NOFILE, then exactly one (a pair
 * needs two), IPCCHAN_IOC_CREATE fails with -EMFILE, leaves the free
 * descriptor free and creates no channel; with two free it succeeds.
 */
static int create_emfile_child(int ctl)
{
	struct rlimit rl = { 32, 32 };
	struct ipcchan_query q0, q;
	int fds[32], pair[2], n, err, nfree, r, lowest;
	const char *why;

	CHILD_CHECK(chan_query(ctl, &q0) == 0, "query");
	CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s",
		    strerror(errno));
	n = fill_files(fds, 32, &err);
	CHILD_CHECK(err == EMFILE, "filling the descriptor table: %d, then %s",
		    n, strerror(err));
	for (nfree = 0; nfree < 2; nfree++) {
		if (nfree)
			close(fds[--n]);
		lowest = lowest_free_fd();
		CHILD_CHECK(nfree ? lowest == fds[n] : lowest == -EMFILE,
			    "%d free: lowest free fd %d", nfree, lowest);
		r = chan_create(ctl, 0, 0, 0, 0, pair);
		CHILD_CHECK(r == -EMFILE, "%d free: create: %d", nfree, r);
		r = chan_create(ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, pair);
		CHILD_CHECK(r == -EMFILE, "%d free: duplex: %d", nfree, r);
		CHILD_CHECK(lowest_free_fd() == lowest,
			    "%d free: a descriptor was taken", nfree);
		why = counts_unchanged(ctl, &q0);
		CHILD_CHECK(!why, "%d free: %s", nfree, why);
	}
	close(fds[--n]);
	r = chan_create(ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, pair);
	CHILD_CHECK(r == 0, "two free: %d", r);
	CHILD_CHECK(chan_query(ctl, &q) == 0 &&
		    q.nr_channels == q0.nr_channels + 2, "two channels more");
	return 0;
}

TEST_F(limits, create_at_descriptor_limit_emfile)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		_exit(create_emfile_child(self->ctl));
	}
	EXPECT_EQ(0, wait_child(pid));
}

/*
 * The system's file table full (fs.file-max, for a task without
 * CAP_SYS_ADMIN): IPCCHAN_IOC_CREATE fails with -ENFILE and creates and
 * installs nothing, whichever of its two files could not be made; once
 * files are freed it works. The child fills the table, then frees one
 * file at a time and retries.
 */
static int create_enfile_child(int ctl)
{
	struct ipcchan_query q0, q;
	int *fds, pair[2], n, r, lowest, retries = 0;
	const char *why;

	fds = fill_file_table(ctl, &q0, &n, &lowest);
	r = chan_create(ctl, 0, 0, 0, 0, pair);
	CHILD_CHECK(r == -ENFILE, "create: %d", r);
	r = chan_create(ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, pair);
	CHILD_CHECK(r == -ENFILE, "duplex: %d", r);
	for (;;) {
		CHILD_CHECK(lowest_free_fd() == lowest,
			    "a descriptor was taken (%d retries)", retries);
		why = counts_unchanged(ctl, &q0);
		CHILD_CHECK(!why, "%s (%d retries)", why, retries);
		CHILD_CHECK(n > 0, "still -ENFILE with every file freed");
		close(fds[--n]);
		lowest = lowest_free_fd();
		r = chan_create(ctl, 0, 0, 0, 0, pair);
		if (r == 0)
			break;
		CHILD_CHECK(r == -ENFILE, "create after a free: %d", r);
		retries++;
	}
	CHILD_CHECK(chan_query(ctl, &q) == 0 &&
		    q.nr_channels == q0.nr_channels + 1, "one channel more");
	return 0;
}

TEST_F(limits, create_with_file_table_full_enfile)
{
	unsigned long long in_use, max;
	pid_t pid;
	int status;

	ASSERT_EQ(0, sysctl_read_ull(FILE_NR_PATH, &in_use));
	ASSERT_EQ(0, sysctl_read_ull(FILE_MAX_PATH, &max));
	/* Headroom the child fills well below its descriptor limit. */
	ASSERT_EQ(0, sysctl_write_ull(FILE_MAX_PATH, in_use + 256));
	pid = fork();
	if (pid == 0) {
		alarm(30);
		_exit(create_enfile_child(self->ctl));
	}
	status = pid > 0 ? wait_child(pid) : -1;
	ASSERT_EQ(0, sysctl_write_ull(FILE_MAX_PATH, max));
	ASSERT_GE(pid, 0);
	EXPECT_EQ(0, status);
}

TEST_HARNESS_MAIN
