// SPDX-License-Identifier: GPL-2.0
/*
 * ipcchan side by side with the kernel's pipes and POSIX message queues,
 * for the behaviours they share: FIFO order, priority order, -EAGAIN when
 * nonblocking, timeouts and past deadlines, hangup, poll readiness,
 * message size limits, wakeups and signals. Each test drives every
 * mechanism through the same steps, asserts the same observable result
 * from each, and prints the comparison. The same_workload tests then send
 * one workload (one producer, then four) through every mechanism
 * ipcchan-bench measures (pipe, FIFO, POSIX mq, SysV msg, SOCK_SEQPACKET,
 * shared memory with futexes, ipcchan per message and batched) and require
 * the same delivered messages from each, byte for byte; their relative
 * speed is printed as "# " diagnostics and never checked. Where ipcchan deliberately
 * differs (mq has no hangup; a pipe keeps no message boundaries; mq checks
 * the receive buffer against the queue's message size, not the message's
 * length; a timed mq call is restarted under SA_RESTART, a timed ipcchan
 * call is not), the difference itself is asserted and explained.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

#define WAIT_MS		10000

FIXTURE(cmp) {
	int ctl;
	char mqname[128];
	volatile int *signals;
};

static volatile int *sig_counter;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_fetch_add(sig_counter, 1, __ATOMIC_SEQ_CST);
}

static void set_handler(int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

FIXTURE_SETUP(cmp)
{
	struct ipcchan_query q;

	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	ASSERT_TRUE(q.features & IPCCHAN_FEAT_CHANNELS);
	snprintf(self->mqname, sizeof(self->mqname), "/selftest-%s-%d",
		 _metadata->name, getpid());
	signal(SIGPIPE, SIG_IGN);
	self->signals = shared_alloc(4096);
	ASSERT_NE(NULL, self->signals);
	sig_counter = self->signals;
}

FIXTURE_TEARDOWN(cmp)
{
	mq_unlink(self->mqname);
	close(self->ctl);
}

/* A fresh queue: O_RDWR plus extra flags, maxmsg messages of msgsize. */
static mqd_t mq_make(const char *name, int extra, long maxmsg, long msgsize)
{
	struct mq_attr a = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };

	return mq_open(name, O_RDWR | O_CREAT | O_EXCL | extra, 0600, &a);
}

static struct timespec ts_at(__u64 ns)
{
	struct timespec ts = { (time_t)(ns / NSEC_PER_SEC),
			       (long)(ns % NSEC_PER_SEC) };

	return ts;
}

static int errno_of(int r)
{
	return r < 0 ? errno : 0;
}

/* The poll bits in (POLLIN | POLLOUT | POLLHUP | POLLERR), at once. */
static short ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents & (POLLIN | POLLOUT | POLLHUP | POLLERR);
}

static const char *bits(short b, char *buf)
{
	snprintf(buf, 32, "%s%s%s%s", b & POLLIN ? "IN " : "",
		 b & POLLOUT ? "OUT " : "", b & POLLHUP ? "HUP " : "",
		 b & POLLERR ? "ERR " : "");
	if (!buf[0])
		strcpy(buf, "-");
	return buf;
}

/* Wait until pid sleeps in syscall nr (from /proc/pid/syscall). */
static int wait_in_syscall(pid_t pid, long nr, unsigned int timeout_ms)
{
	__u64 end = now_ns(CLOCK_MONOTONIC) + timeout_ms * NSEC_PER_MSEC;
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	while (now_ns(CLOCK_MONOTONIC) < end) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -errno;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (strtol(buf, NULL, 10) == nr && buf[0] != 'r')
				return 0;
		}
		sleep_ms(5);
	}
	return -ETIMEDOUT;
}

/* ---- order ----------------------------------------------------------------- */

TEST_F(cmp, fifo_order_and_boundaries)
{
	static const char * const msgs[] = { "a", "bc", "def", "ghij" };
	char pipe_got[64] = { 0 }, mq_got[64] = { 0 }, ch_got[64] = { 0 };
	char buf[128];
	unsigned int i;
	int p[2], fds[2];
	ssize_t n;
	mqd_t mq;

	ASSERT_EQ(0, pipe(p));
	mq = mq_make(self->mqname, 0, 8, 64);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 64, 8, 0, fds));
	for (i = 0; i < ARRAY_SIZE(msgs); i++) {
		ASSERT_EQ((ssize_t)strlen(msgs[i]), write(p[1], msgs[i],
							  strlen(msgs[i])));
		ASSERT_EQ(0, mq_send(mq, msgs[i], strlen(msgs[i]), 0));
		ASSERT_EQ(0, chan_send_str(fds[1], msgs[i], 0, IPCCHAN_NONBLOCK));
	}
	/* A pipe is a byte stream: one read returns everything. */
	n = read(p[0], pipe_got, sizeof(pipe_got) - 1);
	EXPECT_EQ(10, n);
	/* mq and ipcchan keep each message whole, in order. */
	for (i = 0; i < ARRAY_SIZE(msgs); i++) {
		n = mq_receive(mq, buf, sizeof(buf), NULL);
		EXPECT_EQ((ssize_t)strlen(msgs[i]), n);
		if (n > 0) {
			buf[n] = '\0';
			strcat(mq_got, buf);
			strcat(mq_got, "|");
		}
		n = chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL);
		EXPECT_EQ((ssize_t)strlen(msgs[i]), n);
		if (n > 0) {
			buf[n] = '\0';
			strcat(ch_got, buf);
			strcat(ch_got, "|");
		}
	}
	TH_LOG("FIFO: pipe '%s', mq '%s', ipcchan '%s'", pipe_got, mq_got,
	       ch_got);
	EXPECT_STREQ("abcdefghij", pipe_got);
	EXPECT_STREQ("a|bc|def|ghij|", mq_got);
	EXPECT_STREQ(mq_got, ch_got);
	close(p[0]);
	close(p[1]);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(cmp, priority_order)
{
	static const struct { unsigned int prio; char tag; } in[] = {
		{ 3, 'a' }, { 9, 'b' }, { 3, 'c' }, { 0, 'd' }, { 9, 'e' },
		{ 32767, 'f' }, { 1, 'g' },
	};
	char mq_order[16] = { 0 }, ch_order[16] = { 0 }, c[8];
	unsigned int i, mp;
	struct ipcchan_recv r;
	int fds[2];
	mqd_t mq;

	mq = mq_make(self->mqname, 0, 8, 8);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 8, 8, 0, fds));
	for (i = 0; i < ARRAY_SIZE(in); i++) {
		ASSERT_EQ(0, mq_send(mq, &in[i].tag, 1, in[i].prio));
		ASSERT_EQ(0, chan_send(fds[1], &in[i].tag, 1, in[i].prio,
				       IPCCHAN_NONBLOCK));
	}
	for (i = 0; i < ARRAY_SIZE(in); i++) {
		ASSERT_EQ(1, mq_receive(mq, c, sizeof(c), &mp));
		mq_order[i] = c[0];
		ASSERT_EQ(1, chan_recv(fds[0], c, sizeof(c), IPCCHAN_NONBLOCK, &r));
		ch_order[i] = c[0];
		EXPECT_EQ(mp, r.prio);
	}
	TH_LOG("priority order: mq '%s', ipcchan '%s'", mq_order, ch_order);
	EXPECT_STREQ("fbeacgd", mq_order);
	EXPECT_STREQ(mq_order, ch_order);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(cmp, priority_range)
{
	long mq_prio_max = sysconf(_SC_MQ_PRIO_MAX);
	int fds[2], mq_err, ch_err;
	mqd_t mq;

	/* Both allow 0..32767. */
	TH_LOG("priority limit: mq %ld, ipcchan %d", mq_prio_max,
	       IPCCHAN_PRIO_MAX);
	EXPECT_EQ(IPCCHAN_PRIO_MAX, mq_prio_max);
	mq = mq_make(self->mqname, O_NONBLOCK, 8, 8);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 8, 8, 0, fds));
	EXPECT_EQ(0, mq_send(mq, "x", 1, 32767));
	EXPECT_EQ(0, chan_send(fds[1], "x", 1, 32767, IPCCHAN_NONBLOCK));
	mq_err = errno_of(mq_send(mq, "x", 1, 32768));
	ch_err = -chan_send(fds[1], "x", 1, 32768, IPCCHAN_NONBLOCK);
	TH_LOG("priority 32768: mq %s, ipcchan %s", strerror(mq_err),
	       strerror(ch_err));
	EXPECT_EQ(EINVAL, mq_err);
	EXPECT_EQ(EINVAL, ch_err);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- nonblocking ----------------------------------------------------------- */

