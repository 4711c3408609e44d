// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking and readiness: receivers and senders that sleep and the events
 * that wake them, relative and absolute timeouts on CLOCK_MONOTONIC and
 * CLOCK_REALTIME, past deadlines, signals (-EINTR and SA_RESTART), hangup
 * in both directions with one and many waiters, poll/select/epoll bits and
 * edge-triggered wakeups, and many producers and consumers on one channel.
 *
 * A helper process knows that the other side is asleep by watching the
 * channel's waiting_senders / waiting_receivers counters, so no test
 * depends on a sleep for its ordering. Timing is only ever checked from
 * below (a timeout does not end early), except for bounds of many seconds
 * that tell "woke up" from "slept until the deadline". Every blocking call
 * is covered by a timeout, alarm() or the harness's timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

#define WAIT_MS		10000	/* how long a helper waits for a sleeper */
#define SHORT_NS	(200 * NSEC_PER_MSEC)

FIXTURE(blk) {
	int ctl;
	struct ipcchan_query q;
	/* Shared with helpers: seconds CLOCK_REALTIME was moved forward. */
	volatile int *clock_shift;
	volatile int *signals;
	char name[128];		/* a named channel, unlinked in the teardown */
};

static volatile int *sig_counter;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_fetch_add(sig_counter, 1, __ATOMIC_SEQ_CST);
}

static void set_handler(int sig, int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void shift_realtime(int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	clock_settime(CLOCK_REALTIME, &ts);
}

FIXTURE_SETUP(blk)
{
	volatile int *shared;

	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &self->q));
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_CHANNELS)
		TH_LOG("the module does not report IPCCHAN_FEAT_CHANNELS");
	signal(SIGPIPE, SIG_IGN);
	shared = shared_alloc(4096);
	ASSERT_NE(NULL, shared);
	self->clock_shift = shared;
	self->signals = shared + 1;
	sig_counter = self->signals;
	snprintf(self->name, sizeof(self->name), "selftest-%s-%d",
		 _metadata->name, getpid());
}

FIXTURE_TEARDOWN(blk)
{
	/* Put the wall clock back if a test moved it and failed. */
	if (self->clock_shift && *self->clock_shift) {
		shift_realtime(-*self->clock_shift);
		*self->clock_shift = 0;
	}
	chan_unlink(self->ctl, self->name);
	close(self->ctl);
}

static __u64 elapsed_ms(__u64 start)
{
	return (now_ns(CLOCK_MONOTONIC) - start) / NSEC_PER_MSEC;
}

/* ---- sleep and wake ------------------------------------------------------ */

TEST_F_TIMEOUT(blk, recv_wakes_on_send, 60)
{
	struct ipcchan_stats st;
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_recv r;
		char buf[32] = { 0 };

		alarm(30);
		CHILD_CHECK(chan_recv(fds[0], buf, sizeof(buf), 0, &r) == 5,
			    "recv");
		CHILD_CHECK(!strcmp(buf, "hello"), "got '%s'", buf);
		CHILD_CHECK(r.seq == 1, "seq %llu", (unsigned long long)r.seq);
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[0], 0, WAITING_RECEIVERS, 1, WAIT_MS))
		TH_LOG("the receiver never showed as waiting");
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.waiting_receivers);
	EXPECT_EQ(0, st.received);
	ASSERT_EQ(0, chan_send_str(fds[1], "hello", 0, 0));
	EXPECT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.waiting_receivers);
	EXPECT_EQ(1, st.received);
	EXPECT_EQ(0, st.queued_msgs);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, send_wakes_on_recv, 60)
{
	struct ipcchan_stats st;
	char buf[32];
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "first", 0, IPCCHAN_NONBLOCK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		CHILD_CHECK(chan_send_str(fds[1], "second", 0, 0) == 0, "send");
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[1], 0, WAITING_SENDERS, 1, WAIT_MS))
		TH_LOG("the sender never showed as waiting");
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.waiting_senders);
	EXPECT_EQ(1, st.sent);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(5, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_STREQ("first", buf);
	EXPECT_EQ(0, wait_child(pid));
	memset(buf, 0, sizeof(buf));
	alarm(20);
	EXPECT_EQ(6, chan_recv(fds[0], buf, sizeof(buf), 0, NULL));
	alarm(0);
	EXPECT_STREQ("second", buf);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.waiting_senders);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, send_wakes_on_recv_bytes, 60)
{
	char buf[64] = { 0 };
	pid_t pid;
	int fds[2];

	/* Full by bytes, not by count: the byte-room wakeup. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 40, 10, 50, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 40, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(-EAGAIN, chan_send(fds[1], buf, 20, 0, IPCCHAN_NONBLOCK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		CHILD_CHECK(chan_send(fds[1], buf, 20, 0, 0) == 0, "send");
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[1], 0, WAITING_SENDERS, 1, WAIT_MS));
	ASSERT_EQ(40, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(20, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, batch_recv_wakes, 60)
{
	struct ipcchan_msghdr m[3];
	char data[3][4] = { "aa", "bb", "cc" };
	unsigned int i;
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_msghdr rm[4];
		char bufs[4][8];
		long n, total = 0;

		alarm(30);
		memset(rm, 0, sizeof(rm));
		for (i = 0; i < 4; i++) {
			rm[i].buf = ptr64(bufs[i]);
			rm[i].len = sizeof(bufs[i]);
		}
		/* Sleeps for the first, then takes what is there. */
		n = chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, rm, 4, 0, 0, NULL);
		CHILD_CHECK(n >= 1 && n <= 3, "batch returned %ld", n);
		CHILD_CHECK(!memcmp(bufs[0], "aa", 2), "first");
		total = n;
		while (total < 3) {
			n = chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, rm, 4, 0,
				       0, NULL);
			CHILD_CHECK(n >= 1, "batch returned %ld", n);
			total += n;
		}
		CHILD_CHECK(total == 3, "total %ld", total);
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[0], 0, WAITING_RECEIVERS, 1, WAIT_MS));
	memset(m, 0, sizeof(m));
	for (i = 0; i < 3; i++) {
		m[i].buf = ptr64(data[i]);
		m[i].len = 2;
	}
	EXPECT_EQ(3, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 3,
				IPCCHAN_NONBLOCK, 0, NULL));
	EXPECT_EQ(0, wait_child(pid));
	close(fds[0]);
	close(fds[1]);
}

