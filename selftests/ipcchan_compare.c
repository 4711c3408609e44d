// SPDX-License-Identifier: GPL-2.0
/*
 * ipcchan side by side with the kernel's pipes and POSIX message queues,
 * for the behaviours they share: FIFO order, priority order, -EAGAIN when
 * nonblocking, timeouts and past deadlines, hangup, poll readiness,
 * message size limits, wakeups and signals. Each test drives every
 * mechanism through the same steps, asserts the same observable result
 * from each, and prints the comparison. Where ipcchan deliberately
 * differs (mq has no hangup; a pipe keeps no message boundaries; mq checks
 * the receive buffer against the queue's message size, not the message's
 * length; a timed mq call is restarted under SA_RESTART, a timed ipcchan
 * call is not), the difference itself is asserted and explained.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TEST_HARNESS_MAIN