TEST_F(cmp, nonblock_empty_and_full)
{
	int p[2], fds[2], pipe_err, mq_err, ch_err, n;
	char buf[4096] = { 0 };
	mqd_t mq;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	mq = mq_make(self->mqname, O_NONBLOCK, 4, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));

	/* Empty. */
	pipe_err = errno_of(read(p[0], buf, 16));
	mq_err = errno_of(mq_receive(mq, buf, 16, NULL));
	ch_err = -chan_recv(fds[0], buf, 16, IPCCHAN_NONBLOCK, NULL);
	TH_LOG("empty, nonblocking receive: pipe %s, mq %s, ipcchan %s",
	       strerror(pipe_err), strerror(mq_err), strerror(ch_err));
	EXPECT_EQ(EAGAIN, pipe_err);
	EXPECT_EQ(EAGAIN, mq_err);
	EXPECT_EQ(EAGAIN, ch_err);

	/* Full. */
	for (n = 0; n < 1 << 20 && write(p[1], buf, sizeof(buf)) > 0; n++)
		;
	while (write(p[1], buf, 1) > 0)
		;
	pipe_err = errno_of(write(p[1], buf, 1));
	for (n = 0; n < 4; n++) {
		ASSERT_EQ(0, mq_send(mq, buf, 1, 0));
		ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	}
	mq_err = errno_of(mq_send(mq, buf, 1, 0));
	ch_err = -chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK);
	TH_LOG("full, nonblocking send: pipe %s, mq %s, ipcchan %s",
	       strerror(pipe_err), strerror(mq_err), strerror(ch_err));
	EXPECT_EQ(EAGAIN, pipe_err);
	EXPECT_EQ(EAGAIN, mq_err);
	EXPECT_EQ(EAGAIN, ch_err);
	close(p[0]);
	close(p[1]);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- timeouts -------------------------------------------------------------- */

TEST_F(cmp, timeouts)
{
	__u64 t0, mq_ms, ch_ms, ch_rel_ms, deadline;
	int fds[2], mq_err, ch_err, ch_rel_err;
	struct timespec ts;
	char buf[16];
	mqd_t mq;

	mq = mq_make(self->mqname, 0, 1, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 1, 0, fds));

	/* Receive from empty: an absolute CLOCK_REALTIME deadline 200 ms on. */
	deadline = now_ns(CLOCK_REALTIME) + 200 * NSEC_PER_MSEC;
	ts = ts_at(deadline);
	t0 = now_ns(CLOCK_MONOTONIC);
	mq_err = errno_of(mq_timedreceive(mq, buf, sizeof(buf), NULL, &ts));
	mq_ms = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
	deadline = now_ns(CLOCK_REALTIME) + 200 * NSEC_PER_MSEC;
	t0 = now_ns(CLOCK_MONOTONIC);
	ch_err = -chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT |
			      IPCCHAN_ABSTIME | IPCCHAN_REALTIME, deadline, NULL);
	ch_ms = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
	/* ipcchan also takes a relative timeout, which mq does not. */
	t0 = now_ns(CLOCK_MONOTONIC);
	ch_rel_err = -chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT,
				  200 * NSEC_PER_MSEC, NULL);
	ch_rel_ms = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
	TH_LOG("timed receive, 200 ms: mq %s after %llu ms, ipcchan %s after %llu ms (relative: %s after %llu ms)",
	       strerror(mq_err), (unsigned long long)mq_ms, strerror(ch_err),
	       (unsigned long long)ch_ms, strerror(ch_rel_err),
	       (unsigned long long)ch_rel_ms);
	EXPECT_EQ(ETIMEDOUT, mq_err);
	EXPECT_EQ(ETIMEDOUT, ch_err);
	EXPECT_EQ(ETIMEDOUT, ch_rel_err);
	EXPECT_LE(200, mq_ms);
	EXPECT_LE(200, ch_ms);
	EXPECT_LE(200, ch_rel_ms);

	/* Send to full. */
	ASSERT_EQ(0, mq_send(mq, "f", 1, 0));
	ASSERT_EQ(0, chan_send(fds[1], "f", 1, 0, IPCCHAN_NONBLOCK));
	deadline = now_ns(CLOCK_REALTIME) + 200 * NSEC_PER_MSEC;
	ts = ts_at(deadline);
	t0 = now_ns(CLOCK_MONOTONIC);
	mq_err = errno_of(mq_timedsend(mq, "g", 1, 0, &ts));
	mq_ms = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
	deadline = now_ns(CLOCK_REALTIME) + 200 * NSEC_PER_MSEC;
	t0 = now_ns(CLOCK_MONOTONIC);
	ch_err = -chan_send_t(fds[1], "g", 1, 0, IPCCHAN_TIMEOUT |
			      IPCCHAN_ABSTIME | IPCCHAN_REALTIME, deadline);
	ch_ms = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC;
	TH_LOG("timed send, 200 ms: mq %s after %llu ms, ipcchan %s after %llu ms",
	       strerror(mq_err), (unsigned long long)mq_ms, strerror(ch_err),
	       (unsigned long long)ch_ms);
	EXPECT_EQ(ETIMEDOUT, mq_err);
	EXPECT_EQ(ETIMEDOUT, ch_err);
	EXPECT_LE(200, mq_ms);
	EXPECT_LE(200, ch_ms);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(cmp, past_deadlines)
{
	struct timespec past = { 1, 0 };
	int fds[2], mq_err, ch_err;
	char buf[16];
	mqd_t mq;

	mq = mq_make(self->mqname, 0, 1, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 1, 0, fds));
	/* Would wait: a timeout at once. */
	mq_err = errno_of(mq_timedreceive(mq, buf, sizeof(buf), NULL, &past));
	ch_err = -chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT |
			      IPCCHAN_ABSTIME | IPCCHAN_REALTIME,
			      NSEC_PER_SEC, NULL);
	TH_LOG("past deadline, empty: mq %s, ipcchan %s", strerror(mq_err),
	       strerror(ch_err));
	EXPECT_EQ(ETIMEDOUT, mq_err);
	EXPECT_EQ(ETIMEDOUT, ch_err);
	/* Can complete: completes, deadline or not. */
	mq_err = errno_of(mq_timedsend(mq, "p", 1, 0, &past));
	ch_err = -chan_send_t(fds[1], "p", 1, 0, IPCCHAN_TIMEOUT |
			      IPCCHAN_ABSTIME | IPCCHAN_REALTIME, NSEC_PER_SEC);
	TH_LOG("past deadline, room: mq %s, ipcchan %s", strerror(mq_err),
	       strerror(ch_err));
	EXPECT_EQ(0, mq_err);
	EXPECT_EQ(0, ch_err);
	mq_err = errno_of(mq_timedsend(mq, "q", 1, 0, &past));
	ch_err = -chan_send_t(fds[1], "q", 1, 0, IPCCHAN_TIMEOUT |
			      IPCCHAN_ABSTIME | IPCCHAN_REALTIME, NSEC_PER_SEC);
	EXPECT_EQ(ETIMEDOUT, mq_err);
	EXPECT_EQ(ETIMEDOUT, ch_err);
	EXPECT_EQ(1, mq_timedreceive(mq, buf, sizeof(buf), NULL, &past));
	EXPECT_EQ(1, chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT |
				 IPCCHAN_ABSTIME | IPCCHAN_REALTIME,
				 NSEC_PER_SEC, NULL));
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- hangup ---------------------------------------------------------------- */