/* ---- timeouts ----------------------------------------------------------- */

TEST_F(blk, timeout_relative)
{
	struct ipcchan_stats st;
	struct ipcchan_msghdr m = { 0 };
	char buf[8] = "x";
	__u64 t0, ms;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf),
					  IPCCHAN_TIMEOUT, SHORT_NS, NULL));
	ms = elapsed_ms(t0);
	EXPECT_LE(200, ms);
	EXPECT_GT(20000, ms);
	TH_LOG("receive timed out after %llu ms (200 asked)",
	       (unsigned long long)ms);

	m.buf = ptr64(buf);
	m.len = sizeof(buf);
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, &m, 1,
					 IPCCHAN_TIMEOUT, SHORT_NS, NULL));
	EXPECT_LE(200, elapsed_ms(t0));

	/* The sending side, on a full queue. */
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT,
					  SHORT_NS));
	ms = elapsed_ms(t0);
	EXPECT_LE(200, ms);
	EXPECT_GT(20000, ms);
	m.len = 1;
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, &m, 1,
					 IPCCHAN_TIMEOUT, SHORT_NS, NULL));
	EXPECT_LE(200, elapsed_ms(t0));

	/* Timed-out calls moved nothing. */
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.sent);
	EXPECT_EQ(0, st.received);
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(0, st.waiting_senders);
	EXPECT_EQ(0, st.waiting_receivers);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, timeout_zero)
{
	char buf[8] = "z";
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	/* Would sleep: a zero timeout is a timeout, not -EAGAIN. */
	EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf),
					  IPCCHAN_TIMEOUT, 0, NULL));
	/* Can complete: completes. */
	EXPECT_EQ(0, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT, 0));
	EXPECT_EQ(-ETIMEDOUT, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT, 0));
	EXPECT_EQ(1, chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT, 0,
				 NULL));
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, nonblock_beats_timeout)
{
	char buf[8] = "n";
	__u64 t0;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-EAGAIN, chan_recv_t(fds[0], buf, sizeof(buf),
				       IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT,
				       60 * NSEC_PER_SEC, NULL));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send_t(fds[1], buf, 1, 0,
				       IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT,
				       60 * NSEC_PER_SEC));
	/* Also over an O_NONBLOCK fd. */
	ASSERT_EQ(0, fcntl(fds[1], F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT,
				       60 * NSEC_PER_SEC));
	EXPECT_GT(20000, elapsed_ms(t0));
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, abstime_monotonic)
{
	char buf[8] = "m";
	__u64 deadline;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	deadline = now_ns(CLOCK_MONOTONIC) + SHORT_NS;
	EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf),
					  IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
					  deadline, NULL));
	EXPECT_LE(deadline, now_ns(CLOCK_MONOTONIC));

	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	deadline = now_ns(CLOCK_MONOTONIC) + SHORT_NS;
	EXPECT_EQ(-ETIMEDOUT, chan_send_t(fds[1], buf, 1, 0,
					  IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
					  deadline));
	EXPECT_LE(deadline, now_ns(CLOCK_MONOTONIC));
	/* A future deadline with a message there: at once. */
	EXPECT_EQ(1, chan_recv_t(fds[0], buf, sizeof(buf),
				 IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
				 now_ns(CLOCK_MONOTONIC) + 60 * NSEC_PER_SEC,
				 NULL));
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, abstime_realtime)
{
	char buf[8] = "r";
	__u64 deadline;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	deadline = now_ns(CLOCK_REALTIME) + SHORT_NS;
	EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf),
					  IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME |
					  IPCCHAN_REALTIME, deadline, NULL));
	EXPECT_LE(deadline, now_ns(CLOCK_REALTIME));

	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	deadline = now_ns(CLOCK_REALTIME) + SHORT_NS;
	EXPECT_EQ(-ETIMEDOUT, chan_send_t(fds[1], buf, 1, 0,
					  IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME |
					  IPCCHAN_REALTIME, deadline));
	EXPECT_LE(deadline, now_ns(CLOCK_REALTIME));
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, realtime_deadline_follows_clock_set, 120)
{
	__u64 deadline, t0, ms;
	char buf[8];
	pid_t pid;
	int fds[2];

	/*
	 * A CLOCK_REALTIME deadline a minute away; the wall clock is then set
	 * two minutes forward. The receive must time out then, not a minute
	 * later (POSIX mq_timedreceive semantics, as the header states).
	 */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	deadline = now_ns(CLOCK_REALTIME) + 60 * NSEC_PER_SEC;
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(60);
		CHILD_CHECK(wait_waiters(fds[0], 0, WAITING_RECEIVERS, 1,
					 WAIT_MS) == 0, "receiver not waiting");
		*self->clock_shift = 120;
		shift_realtime(120);
		_exit(0);
	}
	t0 = now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf),
					  IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME |
					  IPCCHAN_REALTIME, deadline, NULL));
	ms = elapsed_ms(t0);
	EXPECT_EQ(0, wait_child(pid));
	if (*self->clock_shift) {
		shift_realtime(-*self->clock_shift);
		*self->clock_shift = 0;
	}
	EXPECT_GT(40000, ms)
		TH_LOG("timed out %llu ms after the call began (deadline 60 s, clock set 120 s on)",
		       (unsigned long long)ms);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, past_deadline_can_complete)
{
	static const __u64 flags[] = {
		IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
		IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | IPCCHAN_REALTIME,
	};
	struct ipcchan_msghdr m = { 0 };
	char buf[8] = "p";
	unsigned int i;
	int fds[2];

	/* A deadline long past is no timeout when nothing has to wait. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 4, 0, fds));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		__u64 f = flags[i];

		EXPECT_EQ(0, chan_send_t(fds[1], buf, 1, 0, f, 1))
			TH_LOG("send flags %#llx", (unsigned long long)f);
		EXPECT_EQ(1, chan_recv_t(fds[0], buf, sizeof(buf), f, 1, NULL))
			TH_LOG("recv flags %#llx", (unsigned long long)f);
		m.buf = ptr64(buf);
		m.len = 1;
		EXPECT_EQ(1, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, &m, 1, f,
					1, NULL));
		m.len = sizeof(buf);
		EXPECT_EQ(1, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, &m, 1, f,
					1, NULL));
	}
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, past_deadline_would_wait)
{
	static const __u64 flags[] = {
		IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME,
		IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | IPCCHAN_REALTIME,
	};
	char buf[8] = "w";
	unsigned int i;
	__u64 t0;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		__u64 f = flags[i];

		EXPECT_EQ(-ETIMEDOUT, chan_recv_t(fds[0], buf, sizeof(buf), f,
						  1, NULL))
			TH_LOG("recv flags %#llx", (unsigned long long)f);
	}
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		__u64 f = flags[i];

		EXPECT_EQ(-ETIMEDOUT, chan_send_t(fds[1], buf, 1, 0, f, 1))
			TH_LOG("send flags %#llx", (unsigned long long)f);
	}
	/* "At once": far below any real sleep. */
	EXPECT_GT(10000, elapsed_ms(t0));
	{
		struct ipcchan_stats st;

		ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
		EXPECT_EQ(1, st.queued_msgs);
		EXPECT_EQ(1, st.sent);
	}
	close(fds[0]);
	close(fds[1]);
}

/* ---- signals ------------------------------------------------------------- */

/*
 * Fork a helper that waits until someone sleeps on fd (which side: which),
 * then sends SIGUSR1 to the test process. With then_send, it afterwards
 * waits for the handler to have run and for the sleeper to be back asleep
 * (a restarted call), and sends one message "late" on send_fd.
 */
static pid_t signal_helper(int fd, enum chan_waiter which, int then_send,
			   int send_fd)
{
	pid_t parent = getpid(), pid = fork();

	if (pid)
		return pid;
	alarm(60);
	CHILD_CHECK(wait_waiters(fd, 0, which, 1, WAIT_MS) == 0, "no sleeper");
	kill(parent, SIGUSR1);
	if (!then_send)
		_exit(0);
	{
		__u64 end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;

		while (!__atomic_load_n(sig_counter, __ATOMIC_SEQ_CST)) {
			CHILD_CHECK(now_ns(CLOCK_MONOTONIC) < end,
				    "the handler never ran");
			sleep_ms(5);
		}
	}
	CHILD_CHECK(wait_waiters(fd, 0, which, 1, WAIT_MS) == 0,
		    "the call did not go back to sleep");
	CHILD_CHECK(chan_send_str(send_fd, "late", 0, IPCCHAN_NONBLOCK) == 0,
		    "send");
	_exit(0);
}