TEST_F(cmp, hangup_receiver_side)
{
	char buf[16], b1[32], b2[32], b3[32];
	struct ipcchan_recv r;
	struct timespec ts;
	int p[2], fds[2], mq_err;
	ssize_t pipe_n, ch_n;
	mqd_t mqw, mqr;

	ASSERT_EQ(0, pipe(p));
	mqr = mq_make(self->mqname, O_NONBLOCK, 4, 16);
	ASSERT_NE((mqd_t)-1, mqr);
	mqw = mq_open(self->mqname, O_WRONLY);
	ASSERT_NE((mqd_t)-1, mqw);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));

	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(0, mq_send(mqw, "x", 1, 0));
	ASSERT_EQ(0, chan_send_str(fds[1], "x", 0, IPCCHAN_NONBLOCK));
	/* Every sender goes away. */
	close(p[1]);
	mq_close(mqw);
	close(fds[1]);

	/* What was sent is still received by all three. */
	EXPECT_EQ(1, read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(1, mq_receive(mqr, buf, sizeof(buf), NULL));
	EXPECT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	TH_LOG("after the last sender: pipe %s, mq %s, ipcchan %s",
	       bits(ready(p[0]), b1), bits(ready(mqr), b2),
	       bits(ready(fds[0]), b3));
	alarm(20);
	pipe_n = read(p[0], buf, sizeof(buf));
	ch_n = chan_recv(fds[0], buf, sizeof(buf), 0, &r);
	alarm(0);
	mq_err = errno_of(mq_receive(mqr, buf, sizeof(buf), NULL));
	TH_LOG("then receive: pipe %zd (EOF), ipcchan %zd with seq %llu (end of channel), mq %s (no hangup)",
	       pipe_n, ch_n, (unsigned long long)r.seq, strerror(mq_err));
	/* A pipe reads EOF; ipcchan reports end of channel. */
	EXPECT_EQ(0, pipe_n);
	EXPECT_EQ(0, ch_n);
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(POLLHUP, ready(p[0]) & POLLHUP);
	EXPECT_EQ(POLLHUP, ready(fds[0]) & POLLHUP);
	/*
	 * A message queue has no hangup, deliberately unlike ipcchan: it
	 * lives in a filesystem, anyone may open it for writing later, and
	 * no end is ever signalled. A nonblocking receive keeps failing with
	 * EAGAIN, a timed one times out, and poll never reports POLLHUP.
	 */
	EXPECT_EQ(EAGAIN, mq_err);
	EXPECT_EQ(0, ready(mqr) & (POLLIN | POLLHUP));
	{
		struct mq_attr a = { .mq_flags = 0 };

		ASSERT_EQ(0, mq_setattr(mqr, &a, NULL));
	}
	ts = ts_at(now_ns(CLOCK_REALTIME) + 100 * NSEC_PER_MSEC);
	EXPECT_EQ(-1, mq_timedreceive(mqr, buf, sizeof(buf), NULL, &ts));
	EXPECT_EQ(ETIMEDOUT, errno);
	close(p[0]);
	mq_close(mqr);
	close(fds[0]);
}

TEST_F(cmp, hangup_sender_side)
{
	int p[2], fds[2], pipe_err, mq_err, ch_err;
	char b1[32], b2[32], b3[32];
	mqd_t mqw, mqr;

	ASSERT_EQ(0, pipe(p));
	mqw = mq_make(self->mqname, O_NONBLOCK, 4, 16);
	ASSERT_NE((mqd_t)-1, mqw);
	mqr = mq_open(self->mqname, O_RDONLY);
	ASSERT_NE((mqd_t)-1, mqr);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));
	/* Every receiver goes away. */
	close(p[0]);
	mq_close(mqr);
	close(fds[0]);
	pipe_err = errno_of(write(p[1], "x", 1));
	ch_err = -chan_send_str(fds[1], "x", 0, IPCCHAN_NONBLOCK);
	mq_err = errno_of(mq_send(mqw, "x", 1, 0));
	TH_LOG("send with no receiver: pipe %s, ipcchan %s, mq %s",
	       strerror(pipe_err), strerror(ch_err),
	       mq_err ? strerror(mq_err) : "queued");
	TH_LOG("poll of the sender: pipe %s, ipcchan %s, mq %s",
	       bits(ready(p[1]), b1), bits(ready(fds[1]), b2),
	       bits(ready(mqw), b3));
	/* Pipe and ipcchan refuse at once (SIGPIPE ignored here). */
	EXPECT_EQ(EPIPE, pipe_err);
	EXPECT_EQ(EPIPE, ch_err);
	EXPECT_EQ(POLLERR, ready(p[1]) & POLLERR);
	EXPECT_EQ(POLLERR, ready(fds[1]) & POLLERR);
	/* mq queues for a receiver that may open the name later. */
	EXPECT_EQ(0, mq_err);
	EXPECT_EQ(POLLIN | POLLOUT, ready(mqw));
	close(p[1]);
	mq_close(mqw);
	close(fds[1]);
}

/* ---- readiness ------------------------------------------------------------- */

TEST_F(cmp, poll_readiness)
{
	char buf[4096] = { 0 }, b1[32], b2[32], b3[32], b4[32], b5[32];
	int p[2], fds[2], n;
	mqd_t mq;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	mq = mq_make(self->mqname, O_NONBLOCK, 2, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 2, 0, fds));

	/* mq's one descriptor is both ends; pipe and ipcchan have two. */
	TH_LOG("empty: pipe r %s w %s, mq %s, ipcchan r %s w %s",
	       bits(ready(p[0]), b1), bits(ready(p[1]), b2),
	       bits(ready(mq), b3), bits(ready(fds[0]), b4),
	       bits(ready(fds[1]), b5));
	EXPECT_EQ(0, ready(p[0]) & POLLIN);
	EXPECT_EQ(0, ready(mq) & POLLIN);
	EXPECT_EQ(0, ready(fds[0]) & POLLIN);
	EXPECT_EQ(POLLOUT, ready(p[1]) & POLLOUT);
	EXPECT_EQ(POLLOUT, ready(mq) & POLLOUT);
	EXPECT_EQ(POLLOUT, ready(fds[1]) & POLLOUT);

	ASSERT_EQ(1, write(p[1], "m", 1));
	ASSERT_EQ(0, mq_send(mq, "m", 1, 0));
	ASSERT_EQ(0, chan_send_str(fds[1], "m", 0, IPCCHAN_NONBLOCK));
	TH_LOG("one message: pipe r %s w %s, mq %s, ipcchan r %s w %s",
	       bits(ready(p[0]), b1), bits(ready(p[1]), b2),
	       bits(ready(mq), b3), bits(ready(fds[0]), b4),
	       bits(ready(fds[1]), b5));
	EXPECT_EQ(POLLIN, ready(p[0]) & POLLIN);
	EXPECT_EQ(POLLIN, ready(mq) & POLLIN);
	EXPECT_EQ(POLLIN, ready(fds[0]) & POLLIN);
	EXPECT_EQ(POLLOUT, ready(p[1]) & POLLOUT);
	EXPECT_EQ(POLLOUT, ready(mq) & POLLOUT);
	EXPECT_EQ(POLLOUT, ready(fds[1]) & POLLOUT);

	/* Full. */
	for (n = 0; n < 1 << 20 && write(p[1], buf, sizeof(buf)) > 0; n++)
		;
	while (write(p[1], buf, 1) > 0)
		;
	ASSERT_EQ(0, mq_send(mq, "m", 1, 0));
	ASSERT_EQ(0, chan_send_str(fds[1], "m", 0, IPCCHAN_NONBLOCK));
	TH_LOG("full: pipe r %s w %s, mq %s, ipcchan r %s w %s",
	       bits(ready(p[0]), b1), bits(ready(p[1]), b2),
	       bits(ready(mq), b3), bits(ready(fds[0]), b4),
	       bits(ready(fds[1]), b5));
	EXPECT_EQ(0, ready(p[1]) & POLLOUT);
	EXPECT_EQ(0, ready(mq) & POLLOUT);
	EXPECT_EQ(0, ready(fds[1]) & POLLOUT);
	EXPECT_EQ(POLLIN, ready(p[0]) & POLLIN);
	EXPECT_EQ(POLLIN, ready(mq) & POLLIN);
	EXPECT_EQ(POLLIN, ready(fds[0]) & POLLIN);
	close(p[0]);
	close(p[1]);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- sizes ----------------------------------------------------------------- */

TEST_F(cmp, message_sizes)
{
	int fds[2], mq_err, ch_err;
	char buf[64] = { 0 };
	struct ipcchan_recv r;
	long ch_len;
	mqd_t mq;

	mq = mq_make(self->mqname, O_NONBLOCK, 4, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));
	/* Too large to send: both EMSGSIZE. */
	mq_err = errno_of(mq_send(mq, buf, 17, 0));
	ch_err = -chan_send(fds[1], buf, 17, 0, IPCCHAN_NONBLOCK);
	TH_LOG("17 bytes into 16: mq %s, ipcchan %s", strerror(mq_err),
	       strerror(ch_err));
	EXPECT_EQ(EMSGSIZE, mq_err);
	EXPECT_EQ(EMSGSIZE, ch_err);
	EXPECT_EQ(0, mq_send(mq, buf, 16, 0));
	EXPECT_EQ(0, chan_send(fds[1], buf, 16, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(16, mq_receive(mq, buf, sizeof(buf), NULL));
	EXPECT_EQ(16, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));

	/*
	 * The receive buffer: mq requires room for the queue's largest
	 * message (mq_msgsize) whatever the message; ipcchan only for the
	 * message at hand, and when that does not fit it says how much would.
	 */
	ASSERT_EQ(0, mq_send(mq, "a", 1, 0));
	ASSERT_EQ(0, chan_send(fds[1], "a", 1, 0, IPCCHAN_NONBLOCK));
	mq_err = errno_of(mq_receive(mq, buf, 15, NULL));
	ch_len = chan_recv(fds[0], buf, 1, IPCCHAN_NONBLOCK, NULL);
	TH_LOG("1-byte message, small buffer: mq (15 bytes) %s, ipcchan (1 byte) %ld",
	       strerror(mq_err), ch_len);
	EXPECT_EQ(EMSGSIZE, mq_err);
	EXPECT_EQ(1, ch_len);
	ASSERT_EQ(0, chan_send(fds[1], "abc", 3, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, chan_recv(fds[0], buf, 2, IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(3, r.len);
	/* In both, the message that did not fit is still queued. */
	EXPECT_EQ(1, mq_receive(mq, buf, sizeof(buf), NULL));
	EXPECT_EQ(3, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- wakeups and signals ----------------------------------------------------- */

TEST_F_TIMEOUT(cmp, blocked_receivers_wake, 60)
{
	int p[2], fds[2], i;
	pid_t pids[3];
	mqd_t mq;

	ASSERT_EQ(0, pipe(p));
	mq = mq_make(self->mqname, 0, 4, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));
	for (i = 0; i < 3; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			char buf[16] = { 0 };
			long n;

			alarm(30);
			if (i == 0)
				n = read(p[0], buf, sizeof(buf));
			else if (i == 1)
				n = mq_receive(mq, buf, sizeof(buf), NULL);
			else
				n = chan_recv(fds[0], buf, sizeof(buf), 0, NULL);
			CHILD_CHECK(n == 4 && !memcmp(buf, "wake", 4),
				    "receiver %d: %ld", i, n);
			_exit(0);
		}
	}
	EXPECT_EQ(0, wait_in_syscall(pids[0], SYS_read, WAIT_MS));
	EXPECT_EQ(0, wait_in_syscall(pids[1], SYS_mq_timedreceive, WAIT_MS));
	EXPECT_EQ(0, wait_waiters(fds[0], 0, WAITING_RECEIVERS, 1, WAIT_MS));
	ASSERT_EQ(4, write(p[1], "wake", 4));
	ASSERT_EQ(0, mq_send(mq, "wake", 4, 0));
	ASSERT_EQ(0, chan_send_str(fds[1], "wake", 0, 0));
	EXPECT_EQ(0, wait_child(pids[0])) TH_LOG("pipe");
	EXPECT_EQ(0, wait_child(pids[1])) TH_LOG("mq");
	EXPECT_EQ(0, wait_child(pids[2])) TH_LOG("ipcchan");
	close(p[0]);
	close(p[1]);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* Signal the parent once it sleeps; with late_fd >= 0 (0 pipe, 1 mq, 2
 * ipcchan), wait for its handler and its sleep again, then feed it.
 */
struct feed {
	int kind;	/* 0 pipe, 1 mq, 2 ipcchan */
	int fd;		/* pipe write end, mqd, send endpoint */
	int watch;	/* ipcchan: the receive endpoint to watch */
	int feed;	/* send "late" after the restart */
};

static int sleeping(pid_t pid, const struct feed *f)
{
	if (f->kind == 0)
		return wait_in_syscall(pid, SYS_read, WAIT_MS);
	if (f->kind == 1)
		return wait_in_syscall(pid, SYS_mq_timedreceive, WAIT_MS);
	return wait_waiters(f->watch, 0, WAITING_RECEIVERS, 1, WAIT_MS);
}

static pid_t signaller(const struct feed *f)
{
	pid_t parent = getpid(), pid = fork();
	__u64 end;

	if (pid)
		return pid;
	alarm(60);
	CHILD_CHECK(sleeping(parent, f) == 0, "kind %d: not asleep", f->kind);
	kill(parent, SIGUSR1);
	if (!f->feed)
		_exit(0);
	end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;
	while (!__atomic_load_n(sig_counter, __ATOMIC_SEQ_CST)) {
		CHILD_CHECK(now_ns(CLOCK_MONOTONIC) < end, "no handler");
		sleep_ms(5);
	}
	CHILD_CHECK(sleeping(parent, f) == 0, "kind %d: not restarted",
		    f->kind);
	if (f->kind == 0)
		CHILD_CHECK(write(f->fd, "late", 4) == 4, "write");
	else if (f->kind == 1)
		CHILD_CHECK(mq_send(f->fd, "late", 4, 0) == 0, "mq_send");
	else
		CHILD_CHECK(chan_send_str(f->fd, "late", 0, 0) == 0, "send");
	_exit(0);
}

TEST_F_TIMEOUT(cmp, signals, 120)
{
	static const char * const kind[] = { "pipe read", "mq_timedreceive",
					     "ipcchan recv" };
	int p[2], fds[2], err[3], k;
	char buf[16];
	long n[3];
	struct timespec ts;
	mqd_t mq;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	mq = mq_make(self->mqname, 0, 4, 16);
	ASSERT_NE((mqd_t)-1, mq);
	ASSERT_EQ(0, chan_create(self->ctl, 0, 16, 4, 0, fds));

	/* 1. No SA_RESTART: every sleeping call fails with EINTR. */
	set_handler(0);
	for (k = 0; k < 3; k++) {
		struct feed f = { k, -1, fds[0], 0 };

		*self->signals = 0;
		pid = signaller(&f);
		ASSERT_GE(pid, 0);
		alarm(40);
		if (k == 0) {
			n[k] = read(p[0], buf, sizeof(buf));
			err[k] = n[k] < 0 ? errno : 0;
		} else if (k == 1) {
			ts = ts_at(now_ns(CLOCK_REALTIME) + 30 * NSEC_PER_SEC);
			n[k] = mq_timedreceive(mq, buf, sizeof(buf), NULL, &ts);
			err[k] = n[k] < 0 ? errno : 0;
		} else {
			n[k] = chan_recv_t(fds[0], buf, sizeof(buf),
					   IPCCHAN_TIMEOUT, 30 * NSEC_PER_SEC,
					   NULL);
			err[k] = n[k] < 0 ? (int)-n[k] : 0;
		}
		alarm(0);
		EXPECT_EQ(0, wait_child(pid)) TH_LOG("%s", kind[k]);
		EXPECT_EQ(1, *self->signals);
	}
	TH_LOG("signal, no SA_RESTART: pipe %s, mq %s, ipcchan (timeout) %s",
	       strerror(err[0]), strerror(err[1]), strerror(err[2]));
	EXPECT_EQ(EINTR, err[0]);
	EXPECT_EQ(EINTR, err[1]);
	EXPECT_EQ(EINTR, err[2]);

	/* 2. SA_RESTART, no timeout: pipe and ipcchan restart and complete. */
	set_handler(1);
	for (k = 0; k < 3; k += 2) {
		struct feed f = { k, k ? fds[1] : p[1], fds[0], 1 };

		*self->signals = 0;
		pid = signaller(&f);
		ASSERT_GE(pid, 0);
		alarm(40);
		if (k == 0)
			n[k] = read(p[0], buf, sizeof(buf));
		else
			n[k] = chan_recv(fds[0], buf, sizeof(buf), 0, NULL);
		alarm(0);
		EXPECT_EQ(0, wait_child(pid)) TH_LOG("%s", kind[k]);
		EXPECT_EQ(1, *self->signals);
	}
	TH_LOG("signal, SA_RESTART, no timeout: pipe %ld, ipcchan %ld (bytes after restart)",
	       n[0], n[2]);
	EXPECT_EQ(4, n[0]);
	EXPECT_EQ(4, n[2]);

	/*
	 * 3. SA_RESTART with a deadline: the documented difference. A timed
	 * mq receive is restarted (its deadline is absolute) and completes;
	 * a timed ipcchan receive fails with EINTR, as the header states
	 * ("with a timeout it fails with -EINTR").
	 */
	{
		struct feed f = { 1, mq, -1, 1 };

		*self->signals = 0;
		pid = signaller(&f);
		ASSERT_GE(pid, 0);
		ts = ts_at(now_ns(CLOCK_REALTIME) + 30 * NSEC_PER_SEC);
		alarm(40);
		n[1] = mq_timedreceive(mq, buf, sizeof(buf), NULL, &ts);
		alarm(0);
		EXPECT_EQ(0, wait_child(pid));
	}
	{
		struct feed f = { 2, -1, fds[0], 0 };

		*self->signals = 0;
		pid = signaller(&f);
		ASSERT_GE(pid, 0);
		n[2] = chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT,
				   30 * NSEC_PER_SEC, NULL);
		EXPECT_EQ(0, wait_child(pid));
	}
	TH_LOG("signal, SA_RESTART, with a deadline: mq %ld (restarted), ipcchan %s",
	       n[1], n[2] < 0 ? strerror((int)-n[2]) : "completed");
	EXPECT_EQ(4, n[1]);
	EXPECT_EQ(-EINTR, n[2]);
	close(p[0]);
	close(p[1]);
	mq_close(mq);
	close(fds[0]);
	close(fds[1]);
}

/* ---- one workload through every mechanism ------------------------------------ */

/*
 * Functional parity: the same messages through pipe, FIFO, POSIX mq, SysV
 * msg, a Unix SOCK_SEQPACKET socketpair, a POSIX shared-memory ring with
 * futex wait/wake, and ipcchan one message per ioctl and in batches (the
 * mechanisms ipcchan-bench measures). Producer processes each send NMSG
 * messages whose length (8 bytes to the largest) and bytes follow from
 * (producer, sequence), then an end marker; one consumer compares every
 * message byte for byte, length included, with the one its producer must
 * have sent next, counts them, sums them up in a digest, and checks that
 * nothing follows the last end marker. Every mechanism must deliver
 * exactly the reference result computed here. A pipe and a FIFO are byte
 * streams: they carry a 4-byte length before each message, written with it
 * in one write() (atomic with several producers: a frame never exceeds
 * PIPE_BUF then); the others keep boundaries themselves. How long each
 * took is printed as a ratio to pipe's rate, for information: no result
 * depends on a timing.
 */

#define PAR_MAX_PROD	4
#define PAR_BATCH	8		/* messages per ipcchan batch call */
#define PAR_DEPTH	8		/* queue capacity in messages */
#define PAR_END		0xffffffffu	/* sequence number of an end marker */
#define PAR_MAXLEN	8192		/* default mq msgsize_max, SysV msgmax */

struct par_ring {			/* the shm_futex ring */
	__u32 head, cons_wait, pad0[14];
	__u32 tail, prod_wait, pad1[14];
	__u32 lock, pad2[15];
	__u64 slot;			/* bytes per slot: 8-byte length + data */
};

struct par_link {
	int rx, tx;			/* pipe, FIFO, socket, ipcchan */
	mqd_t mq;
	int msqid;
	struct par_ring *ring;
	size_t ring_len;
	int multi;			/* several producers */
	char path[96];
};

struct par_mech {
	const char *name;
	unsigned int batch;		/* messages per send/receive call */
	int (*make)(struct par_link *l, int ctl, const char *mqname);
	/* After fork: the consumer drops the sending side, producers the other. */
	void (*close_tx)(struct par_link *l);
	void (*close_rx)(struct par_link *l);
	void (*destroy)(struct par_link *l);	/* the parent, at the end */
	/* Send n messages (0 or -errno); receive up to n: count, 0 at EOF. */
	int (*send)(struct par_link *l, char **m, const __u32 *len, unsigned int n);
	int (*recv)(struct par_link *l, char **m, __u32 *len, unsigned int n);
	/* After the last end marker: 1 when nothing else can be received. */
	int (*drained)(struct par_link *l);
};

/* What a consumer got; compared with what the generator says it must be. */
struct par_result {
	__u64 msgs, bytes, digest, ns;
	__u64 per_prod[PAR_MAX_PROD];
	int drained, done;
	int failed;			/* the first failure's message stays */
	char err[200];
};

static __u64 par_rand(__u64 *x)		/* xorshift64 */
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Length of message seq of producer p: 8..maxlen, both ends included. */
static __u32 par_len(__u32 p, __u32 seq, __u32 maxlen)
{
	__u64 x = ((__u64)(p + 1) << 32 | seq) * 0x9e3779b97f4a7c15ULL | 1;

	if (seq % 97 == 0)
		return maxlen;
	if (seq % 89 == 1)
		return 8;
	return 8 + (__u32)(par_rand(&x) % (maxlen - 7));
}

/* Fill buf with message seq of producer p: (p, seq), then its bytes. */
static void par_fill(char *buf, __u32 p, __u32 seq, __u32 len)
{
	__u64 x = ((__u64)(seq + 1) << 32 | (p + 7)) * 0xd1b54a32d192ed03ULL | 1;
	__u64 r;
	__u32 i;

	memcpy(buf, &p, 4);
	memcpy(buf + 4, &seq, 4);
	for (i = 8; i < len; i += 8) {
		r = par_rand(&x);
		memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
	}
}

static __u64 par_fnv(__u64 h, const void *data, size_t n)
{
	const unsigned char *c = data;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define PAR_FNV0	0xcbf29ce484222325ULL

/* The digest of one producer's stream folded into the total (any interleaving). */
static __u64 par_fold(__u64 total, __u32 p, __u64 h)
{
	return total + h * (2 * (__u64)p + 1);
}

/* --- byte streams: pipe and FIFO -------------------------------------------- */

static int par_full_write(int fd, const char *b, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, 1 at EOF before the first byte, or -errno (-EPROTO: EOF mid-way). */
static int par_full_read(int fd, char *b, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return got ? -EPROTO : 1;
		got += (size_t)r;
	}
	return 0;
}

static int bs_send(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	char frame[4 + PAR_MAXLEN];
	int r;

	(void)n;
	memcpy(frame, &len[0], 4);
	memcpy(frame + 4, m[0], len[0]);
	r = par_full_write(l->tx, frame, 4 + len[0]);
	return r;
}

static int bs_recv(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	int r;

	(void)n;
	r = par_full_read(l->rx, (char *)&len[0], 4);
	if (r)
		return r == 1 ? 0 : r;
	if (len[0] > PAR_MAXLEN)
		return -EPROTO;
	r = par_full_read(l->rx, m[0], len[0]);
	return r ? (r == 1 ? -EPROTO : r) : 1;
}

static int bs_drained(struct par_link *l)
{
	char c;

	return read(l->rx, &c, 1) == 0;
}

static void fd_close_tx(struct par_link *l)
{
	close(l->tx);
	l->tx = -1;
}

static void fd_close_rx(struct par_link *l)
{
	close(l->rx);
	l->rx = -1;
}

static void fd_destroy(struct par_link *l)
{
	if (l->rx >= 0)
		close(l->rx);
	if (l->tx >= 0)
		close(l->tx);
	if (l->path[0])
		unlink(l->path);
}

static int pipe_mk(struct par_link *l, int ctl, const char *mqname)
{
	int p[2];

	(void)ctl;
	(void)mqname;
	if (pipe(p))
		return -errno;
	l->rx = p[0];
	l->tx = p[1];
	return 0;
}

static int fifo_mk(struct par_link *l, int ctl, const char *mqname)
{
	(void)ctl;
	(void)mqname;
	snprintf(l->path, sizeof(l->path), "/tmp/ipcchan-compare-%d", getpid());
	unlink(l->path);
	if (mkfifo(l->path, 0600))
		return -errno;
	/* Open the reader first without blocking, then the writer. */
	l->rx = open(l->path, O_RDONLY | O_NONBLOCK);
	l->tx = l->rx < 0 ? -1 : open(l->path, O_WRONLY);
	if (l->tx < 0 || fcntl(l->rx, F_SETFL, 0))
		return -errno;
	return 0;
}

/* --- POSIX mq and SysV msg -------------------------------------------------- */

static int mq_mk(struct par_link *l, int ctl, const char *mqname)
{
	(void)ctl;
	snprintf(l->path, sizeof(l->path), "%s", mqname);
	l->mq = mq_make(mqname, 0, PAR_DEPTH, PAR_MAXLEN);
	return l->mq == (mqd_t)-1 ? -errno : 0;
}

static void nothing(struct par_link *l)
{
	(void)l;
}

static void mq_destroy(struct par_link *l)
{
	mq_close(l->mq);
	mq_unlink(l->path);
}

static int mq_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	(void)n;
	while (mq_send(l->mq, m[0], len[0], 0))
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int mq_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = mq_receive(l->mq, m[0], PAR_MAXLEN, NULL)) < 0)
		if (errno != EINTR)
			return -errno;
	len[0] = (__u32)r;
	return 1;
}

static int mq_drained(struct par_link *l)
{
	struct timespec past = { 0, 0 };
	char buf[PAR_MAXLEN];

	return mq_timedreceive(l->mq, buf, sizeof(buf), NULL, &past) < 0 &&
	       errno == ETIMEDOUT;
}

struct par_msgbuf {
	long mtype;
	char text[PAR_MAXLEN];
};

static int msg_mk(struct par_link *l, int ctl, const char *mqname)
{
	(void)ctl;
	(void)mqname;
	l->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	return l->msqid < 0 ? -errno : 0;
}

static void msg_destroy(struct par_link *l)
{
	msgctl(l->msqid, IPC_RMID, NULL);
}

static int msg_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	static struct par_msgbuf b;

	(void)n;
	b.mtype = 1;
	memcpy(b.text, m[0], len[0]);
	while (msgsnd(l->msqid, &b, len[0], 0))
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int msg_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	static struct par_msgbuf b;
	ssize_t r;

	(void)n;
	while ((r = msgrcv(l->msqid, &b, PAR_MAXLEN, 0, 0)) < 0)
		if (errno != EINTR)
			return -errno;
	memcpy(m[0], b.text, (size_t)r);
	len[0] = (__u32)r;
	return 1;
}