TEST_F_TIMEOUT(blk, signal_eintr_with_timeout, 60)
{
	struct ipcchan_stats st;
	char buf[8];
	pid_t pid;
	int fds[2], restart;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	/* With a timeout, -EINTR whether or not the handler has SA_RESTART. */
	for (restart = 0; restart < 2; restart++) {
		*self->signals = 0;
		set_handler(SIGUSR1, restart);
		pid = signal_helper(fds[0], WAITING_RECEIVERS, 0, -1);
		ASSERT_GE(pid, 0);
		EXPECT_EQ(-EINTR, chan_recv_t(fds[0], buf, sizeof(buf),
					      IPCCHAN_TIMEOUT,
					      30 * NSEC_PER_SEC, NULL))
			TH_LOG("SA_RESTART %d", restart);
		EXPECT_EQ(1, *self->signals);
		EXPECT_EQ(0, wait_child(pid));
	}
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.received);
	EXPECT_EQ(0, st.waiting_receivers);

	/* The sending side on a full queue. */
	ASSERT_EQ(0, chan_send_str(fds[1], "q", 0, IPCCHAN_NONBLOCK));
	*self->signals = 0;
	set_handler(SIGUSR1, 0);
	pid = signal_helper(fds[1], WAITING_SENDERS, 0, -1);
	ASSERT_GE(pid, 0);
	EXPECT_EQ(-EINTR, chan_send_t(fds[1], "s", 1, 0, IPCCHAN_TIMEOUT,
				      30 * NSEC_PER_SEC));
	EXPECT_EQ(1, *self->signals);
	EXPECT_EQ(0, wait_child(pid));
	/* Nothing sent or received by the interrupted calls. */
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(1, st.sent);
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(0, st.waiting_senders);
	EXPECT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('q', buf[0]);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, signal_eintr_without_restart, 60)
{
	struct ipcchan_stats st;
	char buf[8];
	pid_t pid;
	int fds[2];

	/* No timeout and no SA_RESTART: -EINTR. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	*self->signals = 0;
	set_handler(SIGUSR1, 0);
	pid = signal_helper(fds[0], WAITING_RECEIVERS, 0, -1);
	ASSERT_GE(pid, 0);
	alarm(40);
	EXPECT_EQ(-EINTR, chan_recv(fds[0], buf, sizeof(buf), 0, NULL));
	alarm(0);
	EXPECT_EQ(1, *self->signals);
	EXPECT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(0, st.received);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, signal_restart_without_timeout, 60)
{
	struct ipcchan_recv r;
	char buf[8] = { 0 };
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	*self->signals = 0;
	set_handler(SIGUSR1, 1);
	pid = signal_helper(fds[0], WAITING_RECEIVERS, 1, fds[1]);
	ASSERT_GE(pid, 0);
	alarm(40);
	/* Interrupted, handled, restarted, then completed by the late send. */
	EXPECT_EQ(4, chan_recv(fds[0], buf, sizeof(buf), 0, &r));
	alarm(0);
	EXPECT_EQ(0, memcmp(buf, "late", 4));
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(1, *self->signals);
	EXPECT_EQ(0, wait_child(pid));

	/* The same for a sender on a full queue. */
	ASSERT_EQ(0, chan_send_str(fds[1], "0", 0, IPCCHAN_NONBLOCK));
	*self->signals = 0;
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		pid_t parent = getppid();
		__u64 end;

		alarm(60);
		CHILD_CHECK(wait_waiters(fds[1], 0, WAITING_SENDERS, 1,
					 WAIT_MS) == 0, "no sleeper");
		kill(parent, SIGUSR1);
		end = now_ns(CLOCK_MONOTONIC) + WAIT_MS * NSEC_PER_MSEC;
		while (!__atomic_load_n(sig_counter, __ATOMIC_SEQ_CST)) {
			CHILD_CHECK(now_ns(CLOCK_MONOTONIC) < end, "no handler");
			sleep_ms(5);
		}
		CHILD_CHECK(wait_waiters(fds[1], 0, WAITING_SENDERS, 1,
					 WAIT_MS) == 0, "not restarted");
		CHILD_CHECK(chan_recv(fds[0], buf, sizeof(buf),
				      IPCCHAN_NONBLOCK, NULL) == 1, "recv");
		_exit(0);
	}
	alarm(40);
	EXPECT_EQ(0, chan_send_str(fds[1], "1", 0, 0));
	alarm(0);
	EXPECT_EQ(1, *self->signals);
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('1', buf[0]);
	close(fds[0]);
	close(fds[1]);
}

/* ---- hangup ---------------------------------------------------------------- */

TEST_F(blk, hangup_drain_then_end)
{
	struct ipcchan_msghdr m = { 0 };
	struct ipcchan_recv r;
	struct pollfd pfd;
	char buf[8];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "one", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fds[1], "two", 0, IPCCHAN_NONBLOCK));
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents & POLLHUP);
	close(fds[1]);

	/* Hung up: readable and HUP while messages are left. */
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLHUP, pfd.revents & (POLLIN | POLLHUP));
	alarm(20);
	EXPECT_EQ(3, chan_recv(fds[0], buf, sizeof(buf), 0, &r));
	EXPECT_EQ(1, r.seq);
	/* A zero-length message is not the end: seq is not 0. */
	EXPECT_EQ(0, chan_recv(fds[0], buf, sizeof(buf), 0, &r));
	EXPECT_EQ(2, r.seq);
	EXPECT_EQ(3, chan_recv(fds[0], buf, sizeof(buf), 0, &r));
	EXPECT_EQ(3, r.seq);
	/* Then end of channel, as often as asked, blocking or not. */
	EXPECT_EQ(0, chan_recv(fds[0], buf, sizeof(buf), 0, &r));
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(0, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(0, chan_recv_t(fds[0], buf, sizeof(buf), IPCCHAN_TIMEOUT,
				 30 * NSEC_PER_SEC, &r));
	EXPECT_EQ(0, r.seq);
	m.buf = ptr64(buf);
	m.len = sizeof(buf);
	EXPECT_EQ(0, chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH, &m, 1, 0, 0,
				NULL));
	alarm(0);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents & (POLLIN | POLLHUP));
	close(fds[0]);
}

TEST_F_TIMEOUT(blk, hangup_wakes_blocked_receiver, 60)
{
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_recv r;
		char buf[8];

		alarm(30);
		close(fds[1]);
		CHILD_CHECK(chan_recv(fds[0], buf, sizeof(buf), 0, &r) == 0,
			    "end of channel");
		CHILD_CHECK(r.seq == 0 && r.len == 0, "seq %llu len %llu",
			    (unsigned long long)r.seq, (unsigned long long)r.len);
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[0], 0, WAITING_RECEIVERS, 1, WAIT_MS));
	close(fds[1]);
	EXPECT_EQ(0, wait_child(pid));
	close(fds[0]);
}

TEST_F_TIMEOUT(blk, hangup_wakes_all_receivers, 90)
{
	enum { N = 4 };
	pid_t pids[N];
	int fds[2], i;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	for (i = 0; i < N; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			char buf[8];
			long n;

			alarm(60);
			close(fds[1]);
			if (i % 2) {
				struct ipcchan_msghdr m = {
					.buf = ptr64(buf), .len = sizeof(buf) };

				n = chan_batch(fds[0], IPCCHAN_IOC_RECV_BATCH,
					       &m, 1, 0, 0, NULL);
			} else if (i == 2) {
				n = chan_recv_t(fds[0], buf, sizeof(buf),
						IPCCHAN_TIMEOUT,
						50 * NSEC_PER_SEC, NULL);
			} else {
				n = chan_recv(fds[0], buf, sizeof(buf), 0, NULL);
			}
			CHILD_CHECK(n == 0, "receiver %d got %ld", i, n);
			_exit(0);
		}
	}
	EXPECT_EQ(0, wait_waiters(fds[0], 0, WAITING_RECEIVERS, N, WAIT_MS))
		TH_LOG("not all %d receivers were asleep", N);
	/* The last sender goes: every sleeper wakes with end of channel. */
	close(fds[1]);
	for (i = 0; i < N; i++) {
		EXPECT_EQ(0, wait_child(pids[i])) TH_LOG("receiver %d", i);
	}
	close(fds[0]);
}

TEST_F(blk, epipe_at_once)
{
	char buf[8] = "e";
	__u64 t0;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	close(fds[0]);
	/* Full, blocking, with a timeout: -EPIPE at once all the same. */
	t0 = now_ns(CLOCK_MONOTONIC);
	alarm(20);
	EXPECT_EQ(-EPIPE, chan_send(fds[1], buf, 1, 0, 0));
	EXPECT_EQ(-EPIPE, chan_send_t(fds[1], buf, 1, 0, IPCCHAN_TIMEOUT,
				      30 * NSEC_PER_SEC));
	EXPECT_EQ(-EPIPE, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	alarm(0);
	EXPECT_GT(10000, elapsed_ms(t0));
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, epipe_wakes_blocked_senders, 60)
{
	enum { N = 2 };
	pid_t pids[N];
	int fds[2], i;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ASSERT_EQ(0, chan_send_str(fds[1], "full", 0, IPCCHAN_NONBLOCK));
	for (i = 0; i < N; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			int r;

			alarm(30);
			close(fds[0]);
			r = i ? chan_send_t(fds[1], "x", 1, 0, IPCCHAN_TIMEOUT,
					    50 * NSEC_PER_SEC) :
				chan_send_str(fds[1], "x", 0, 0);
			CHILD_CHECK(r == -EPIPE, "sender %d got %d", i, r);
			_exit(0);
		}
	}
	EXPECT_EQ(0, wait_waiters(fds[1], 0, WAITING_SENDERS, N, WAIT_MS));
	close(fds[0]);
	for (i = 0; i < N; i++) {
		EXPECT_EQ(0, wait_child(pids[i])) TH_LOG("sender %d", i);
	}
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, duplex_close_wakes_peer, 60)
{
	pid_t pid;
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char buf[8];

		alarm(30);
		close(fds[0]);
		CHILD_CHECK(chan_recv(fds[1], buf, sizeof(buf), 0, NULL) == 0,
			    "end of channel");
		CHILD_CHECK(chan_send_str(fds[1], "x", 0, 0) == -EPIPE, "EPIPE");
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(fds[1], 0, WAITING_RECEIVERS, 1, WAIT_MS));
	close(fds[0]);
	EXPECT_EQ(0, wait_child(pid));
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, unlink_hangs_up_named, 60)
{
	const char *name = self->name;
	pid_t pid;
	int rx, tx;

	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_NAMED);
	rx = chan_open(self->ctl, name, IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_RECV,
		       0600);
	ASSERT_GE(rx, 0);
	/*
	 * A receiver sleeps on a linked channel with no sender. Unlinking
	 * makes it a channel that can gain no sender and has none: hung up,
	 * so the sleeper gets end of channel.
	 */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char buf[8];

		alarm(30);
		CHILD_CHECK(chan_recv(rx, buf, sizeof(buf), 0, NULL) == 0,
			    "end of channel");
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(rx, 0, WAITING_RECEIVERS, 1, WAIT_MS));
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ(0, wait_child(pid));
	close(rx);

	/* Likewise a sender on a full linked channel with no receiver. */
	tx = chan_open_attr(self->ctl, name, IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_SEND, 0600, 0, 1, 0, NULL);
	ASSERT_GE(tx, 0);
	ASSERT_EQ(0, chan_send_str(tx, "f", 0, IPCCHAN_NONBLOCK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		CHILD_CHECK(chan_send_str(tx, "g", 0, 0) == -EPIPE, "EPIPE");
		_exit(0);
	}
	EXPECT_EQ(0, wait_waiters(tx, 0, WAITING_SENDERS, 1, WAIT_MS));
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ(0, wait_child(pid));
	close(tx);
}