static int msg_drained(struct par_link *l)
{
	static struct par_msgbuf b;

	return msgrcv(l->msqid, &b, PAR_MAXLEN, 0, IPC_NOWAIT) < 0 &&
	       errno == ENOMSG;
}

/* --- Unix SOCK_SEQPACKET ------------------------------------------------------ */

static int sock_mk(struct par_link *l, int ctl, const char *mqname)
{
	int sv[2];

	(void)ctl;
	(void)mqname;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return -errno;
	l->tx = sv[0];
	l->rx = sv[1];
	return 0;
}

static int sock_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	ssize_t r;

	(void)n;
	while ((r = send(l->tx, m[0], len[0], MSG_NOSIGNAL)) < 0)
		if (errno != EINTR)
			return -errno;
	return (__u32)r == len[0] ? 0 : -EPROTO;
}

static int sock_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	ssize_t r;

	(void)n;
	/* Room for one byte more than the largest: a merged read shows. */
	while ((r = recv(l->rx, m[0], PAR_MAXLEN + 1, 0)) < 0)
		if (errno != EINTR)
			return -errno;
	len[0] = (__u32)r;
	return r ? 1 : 0;
}

/* --- POSIX shm ring with futex wait/wake (as ipcchan-bench's shm_futex) ------ */

static long par_futex(__u32 *uaddr, int op, __u32 val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static int shm_mk(struct par_link *l, int ctl, const char *mqname)
{
	int fd;

	(void)ctl;
	snprintf(l->path, sizeof(l->path), "%s-shm", mqname);
	fd = shm_open(l->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	shm_unlink(l->path);
	l->path[0] = '\0';
	l->ring_len = 4096 + (size_t)PAR_DEPTH * (8 + PAR_MAXLEN);
	if (ftruncate(fd, (off_t)l->ring_len)) {
		close(fd);
		return -errno;
	}
	l->ring = mmap(NULL, l->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	close(fd);
	if (l->ring == MAP_FAILED)
		return -errno;
	l->ring->slot = 8 + PAR_MAXLEN;
	return 0;
}

static void shm_destroy(struct par_link *l)
{
	munmap(l->ring, l->ring_len);
}

static char *shm_slot(struct par_ring *r, __u32 i)
{
	return (char *)r + 4096 + (size_t)(i % PAR_DEPTH) * r->slot;
}

static void shm_lock(__u32 *lk)
{
	__u32 c = 0;

	if (__atomic_compare_exchange_n(lk, &c, 1, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(lk, 2, __ATOMIC_ACQUIRE);
	while (c) {
		par_futex(lk, FUTEX_WAIT, 2);
		c = __atomic_exchange_n(lk, 2, __ATOMIC_ACQUIRE);
	}
}

static void shm_unlock(__u32 *lk)
{
	if (__atomic_fetch_sub(lk, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(lk, 0, __ATOMIC_RELEASE);
		par_futex(lk, FUTEX_WAKE, 1);
	}
}

static int shm_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	struct par_ring *r = l->ring;
	__u64 len64 = len[0];
	__u32 h, t;

	(void)n;
	if (l->multi)
		shm_lock(&r->lock);
	h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	for (;;) {
		__atomic_store_n(&r->prod_wait, 1, __ATOMIC_SEQ_CST);
		t = __atomic_load_n(&r->tail, __ATOMIC_SEQ_CST);
		if (h - t < PAR_DEPTH)
			break;
		par_futex(&r->tail, FUTEX_WAIT, t);
	}
	__atomic_store_n(&r->prod_wait, 0, __ATOMIC_RELAXED);
	memcpy(shm_slot(r, h), &len64, 8);
	memcpy(shm_slot(r, h) + 8, m[0], len[0]);
	__atomic_store_n(&r->head, h + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->cons_wait, __ATOMIC_SEQ_CST))
		par_futex(&r->head, FUTEX_WAKE, 1);
	if (l->multi)
		shm_unlock(&r->lock);
	return 0;
}

static int shm_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	struct par_ring *r = l->ring;
	__u32 h, t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	__u64 len64;

	(void)n;
	for (;;) {
		__atomic_store_n(&r->cons_wait, 1, __ATOMIC_SEQ_CST);
		h = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
		if (h != t)
			break;
		par_futex(&r->head, FUTEX_WAIT, t);
	}
	__atomic_store_n(&r->cons_wait, 0, __ATOMIC_RELAXED);
	memcpy(&len64, shm_slot(r, t), 8);
	if (len64 > PAR_MAXLEN)
		return -EPROTO;
	memcpy(m[0], shm_slot(r, t) + 8, len64);
	len[0] = (__u32)len64;
	__atomic_store_n(&r->tail, t + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->prod_wait, __ATOMIC_SEQ_CST))
		par_futex(&r->tail, FUTEX_WAKE, 1);
	return 1;
}

static int shm_drained(struct par_link *l)
{
	return __atomic_load_n(&l->ring->head, __ATOMIC_SEQ_CST) ==
	       __atomic_load_n(&l->ring->tail, __ATOMIC_SEQ_CST);
}

/* --- ipcchan: one message per ioctl, and batches -------------------------------- */

static int chan_mk(struct par_link *l, int ctl, const char *mqname)
{
	int fds[2], r;

	(void)mqname;
	r = chan_create(ctl, 0, PAR_MAXLEN, PAR_DEPTH, 0, fds);
	if (r)
		return r;
	l->rx = fds[0];
	l->tx = fds[1];
	return 0;
}

static int chan_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	(void)n;
	return chan_send(l->tx, m[0], len[0], 0, 0);
}

static int chan_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	struct ipcchan_recv r;
	long got;

	(void)n;
	got = chan_recv(l->rx, m[0], PAR_MAXLEN, 0, &r);
	if (got < 0)
		return (int)got;
	if (!got && !r.seq)
		return 0;			/* end of channel */
	len[0] = (__u32)got;
	return 1;
}

static int chan_drained(struct par_link *l)
{
	struct ipcchan_recv r;
	char buf[PAR_MAXLEN];

	return chan_recv(l->rx, buf, sizeof(buf), 0, &r) == 0 && !r.seq;
}

static int chanb_tx(struct par_link *l, char **m, const __u32 *len, unsigned int n)
{
	struct ipcchan_msghdr h[PAR_BATCH];
	unsigned int i, sent = 0;
	long r;

	while (sent < n) {
		memset(h, 0, sizeof(h));
		for (i = 0; i < n - sent; i++) {
			h[i].buf = ptr64(m[sent + i]);
			h[i].len = len[sent + i];
		}
		r = chan_batch(l->tx, IPCCHAN_IOC_SEND_BATCH, h, n - sent, 0, 0,
			       NULL);
		if (r <= 0)
			return r ? (int)r : -EPROTO;
		sent += (unsigned int)r;
	}
	return 0;
}

static int chanb_rx(struct par_link *l, char **m, __u32 *len, unsigned int n)
{
	struct ipcchan_msghdr h[PAR_BATCH];
	unsigned int i;
	long r;

	memset(h, 0, sizeof(h));
	for (i = 0; i < n; i++) {
		h[i].buf = ptr64(m[i]);
		h[i].len = PAR_MAXLEN;
	}
	r = chan_batch(l->rx, IPCCHAN_IOC_RECV_BATCH, h, n, 0, 0, NULL);
	for (i = 0; r > 0 && i < (unsigned int)r; i++)
		len[i] = (__u32)h[i].len;
	return (int)r;
}