/* ---- poll, select, epoll ------------------------------------------------- */

static short revents(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

TEST_F(blk, poll_bits)
{
	char buf[16] = { 0 };
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 2, 0, fds));
	/* Empty: the receiver is not readable, the sender is writable. */
	EXPECT_EQ(0, revents(fds[0], POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, revents(fds[1], POLLIN | POLLOUT));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	/* A receive endpoint never has POLLOUT, a send endpoint never POLLIN. */
	EXPECT_EQ(POLLIN, revents(fds[0], POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, revents(fds[1], POLLIN | POLLOUT));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	/* Full. */
	EXPECT_EQ(POLLIN, revents(fds[0], POLLIN | POLLOUT));
	EXPECT_EQ(0, revents(fds[1], POLLIN | POLLOUT));
	ASSERT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(POLLOUT, revents(fds[1], POLLOUT));
	ASSERT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, revents(fds[0], POLLIN));
	close(fds[0]);
	close(fds[1]);

	/* Byte capacity: POLLOUT while fewer than queue_bytes are queued. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 10, 8, 10, fds));
	ASSERT_EQ(0, chan_send(fds[1], buf, 9, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(POLLOUT, revents(fds[1], POLLOUT));
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, revents(fds[1], POLLOUT));
	/* A receiver gone: the sender gets POLLERR. */
	close(fds[0]);
	EXPECT_EQ(POLLERR, revents(fds[1], POLLOUT) & POLLERR);
	close(fds[1]);
}

TEST_F(blk, poll_duplex_and_select)
{
	struct timeval tv = { 0, 0 };
	fd_set rd, wr;
	char buf[4] = "d";
	int fds[2], nfds;

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 1, 0, fds));
	EXPECT_EQ(POLLOUT, revents(fds[0], POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, revents(fds[1], POLLIN | POLLOUT));
	/* a -> b fills b's receive queue: a not writable, b readable. */
	ASSERT_EQ(0, chan_send(fds[0], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(0, revents(fds[0], POLLIN | POLLOUT));
	EXPECT_EQ(POLLIN | POLLOUT, revents(fds[1], POLLIN | POLLOUT));

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fds[0], &rd);
	FD_SET(fds[1], &rd);
	FD_SET(fds[0], &wr);
	FD_SET(fds[1], &wr);
	nfds = (fds[0] > fds[1] ? fds[0] : fds[1]) + 1;
	EXPECT_EQ(2, select(nfds, &rd, &wr, NULL, &tv));
	EXPECT_FALSE(FD_ISSET(fds[0], &rd));
	EXPECT_TRUE(FD_ISSET(fds[1], &rd));
	EXPECT_FALSE(FD_ISSET(fds[0], &wr));
	EXPECT_TRUE(FD_ISSET(fds[1], &wr));
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, poll_wakes, 60)
{
	struct pollfd p;
	__u64 t0;
	pid_t pid;
	int fds[2], r;

	/* A poller for POLLIN wakes on a send. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		sleep_ms(200);
		CHILD_CHECK(chan_send_str(fds[1], "w", 0, 0) == 0, "send");
		_exit(0);
	}
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	t0 = now_ns(CLOCK_MONOTONIC);
	r = poll(&p, 1, 20000);
	EXPECT_EQ(1, r);
	EXPECT_EQ(POLLIN, p.revents);
	EXPECT_GT(15000, elapsed_ms(t0));
	EXPECT_EQ(0, wait_child(pid));

	/* A poller for POLLOUT on a full queue wakes on a receive. */
	ASSERT_EQ(0, chan_stats(fds[0], 0, &(struct ipcchan_stats){ 0 }));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		alarm(30);
		sleep_ms(200);
		CHILD_CHECK(chan_recv(fds[0], &c, 1, 0, NULL) == 1, "recv");
		_exit(0);
	}
	/* The queue (one message) is full with the first part's message. */
	EXPECT_EQ(0, revents(fds[1], POLLOUT));
	p = (struct pollfd){ .fd = fds[1], .events = POLLOUT };
	t0 = now_ns(CLOCK_MONOTONIC);
	r = poll(&p, 1, 20000);
	EXPECT_EQ(1, r);
	EXPECT_EQ(POLLOUT, p.revents);
	EXPECT_GT(15000, elapsed_ms(t0));
	EXPECT_EQ(0, wait_child(pid));

	/* A poller wakes with POLLHUP when the last sender goes. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		close(fds[0]);
		sleep_ms(200);
		_exit(0);	/* closes the last send endpoint */
	}
	close(fds[1]);
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	t0 = now_ns(CLOCK_MONOTONIC);
	r = poll(&p, 1, 20000);
	EXPECT_EQ(1, r);
	EXPECT_EQ(POLLHUP, p.revents & POLLHUP);
	EXPECT_GT(15000, elapsed_ms(t0));
	EXPECT_EQ(0, wait_child(pid));
	close(fds[0]);
}