static const struct par_mech par_mechs[] = {
	{ "pipe", 1, pipe_mk, fd_close_tx, fd_close_rx, fd_destroy,
	  bs_send, bs_recv, bs_drained },
	{ "fifo", 1, fifo_mk, fd_close_tx, fd_close_rx, fd_destroy,
	  bs_send, bs_recv, bs_drained },
	{ "posix_mq", 1, mq_mk, nothing, nothing, mq_destroy,
	  mq_tx, mq_rx, mq_drained },
	{ "sysv_msg", 1, msg_mk, nothing, nothing, msg_destroy,
	  msg_tx, msg_rx, msg_drained },
	{ "unix_seqpacket", 1, sock_mk, fd_close_tx, fd_close_rx, fd_destroy,
	  sock_tx, sock_rx, bs_drained },
	{ "shm_futex", 1, shm_mk, nothing, nothing, shm_destroy,
	  shm_tx, shm_rx, shm_drained },
	{ "ipcchan_ioctl", 1, chan_mk, fd_close_tx, fd_close_rx, fd_destroy,
	  chan_tx, chan_rx, chan_drained },
	{ "ipcchan_batch", PAR_BATCH, chan_mk, fd_close_tx, fd_close_rx,
	  fd_destroy, chanb_tx, chanb_rx, chan_drained },
};

#define PAR_NMECH	ARRAY_SIZE(par_mechs)

struct par_work {
	unsigned int nprod;
	__u32 nmsg, maxlen;
};

#define PAR_FAIL(res, ...) do {						\
	if (!__atomic_exchange_n(&(res)->failed, 1, __ATOMIC_SEQ_CST))	\
		snprintf((res)->err, sizeof((res)->err), __VA_ARGS__);	\
	_exit(1);							\
} while (0)

static char **par_bufs(unsigned int n)
{
	char **b = calloc(n, sizeof(*b));
	unsigned int i;

	for (i = 0; b && i < n; i++) {
		b[i] = malloc(PAR_MAXLEN + 1);
		if (!b[i])
			return NULL;
	}
	return b;
}

static void par_producer(const struct par_mech *m, struct par_link *l,
			 const struct par_work *w, __u32 p, struct par_result *res)
{
	char **b = par_bufs(m->batch);
	__u32 len[PAR_BATCH], seq = 0;
	unsigned int n;
	int r;

	if (!b)
		PAR_FAIL(res, "producer %u: out of memory", p);
	while (seq < w->nmsg) {
		for (n = 0; n < m->batch && seq < w->nmsg; n++, seq++) {
			len[n] = par_len(p, seq, w->maxlen);
			par_fill(b[n], p, seq, len[n]);
		}
		r = m->send(l, b, len, n);
		if (r)
			PAR_FAIL(res, "producer %u: send of message %u: %s", p,
				 seq - n, strerror(-r));
	}
	len[0] = 8;
	par_fill(b[0], p, PAR_END, 8);
	r = m->send(l, b, len, 1);
	if (r)
		PAR_FAIL(res, "producer %u: send of the end marker: %s", p,
			 strerror(-r));
	_exit(0);
}

static void par_consumer(const struct par_mech *m, struct par_link *l,
			 const struct par_work *w, struct par_result *res)
{
	char **b = par_bufs(m->batch), *want = malloc(PAR_MAXLEN);
	__u64 h[PAR_MAX_PROD], t0 = 0;
	__u32 next[PAR_MAX_PROD] = { 0 }, len[PAR_BATCH], p, seq, wlen;
	int ended[PAR_MAX_PROD] = { 0 };
	unsigned int ends = 0, i;
	int n;

	if (!b || !want)
		PAR_FAIL(res, "consumer: out of memory");
	for (i = 0; i < PAR_MAX_PROD; i++)
		h[i] = PAR_FNV0;
	while (ends < w->nprod) {
		n = m->recv(l, b, len, m->batch);
		if (n < 0)
			PAR_FAIL(res, "receive: %s", strerror(-n));
		if (!n)
			PAR_FAIL(res, "end of stream after %llu messages, %u of %u end markers",
				 (unsigned long long)res->msgs, ends, w->nprod);
		if (!t0)
			t0 = now_ns(CLOCK_MONOTONIC);
		for (i = 0; i < (unsigned int)n; i++) {
			if (ends == w->nprod)
				PAR_FAIL(res, "a message after the last end marker");
			if (len[i] < 8)
				PAR_FAIL(res, "a message of %u bytes after %llu messages",
					 len[i], (unsigned long long)res->msgs);
			memcpy(&p, b[i], 4);
			memcpy(&seq, b[i] + 4, 4);
			if (p >= w->nprod)
				PAR_FAIL(res, "producer %u does not exist", p);
			if (ended[p])
				PAR_FAIL(res, "producer %u: a message after its end marker",
					 p);
			if (seq == PAR_END && len[i] == 8) {
				ended[p] = 1;
				if (next[p] != w->nmsg)
					PAR_FAIL(res, "producer %u ended after %u of %u messages",
						 p, next[p], w->nmsg);
				ends++;
				continue;
			}
			if (seq != next[p])
				PAR_FAIL(res, "producer %u: message %u where %u was next",
					 p, seq, next[p]);
			wlen = par_len(p, seq, w->maxlen);
			par_fill(want, p, seq, wlen);
			if (len[i] != wlen)
				PAR_FAIL(res, "producer %u message %u: %u bytes, sent %u",
					 p, seq, len[i], wlen);
			if (memcmp(b[i], want, wlen))
				PAR_FAIL(res, "producer %u message %u: contents differ",
					 p, seq);
			h[p] = par_fnv(h[p], &len[i], 4);
			h[p] = par_fnv(h[p], b[i], len[i]);
			next[p]++;
			res->per_prod[p]++;
			res->msgs++;
			res->bytes += len[i];
		}
	}
	res->ns = now_ns(CLOCK_MONOTONIC) - t0;
	for (p = 0; p < w->nprod; p++)
		res->digest = par_fold(res->digest, p, h[p]);
	res->drained = m->drained(l);
	res->done = 1;
	_exit(0);
}

/* Run the workload through mechanism k; 0, or the failing step's errno. */
static int par_run(const struct par_mech *m, int ctl, const char *mqname,
		   const struct par_work *w, struct par_result *res)
{
	struct par_link l = { .rx = -1, .tx = -1, .msqid = -1,
			      .multi = w->nprod > 1 };
	pid_t pids[PAR_MAX_PROD + 1], pid;
	unsigned int i, j, live, who;
	int r, status, bad = 0;

	memset(res, 0, sizeof(*res));
	r = m->make(&l, ctl, mqname);
	if (r) {
		snprintf(res->err, sizeof(res->err), "create: %s", strerror(-r));
		return -r;
	}
	for (i = 0; i <= w->nprod; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			bad = errno;
			break;
		}
		if (pids[i])
			continue;
		alarm(60);	/* a lost message must not hang the test */
		if (!i) {
			m->close_tx(&l);
			par_consumer(m, &l, w, res);
		}
		m->close_rx(&l);
		par_producer(m, &l, w, i - 1, res);
	}
	if (bad)	/* fork failed: the others would wait forever */
		for (j = 0; j < i; j++)
			kill(pids[j], SIGKILL);
	/* Only the children hold the channel open from here. */
	if (l.rx >= 0)
		close(l.rx);
	if (l.tx >= 0)
		close(l.tx);
	l.rx = l.tx = -1;
	/* When one side fails, the others would wait for it: stop them. */
	for (live = i; live; ) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			bad = bad ? bad : errno;
			break;
		}
		for (j = 0, who = i; j < i; j++)
			if (pids[j] == pid) {
				pids[j] = 0;
				who = j;
			}
		live--;
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			continue;
		if (!__atomic_exchange_n(&res->failed, 1, __ATOMIC_SEQ_CST))
			snprintf(res->err, sizeof(res->err),
				 "%s %s %d", who ? "a producer" : "the consumer",
				 WIFEXITED(status) ? "exited with status" :
				 "was killed by signal", WIFEXITED(status) ?
				 WEXITSTATUS(status) : WTERMSIG(status));
		bad = bad ? bad : EPROTO;
		for (j = 0; j < i; j++)
			if (pids[j])
				kill(pids[j], SIGKILL);
	}
	m->destroy(&l);
	return bad;
}

static void same_workload(struct __test_metadata *_metadata, int ctl,
			  const char *mqname, const struct par_work *w,
			  const char *what)
{
	struct par_result *res = shared_alloc(sizeof(*res) * PAR_NMECH), ref;
	__u64 h, base_ns = 0;
	char *buf = malloc(PAR_MAXLEN);
	__u32 p, seq, len;
	unsigned int k;

	ASSERT_NE(NULL, res);
	ASSERT_NE(NULL, buf);
	/* The reference: what every producer sends. */
	memset(&ref, 0, sizeof(ref));
	for (p = 0; p < w->nprod; p++) {
		h = PAR_FNV0;
		for (seq = 0; seq < w->nmsg; seq++) {
			len = par_len(p, seq, w->maxlen);
			par_fill(buf, p, seq, len);
			h = par_fnv(h, &len, 4);
			h = par_fnv(h, buf, len);
			ref.bytes += len;
		}
		ref.per_prod[p] = w->nmsg;
		ref.digest = par_fold(ref.digest, p, h);
	}
	ref.msgs = (__u64)w->nprod * w->nmsg;
	free(buf);
	TH_LOG("%s: %u producer(s) x %u messages of 8..%u bytes, %llu bytes; digest %016llx",
	       what, w->nprod, w->nmsg, w->maxlen,
	       (unsigned long long)ref.bytes, (unsigned long long)ref.digest);
	for (k = 0; k < PAR_NMECH; k++) {
		const struct par_mech *m = &par_mechs[k];
		struct par_result *r = &res[k];
		int err;

		err = par_run(m, ctl, mqname, w, r);
		EXPECT_EQ(0, err) TH_LOG("%s: %s", m->name,
					 r->err[0] ? r->err : strerror(err));
		EXPECT_TRUE(r->done) TH_LOG("%s: the consumer did not finish", m->name);
		EXPECT_EQ(ref.msgs, r->msgs) TH_LOG("%s: messages", m->name);
		EXPECT_EQ(ref.bytes, r->bytes) TH_LOG("%s: bytes", m->name);
		EXPECT_EQ(ref.digest, r->digest) TH_LOG("%s: digest", m->name);
		for (p = 0; p < w->nprod; p++) {
			EXPECT_EQ(ref.per_prod[p], r->per_prod[p])
				TH_LOG("%s: messages of producer %u", m->name, p);
		}
		if (r->done) {
			EXPECT_TRUE(r->drained)
				TH_LOG("%s: something was left after the last end marker",
				       m->name);
		}
		if (!k && r->done)
			base_ns = r->ns;
	}
	/* The comparison, for information only. */
	for (k = 0; k < PAR_NMECH; k++) {
		const struct par_result *r = &res[k];
		double rate;

		if (!r->done || !r->ns)
			continue;
		rate = (double)r->msgs * 1e9 / (double)r->ns;
		if (base_ns)
			TH_LOG("%s: %-14s %llu messages, digest %016llx, %8.0f msgs/s, %.2fx pipe's rate",
			       what, par_mechs[k].name, (unsigned long long)r->msgs,
			       (unsigned long long)r->digest, rate,
			       (double)base_ns / (double)r->ns);
		else
			TH_LOG("%s: %-14s %llu messages, digest %016llx, %8.0f msgs/s",
			       what, par_mechs[k].name, (unsigned long long)r->msgs,
			       (unsigned long long)r->digest, rate);
	}
	munmap(res, sizeof(*res) * PAR_NMECH);
}

TEST_F_TIMEOUT(cmp, same_workload_one_producer, 300)
{
	static const struct par_work w = { 1, 1000, PAR_MAXLEN };

	same_workload(_metadata, self->ctl, self->mqname, &w, "one producer");
}

/* Frames of at most PIPE_BUF bytes: a pipe's writes stay whole with several writers. */
TEST_F_TIMEOUT(cmp, same_workload_four_producers, 300)
{
	static const struct par_work w = { PAR_MAX_PROD, 250, PIPE_BUF - 4 };

	same_workload(_metadata, self->ctl, self->mqname, &w, "four producers");
}

TEST_HARNESS_MAIN