TEST_F(blk, epoll_level)
{
	struct epoll_event ev, evs[4];
	char buf[4] = "l";
	int fds[2], ep;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 1, 0, fds));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 0 };
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev));
	ev = (struct epoll_event){ .events = EPOLLOUT, .data.u32 = 1 };
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fds[1], &ev));

	ASSERT_EQ(1, epoll_wait(ep, evs, 4, 0));
	EXPECT_EQ(1, evs[0].data.u32);
	EXPECT_EQ(EPOLLOUT, evs[0].events);
	ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	/* Full and non-empty. */
	ASSERT_EQ(1, epoll_wait(ep, evs, 4, 0));
	EXPECT_EQ(0, evs[0].data.u32);
	EXPECT_EQ(EPOLLIN, evs[0].events);
	ASSERT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	ASSERT_EQ(1, epoll_wait(ep, evs, 4, 0));
	EXPECT_EQ(1, evs[0].data.u32);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(blk, epoll_edge_per_message)
{
	struct epoll_event ev, evs[4];
	char buf[4] = "e";
	int fds[2], ep, i;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 16, 0, fds));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET };
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev));
	EXPECT_EQ(0, epoll_wait(ep, evs, 4, 0));
	/* Each message is an edge, also onto a non-empty queue. */
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, chan_send(fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
		EXPECT_EQ(1, epoll_wait(ep, evs, 4, 0)) TH_LOG("message %d", i);
		EXPECT_EQ(EPOLLIN, evs[0].events & EPOLLIN);
		EXPECT_EQ(0, epoll_wait(ep, evs, 4, 0)) TH_LOG("message %d", i);
	}
	/* A batch is messages too. */
	{
		struct ipcchan_msghdr m[2] = {
			{ .buf = ptr64(buf), .len = 1 },
			{ .buf = ptr64(buf), .len = 1 },
		};

		ASSERT_EQ(2, chan_batch(fds[1], IPCCHAN_IOC_SEND_BATCH, m, 2,
					IPCCHAN_NONBLOCK, 0, NULL));
		EXPECT_EQ(1, epoll_wait(ep, evs, 4, 0));
	}
	/* Receiving does not make an EPOLLIN edge. */
	ASSERT_EQ(1, chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, epoll_wait(ep, evs, 4, 0));
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(blk, epoll_wait_wakes_and_hup, 60)
{
	struct epoll_event ev, evs[4];
	int fds[2], ep, go[2];
	pid_t pid;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	ASSERT_EQ(0, pipe(go));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET };
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		alarm(30);
		close(fds[0]);
		close(go[1]);
		sleep_ms(200);
		CHILD_CHECK(chan_send_str(fds[1], "a", 0, 0) == 0, "send");
		CHILD_CHECK(read(go[0], &c, 1) == 1, "go");
		sleep_ms(200);
		_exit(0);	/* the last sender goes */
	}
	close(fds[1]);
	close(go[0]);
	/* A sleeping epoll_wait wakes for the message... */
	ASSERT_EQ(1, epoll_wait(ep, evs, 4, 20000));
	EXPECT_EQ(EPOLLIN, evs[0].events & (EPOLLIN | EPOLLHUP));
	ASSERT_EQ(1, write(go[1], "g", 1));
	/* ...and again for the hangup, an event of its own. */
	ASSERT_EQ(1, epoll_wait(ep, evs, 4, 20000));
	EXPECT_EQ(EPOLLHUP, evs[0].events & EPOLLHUP);
	EXPECT_EQ(0, wait_child(pid));
	close(go[1]);
	close(ep);
	close(fds[0]);
}

/* ---- many producers and consumers ---------------------------------------- */

#define PRODUCERS	4
#define CONSUMERS	3
#define TOTAL_MSGS	20000
#define PER_PRODUCER	(TOTAL_MSGS / PRODUCERS)

struct pc_msg {
	__u32 producer;
	__u32 seq;
};

struct pc_shared {
	unsigned int seen[PRODUCERS][PER_PRODUCER];
	unsigned int order_errors;
	unsigned int bad_msgs;
	unsigned int got[CONSUMERS];
};

static void producer(int fd, unsigned int id)
{
	struct ipcchan_msghdr m[16];
	struct pc_msg msgs[16];
	unsigned int seq = 0, i, n;
	long r;

	while (seq < PER_PRODUCER) {
		if (id < 2) {
			msgs[0] = (struct pc_msg){ id, seq };
			r = chan_send(fd, &msgs[0], sizeof(msgs[0]), 0, 0);
			CHILD_CHECK(r == 0, "producer %u send: %ld", id, r);
			seq++;
			continue;
		}
		/* Producers 2 and 3 send in batches. */
		n = PER_PRODUCER - seq < 16 ? PER_PRODUCER - seq : 16;
		for (i = 0; i < n; i++) {
			msgs[i] = (struct pc_msg){ id, seq + i };
			m[i] = (struct ipcchan_msghdr){
				.buf = ptr64(&msgs[i]), .len = sizeof(msgs[i]) };
		}
		r = chan_batch(fd, IPCCHAN_IOC_SEND_BATCH, m, n, 0, 0, NULL);
		CHILD_CHECK(r >= 1 && r <= (long)n, "producer %u batch: %ld",
			    id, r);
		seq += r;
	}
	_exit(0);
}

static void record(struct pc_shared *sh, unsigned int cid, long last[],
		   const struct pc_msg *msg, __u64 len)
{
	if (len != sizeof(*msg) || msg->producer >= PRODUCERS ||
	    msg->seq >= PER_PRODUCER) {
		__atomic_fetch_add(&sh->bad_msgs, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if ((long)msg->seq <= last[msg->producer])
		__atomic_fetch_add(&sh->order_errors, 1, __ATOMIC_SEQ_CST);
	last[msg->producer] = msg->seq;
	__atomic_fetch_add(&sh->seen[msg->producer][msg->seq], 1,
			   __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&sh->got[cid], 1, __ATOMIC_SEQ_CST);
}

static void consumer(int fd, unsigned int id, struct pc_shared *sh)
{
	long last[PRODUCERS], r;
	struct ipcchan_msghdr m[8];
	struct pc_msg msgs[8];
	struct ipcchan_recv rv;
	unsigned int i;

	for (i = 0; i < PRODUCERS; i++)
		last[i] = -1;
	for (;;) {
		if (id == CONSUMERS - 1) {
			/* The last consumer receives in batches. */
			for (i = 0; i < 8; i++)
				m[i] = (struct ipcchan_msghdr){
					.buf = ptr64(&msgs[i]),
					.len = sizeof(msgs[i]) };
			r = chan_batch(fd, IPCCHAN_IOC_RECV_BATCH, m, 8, 0, 0,
				       NULL);
			CHILD_CHECK(r >= 0, "consumer %u batch: %ld", id, r);
			if (r == 0)
				break;	/* end of channel */
			for (i = 0; i < r; i++)
				record(sh, id, last, &msgs[i], m[i].len);
			continue;
		}
		r = chan_recv(fd, &msgs[0], sizeof(msgs[0]), 0, &rv);
		CHILD_CHECK(r >= 0, "consumer %u recv: %ld", id, r);
		if (r == 0 && rv.seq == 0)
			break;		/* end of channel */
		record(sh, id, last, &msgs[0], rv.len);
	}
	_exit(0);
}

TEST_F_TIMEOUT(blk, producers_consumers, 280)
{
	pid_t prod[PRODUCERS], cons[CONSUMERS];
	struct ipcchan_stats st;
	struct pc_shared *sh;
	unsigned int p, s, missing = 0, dup = 0, total = 0;
	int fds[2], i;
	__u64 t0;

	sh = shared_alloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	memset(sh, 0, sizeof(*sh));
	ASSERT_EQ(0, chan_create(self->ctl, 0, sizeof(struct pc_msg), 64, 0,
				 fds));
	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < CONSUMERS; i++) {
		cons[i] = fork();
		ASSERT_GE(cons[i], 0);
		if (cons[i] == 0) {
			alarm(250);
			close(fds[1]);
			consumer(fds[0], i, sh);
		}
	}
	for (i = 0; i < PRODUCERS; i++) {
		prod[i] = fork();
		ASSERT_GE(prod[i], 0);
		if (prod[i] == 0) {
			alarm(250);
			close(fds[0]);
			producer(fds[1], i);
		}
	}
	/* Our send endpoint goes: the producers' exits end the channel. */
	close(fds[1]);
	for (i = 0; i < PRODUCERS; i++) {
		EXPECT_EQ(0, wait_child(prod[i])) TH_LOG("producer %d", i);
	}
	for (i = 0; i < CONSUMERS; i++) {
		EXPECT_EQ(0, wait_child(cons[i])) TH_LOG("consumer %d", i);
	}

	for (p = 0; p < PRODUCERS; p++)
		for (s = 0; s < PER_PRODUCER; s++) {
			if (sh->seen[p][s] == 0)
				missing++;
			else if (sh->seen[p][s] > 1)
				dup++;
		}
	for (i = 0; i < CONSUMERS; i++)
		total += sh->got[i];
	TH_LOG("%u messages in %llu ms; consumers got %u, %u, %u",
	       total, (unsigned long long)elapsed_ms(t0), sh->got[0], sh->got[1],
	       sh->got[2]);
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, sh->bad_msgs);
	EXPECT_EQ(0, sh->order_errors);
	EXPECT_EQ(TOTAL_MSGS, total);
	ASSERT_EQ(0, chan_stats(fds[0], 0, &st));
	EXPECT_EQ(TOTAL_MSGS, st.sent);
	EXPECT_EQ(TOTAL_MSGS, st.received);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(0, st.senders);
	EXPECT_GE(64, st.peak_msgs);
	close(fds[0]);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
