// SPDX-License-Identifier: GPL-2.0
/*
 * Signal notification, the channel listing and dropped messages:
 *
 * - IPCCHAN_IOC_NOTIFY: when it fires (a message on an empty queue, no
 *   receiver asleep) and when not, the siginfo it carries (SI_MESGQ, the
 *   value, the sender's pid and uid), persistent and ONESHOT
 *   registrations, EXCLUSIVE against other processes, replacement by the
 *   same process, REMOVE, removal when the registering process closes the
 *   file it registered through, the registering thread as the target, no
 *   signal after the registrant exec'ed, and every bad input;
 * - fasync (F_SETOWN, O_ASYNC, F_SETSIG): a signal for every queued
 *   message;
 * - /proc/ipcchan: its header, a channel's line and counters, unlink, IPC
 *   namespace scoping, ids in the reader's user namespace, a listing
 *   longer than a page, one line per channel whatever the name;
 * - ipcchan_stats.dropped: a channel that can never gain a receiver drops
 *   its queue at once and returns the charges.
 *
 * Signals are blocked and taken with sigtimedwait() with a bounded wait;
 * "no signal" is a wait of NO_SIG_MS that must time out, always followed
 * by a control showing that the registration would still fire.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

/* How long a signal that must come may take, and how long one that must not. */
#define SIG_WAIT_MS	3000
#define NO_SIG_MS	300

#define NOTIFY_KNOWN	(IPCCHAN_NOTIFY_REMOVE | IPCCHAN_NOTIFY_EXCLUSIVE | \
			 IPCCHAN_NOTIFY_ONESHOT)

#define PROC_PATH	"/proc/ipcchan"
#define PROC_HEADER	"name mode uid gid msg_size_max queue_msgs queue_bytes queued_msgs queued_bytes sent received senders receivers"

/* An unprivileged uid for a sender whose si_uid must differ from ours. */
#define OTHER_UID	65534

/* The signals the tests use; blocked in the fixture (and so in children). */
static int rt_sig(void)
{
	return SIGRTMIN + 1;
}

static void block_test_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, rt_sig());
	sigaddset(&set, SIGRTMAX);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/*
 * Take signal sig if it is pending or arrives within ms. Returns sig (and
 * fills *si), or -EAGAIN when none came.
 */
static int wait_sig(int sig, unsigned int ms, siginfo_t *si)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	siginfo_t dummy;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(si ? si : &dummy, 0, sizeof(dummy));
	do {
		r = sigtimedwait(&set, si ? si : &dummy, &ts);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int sig_pending(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigpending(&set))
		return -errno;
	return sigismember(&set, sig);
}

static int send_str(int fd, const char *s)
{
	return chan_send_str(fd, s, 0, IPCCHAN_NONBLOCK);
}

/* Receive one message without blocking; returns its length or -errno. */
static long recv_one(int fd, char *buf, size_t len)
{
	memset(buf, 0, len);
	return chan_recv(fd, buf, len - 1, IPCCHAN_NONBLOCK, NULL);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int notify_raw(int fd, struct ipcchan_notify *n)
{
	return chan_ioctl(fd, IPCCHAN_IOC_NOTIFY, n);
}

/*
 * A child process that registers on fd and stays alive (holding its
 * registration) until holder_stop(). holder_start() returns the child's
 * NOTIFY result.
 */
struct holder {
	pid_t pid;
	int go;
};

static int holder_start(struct holder *h, int fd, __u64 flags, int signo)
{
	int ready[2], go[2], res = -EIO;

	h->pid = -1;
	h->go = -1;
	if (pipe(ready) || pipe(go))
		return -EIO;
	h->pid = fork();
	if (h->pid < 0)
		return -EIO;
	if (h->pid == 0) {
		char c;

		alarm(20);
		close(ready[0]);
		close(go[1]);
		res = chan_notify(fd, flags, signo, 0);
		CHILD_CHECK(write(ready[1], &res, sizeof(res)) == sizeof(res),
			    "write");
		CHILD_CHECK(read(go[0], &c, 1) == 1, "read go");
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &res, sizeof(res)) != sizeof(res))
		res = -EIO;
	close(ready[0]);
	h->go = go[1];
	return res;
}

/* Let the holder exit; returns its exit status (0 when all went well). */
static int holder_stop(struct holder *h)
{
	int r;

	if (h->pid <= 0)
		return -ECHILD;
	r = write(h->go, "x", 1) == 1 ? 0 : -EIO;
	close(h->go);
	h->go = -1;
	if (!r)
		r = wait_child(h->pid);
	else
		wait_child(h->pid);
	h->pid = -1;
	return r;
}

/*
 * notify.no_signal_after_exec re-executes this program; the new image is
 * this helper (run before main(), so before the harness). Its environment
 * names the receive endpoint and two pipes; see the test for the steps.
 */
#define EXEC_ENV	"IPCCHAN_NOTIFY_EXEC"

static int exec_helper_step(int ready, int go)
{
	char c = 'r';

	if (write(ready, &c, 1) != 1)
		return -1;
	return read(go, &c, 1) == 1 ? 0 : -1;
}

__attribute__((constructor)) static void exec_helper(void)
{
	const char *env = getenv(EXEC_ENV);
	int rx, ready, go, r;
	siginfo_t si;

	if (!env)
		return;
	if (sscanf(env, "%d,%d,%d", &rx, &ready, &go) != 3)
		_exit(10);
	/* The registration made before exec must not fire now. */
	if (exec_helper_step(ready, go))
		_exit(11);
	r = wait_sig(SIGUSR1, NO_SIG_MS, &si);
	if (r != -EAGAIN) {
		fprintf(stderr, "# exec helper: signal %d after exec (si_code %d)\n",
			r, si.si_code);
		_exit(12);
	}
	/* A registration made by the new program does. */
	r = chan_notify(rx, 0, SIGUSR1, 8);
	if (r) {
		fprintf(stderr, "# exec helper: notify %d\n", r);
		_exit(13);
	}
	if (exec_helper_step(ready, go))
		_exit(14);
	r = wait_sig(SIGUSR1, SIG_WAIT_MS, &si);
	if (r != SIGUSR1 || si.si_value.sival_ptr != (void *)8) {
		fprintf(stderr, "# exec helper: got %d value %p\n", r,
			si.si_value.sival_ptr);
		_exit(15);
	}
	_exit(0);
}

/* --- /proc/ipcchan --------------------------------------------------------- */

/* Read the whole listing into buf (NUL-terminated); length or -errno. */
static long proc_read(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(PROC_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/* Count the lines of the listing (the header included), or -errno. */
static int proc_lines(void)
{
	static char buf[65536];
	long len = proc_read(buf, sizeof(buf));
	int lines = 0;
	long i;

	if (len < 0)
		return len;
	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			lines++;
	return lines;
}

struct proc_line {
	char name[IPCCHAN_NAME_MAX + 1];
	char mode[16];
	unsigned int uid, gid;
	unsigned long long msg_size_max, queue_msgs, queue_bytes;
	unsigned long long queued_msgs, queued_bytes, sent, received;
	unsigned int senders, receivers;
	int fields;	/* whitespace-separated fields on the line */
};

static int count_fields(const char *line)
{
	int n = 0, in = 0;

	for (; *line && *line != '\n'; line++) {
		if (*line == ' ' || *line == '\t') {
			in = 0;
		} else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/*
 * Find the line of channel name (a name without whitespace) in the
 * listing. Returns 1 and fills *pl, 0 if absent, -errno, or -EPROTO for a
 * line that does not parse. With header, the header line is copied there.
 */
static int proc_find(const char *name, struct proc_line *pl, char *header,
		     size_t hsize)
{
	static char buf[65536];
	size_t nlen = strlen(name);
	char *line, *next;
	long len;

	len = proc_read(buf, sizeof(buf));
	if (len < 0)
		return len;
	next = strchr(buf, '\n');
	if (header) {
		size_t h = next ? (size_t)(next - buf) : strlen(buf);

		if (h >= hsize)
			h = hsize - 1;
		memcpy(header, buf, h);
		header[h] = '\0';
	}
	for (line = next ? next + 1 : buf + len; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (strncmp(line, name, nlen) || line[nlen] != ' ')
			continue;
		memset(pl, 0, sizeof(*pl));
		pl->fields = count_fields(line);
		if (sscanf(line, "%255s %15s %u %u %llu %llu %llu %llu %llu %llu %llu %u %u",
			   pl->name, pl->mode, &pl->uid, &pl->gid,
			   &pl->msg_size_max, &pl->queue_msgs, &pl->queue_bytes,
			   &pl->queued_msgs, &pl->queued_bytes, &pl->sent,
			   &pl->received, &pl->senders, &pl->receivers) != 13)
			return -EPROTO;
		return 1;
	}
	return 0;
}

/* --- the fixture ------------------------------------------------------------ */

#define MAX_NAMES	4

FIXTURE(notify) {
	int ctl;
	int fds[2];	/* an anonymous channel: fds[0] receives, fds[1] sends */
	struct ipcchan_query q;
	char names[MAX_NAMES][64];
	int nnames;
};

FIXTURE_SETUP(notify)
{
	self->fds[0] = self->fds[1] = -1;
	self->nnames = 0;
	alarm(25);	/* below the harness's 30 s: a hang dies of SIGALRM */
	block_test_signals();
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0) TH_LOG("open %s: %s", IPCCHAN_DEVICE_PATH,
				       strerror(-self->ctl));
	ASSERT_EQ(0, chan_query(self->ctl, &self->q));
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_NOTIFY)
		TH_LOG("the module does not report IPCCHAN_FEAT_NOTIFY");
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_NAMED)
		TH_LOG("the module does not report IPCCHAN_FEAT_NAMED");
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, self->fds));
}

FIXTURE_TEARDOWN(notify)
{
	int i;

	close_fd(&self->fds[0]);
	close_fd(&self->fds[1]);
	for (i = 0; i < self->nnames; i++)
		chan_unlink(self->ctl, self->names[i]);
	close(self->ctl);
}

/* A name unique to this process, unlinked by the teardown. */
static const char *uniq_name(FIXTURE_DATA(notify) *self, const char *tag)
{
	char *n = self->names[self->nnames < MAX_NAMES - 1 ? self->nnames++ :
			      MAX_NAMES - 1];

	snprintf(n, sizeof(self->names[0]), "ipcchan_notify.%d.%s",
		 (int)getpid(), tag);
	return n;
}

/* ---- when the signal comes, and what it carries ----------------------------- */

TEST_F(notify, signal_on_empty_queue)
{
	const __u64 value = 0x1234567890abcdefULL;
	uid_t sender_uid;
	char buf[32];
	siginfo_t si;
	pid_t pid;

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, value));
	/* Registering signals nothing by itself. */
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));

	/* A child sends, as another uid when we may switch: si_* are its own. */
	sender_uid = geteuid() == 0 ? OTHER_UID : getuid();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20);
		if (geteuid() == 0)
			CHILD_CHECK(!setresgid(OTHER_UID, OTHER_UID, OTHER_UID) &&
				    !setresuid(OTHER_UID, OTHER_UID, OTHER_UID),
				    "setresuid: %s", strerror(errno));
		CHILD_CHECK(send_str(self->fds[1], "hello") == 0, "send");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));

	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ(SIGUSR1, si.si_signo);
	EXPECT_EQ(SI_MESGQ, si.si_code);
	EXPECT_EQ((void *)(uintptr_t)value, si.si_value.sival_ptr);
	EXPECT_EQ(pid, si.si_pid);
	EXPECT_EQ(sender_uid, si.si_uid);
	/* One message, one signal. */
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	/* The message is queued for a receiver as usual. */
	EXPECT_EQ(5, recv_one(self->fds[0], buf, sizeof(buf)));
	EXPECT_STREQ("hello", buf);

	/* Sent by ourselves: si_pid and si_uid are ours. */
	ASSERT_EQ(0, send_str(self->fds[1], "again"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ(SI_MESGQ, si.si_code);
	EXPECT_EQ(getpid(), si.si_pid);
	EXPECT_EQ(getuid(), si.si_uid);
	EXPECT_EQ((void *)(uintptr_t)value, si.si_value.sival_ptr);
	/* A persistent registration is still there. */
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

TEST_F(notify, value_and_signal_edges)
{
	siginfo_t si;
	char buf[8];

	/* The highest signal number and a zero value. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGRTMAX, 0));
	ASSERT_EQ(0, send_str(self->fds[1], "a"));
	ASSERT_EQ(SIGRTMAX, wait_sig(SIGRTMAX, SIG_WAIT_MS, &si));
	EXPECT_EQ(SI_MESGQ, si.si_code);
	EXPECT_EQ(NULL, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));

	/* An empty message is a message. */
	ASSERT_EQ(0, chan_send(self->fds[1], "", 0, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(SIGRTMAX, wait_sig(SIGRTMAX, SIG_WAIT_MS, &si));
	ASSERT_EQ(0, recv_one(self->fds[0], buf, sizeof(buf)));

	/* All ones. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR2, ~0ULL));
	ASSERT_EQ(0, send_str(self->fds[1], "b"));
	ASSERT_EQ(SIGUSR2, wait_sig(SIGUSR2, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)~0ULL, si.si_value.sival_ptr);
	EXPECT_EQ(-EAGAIN, wait_sig(SIGRTMAX, NO_SIG_MS, &si));
}

TEST_F(notify, no_signal_when_queue_not_empty)
{
	siginfo_t si;
	char buf[8];

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 1));
	ASSERT_EQ(0, send_str(self->fds[1], "1"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	/* The queue holds one: a second message signals nobody. */
	ASSERT_EQ(0, send_str(self->fds[1], "2"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	ASSERT_EQ(0, send_str(self->fds[1], "3"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));

	/* Registering while messages are queued: still nothing. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR2, 2));
	ASSERT_EQ(0, send_str(self->fds[1], "4"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR2, NO_SIG_MS, &si));

	/* Drain; the next message lands in an empty queue and fires. */
	while (recv_one(self->fds[0], buf, sizeof(buf)) > 0)
		;
	ASSERT_EQ(0, send_str(self->fds[1], "5"));
	ASSERT_EQ(SIGUSR2, wait_sig(SIGUSR2, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)2, si.si_value.sival_ptr);
}

TEST_F(notify, no_signal_when_receiver_sleeps)
{
	siginfo_t si;
	char buf[8];
	pid_t pid;

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 7));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char b[16] = { 0 };
		long n;

		alarm(20);
		n = chan_recv_t(self->fds[0], b, sizeof(b) - 1, IPCCHAN_TIMEOUT,
				10 * NSEC_PER_SEC, NULL);
		CHILD_CHECK(n == 4, "recv returned %ld", n);
		CHILD_CHECK(!strcmp(b, "wake"), "got '%s'", b);
		_exit(0);
	}
	ASSERT_EQ(0, wait_waiters(self->fds[0], 0, WAITING_RECEIVERS, 1, 5000));
	ASSERT_EQ(0, send_str(self->fds[1], "wake"));
	/* The sleeping receiver takes it: no signal. */
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(-EAGAIN, recv_one(self->fds[0], buf, sizeof(buf)));

	/* The registration is intact: with nobody asleep it fires. */
	ASSERT_EQ(0, send_str(self->fds[1], "next"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)7, si.si_value.sival_ptr);
}

TEST_F(notify, persistent_refires)
{
	siginfo_t si;
	char buf[8];
	int i;

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 3));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, send_str(self->fds[1], "x"));
		ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si))
			TH_LOG("round %d", i);
		EXPECT_EQ((void *)(uintptr_t)3, si.si_value.sival_ptr);
		EXPECT_EQ(SI_MESGQ, si.si_code);
		ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));
	}
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

TEST_F(notify, oneshot_fires_once)
{
	siginfo_t si;
	char buf[8];

	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_ONESHOT, SIGUSR1,
				 11));
	ASSERT_EQ(0, send_str(self->fds[1], "a"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)11, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));

	/* Empty again, a new message: the registration is gone. */
	ASSERT_EQ(0, send_str(self->fds[1], "b"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));

	/* Registering again arms it again, once. */
	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_ONESHOT, SIGUSR1,
				 12));
	ASSERT_EQ(0, send_str(self->fds[1], "c"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)12, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));
	ASSERT_EQ(0, send_str(self->fds[1], "d"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
}

/* ---- EXCLUSIVE, replacement, REMOVE ------------------------------------------ */

TEST_F(notify, exclusive_refused_when_other_registered)
{
	struct holder h;

	ASSERT_EQ(0, holder_start(&h, self->fds[0], 0, SIGUSR2));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				      SIGUSR1, 0));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE |
				      IPCCHAN_NOTIFY_ONESHOT, SIGUSR1, 0));
	/* The failures registered nothing. */
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	/* Non-exclusive registrations live side by side. */
	EXPECT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	/* The other process exits: its registration goes with its close. */
	ASSERT_EQ(0, holder_stop(&h));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				 SIGUSR1, 0));
}

TEST_F(notify, exclusive_refuses_others)
{
	struct holder h;
	siginfo_t si;

	/* Another process holds an exclusive registration. */
	ASSERT_EQ(0, holder_start(&h, self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				  SIGUSR2));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], IPCCHAN_NOTIFY_ONESHOT,
				      SIGUSR1, 0));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				      SIGUSR1, 0));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE |
				      IPCCHAN_NOTIFY_ONESHOT, SIGUSR1, 0));
	/* We hold nothing, and REMOVE does not touch another's. */
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	EXPECT_EQ(-EBUSY, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	/* A message signals the holder (its SIGUSR2 is blocked), not us. */
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	ASSERT_EQ(0, holder_stop(&h));
	EXPECT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
}

TEST_F(notify, same_process_replaces)
{
	struct holder h;
	siginfo_t si;

	/* Exclusive, then exclusive again: no -EBUSY against ourselves. */
	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				 SIGUSR1, 1));
	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_EXCLUSIVE,
				 SIGUSR1, 2));
	/* Another process is refused while it is exclusive... */
	ASSERT_EQ(-EBUSY, holder_start(&h, self->fds[0], 0, SIGUSR2));
	ASSERT_EQ(0, holder_stop(&h));
	/* ...and accepted once we replaced it with a non-exclusive one. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR2, 3));
	ASSERT_EQ(0, holder_start(&h, self->fds[0], 0, SIGUSR2));
	ASSERT_EQ(0, holder_stop(&h));

	/* The replacement's signal and value are used, the old ones not. */
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	ASSERT_EQ(SIGUSR2, wait_sig(SIGUSR2, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)3, si.si_value.sival_ptr);
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR2, NO_SIG_MS, &si));
	/* One registration per process and channel. */
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, replace_oneshot_with_persistent)
{
	siginfo_t si;
	char buf[8];

	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_ONESHOT, SIGUSR1,
				 1));
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 2));
	ASSERT_EQ(0, send_str(self->fds[1], "a"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)2, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));
	/* Persistent now: it fires again. */
	ASSERT_EQ(0, send_str(self->fds[1], "b"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

TEST_F(notify, remove)
{
	siginfo_t si;

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	ASSERT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));

	/* signo is ignored with REMOVE, whatever it is. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, -1, 5));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE,
				       1000, 0));
	/* REMOVE with the other flags is still a REMOVE. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE |
				 IPCCHAN_NOTIFY_ONESHOT, 0, 0));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, remove_without_registration)
{
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE |
				       IPCCHAN_NOTIFY_EXCLUSIVE, SIGUSR1, 0));
}

/* ---- removal on close ----------------------------------------------------------- */

TEST_F(notify, close_of_registering_fd_removes)
{
	siginfo_t si;
	int d;

	d = dup(self->fds[0]);
	ASSERT_GE(d, 0);
	ASSERT_EQ(0, chan_notify(d, 0, SIGUSR1, 0));
	ASSERT_EQ(0, close(d));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, close_of_dup_removes)
{
	siginfo_t si;
	int d;

	/* Registered through fds[0]; a dup of it is the same file. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	d = dup(self->fds[0]);
	ASSERT_GE(d, 0);
	ASSERT_EQ(0, close(d));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, close_by_other_process_keeps)
{
	siginfo_t si;
	pid_t pid;

	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 5));
	/* A child closes its copy of the very fd, then exits (closing all). */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		CHILD_CHECK(close(self->fds[0]) == 0, "close");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)5, si.si_value.sival_ptr);
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

TEST_F(notify, close_of_other_file_keeps)
{
	const char *name = uniq_name(self, "files");
	int a, b, c, tx;
	siginfo_t si;
	char buf[8];

	/* Two open files receiving from one named channel. */
	a = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
		      IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0600);
	ASSERT_GE(a, 0);
	b = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC, 0);
	ASSERT_GE(b, 0);
	tx = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND | IPCCHAN_FD_CLOEXEC, 0);
	ASSERT_GE(tx, 0);

	/* The registration is on the channel: REMOVE through b finds it. */
	ASSERT_EQ(0, chan_notify(a, 0, SIGUSR1, 1));
	EXPECT_EQ(0, chan_notify(b, IPCCHAN_NOTIFY_REMOVE, 0, 0));
	EXPECT_EQ(-ENOENT, chan_notify(a, IPCCHAN_NOTIFY_REMOVE, 0, 0));

	/* Made through a, closing b leaves it. */
	ASSERT_EQ(0, chan_notify(a, 0, SIGUSR1, 2));
	ASSERT_EQ(0, close(b));
	ASSERT_EQ(0, send_str(tx, "m"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)2, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(a, buf, sizeof(buf)));

	/* Replaced through c: it now belongs to c, and closing a leaves it. */
	c = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, chan_notify(c, 0, SIGUSR1, 3));
	ASSERT_EQ(0, close(a));
	ASSERT_EQ(0, send_str(tx, "m"));
	ASSERT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ((void *)(uintptr_t)3, si.si_value.sival_ptr);
	ASSERT_EQ(1, recv_one(c, buf, sizeof(buf)));

	/* Closing c, the file it was made through, removes it. */
	b = dup(c);
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, close(c));
	ASSERT_EQ(0, send_str(tx, "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-ENOENT, chan_notify(b, IPCCHAN_NOTIFY_REMOVE, 0, 0));
	close(b);
	close(tx);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

/* ---- the registering thread ------------------------------------------------------ */

struct thread_arg {
	int fd;
	pthread_barrier_t registered, sent;
	int notify_ret;
	int got;
	siginfo_t si;
};

static void *register_thread(void *p)
{
	struct thread_arg *a = p;

	a->notify_ret = chan_notify(a->fd, 0, SIGUSR1, 99);
	pthread_barrier_wait(&a->registered);
	pthread_barrier_wait(&a->sent);
	a->got = wait_sig(SIGUSR1, SIG_WAIT_MS, &a->si);
	return NULL;
}

TEST_F(notify, signal_goes_to_registering_thread)
{
	struct thread_arg a;
	pthread_t t;

	memset(&a, 0, sizeof(a));
	a.fd = self->fds[0];
	ASSERT_EQ(0, pthread_barrier_init(&a.registered, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&a.sent, NULL, 2));
	ASSERT_EQ(0, pthread_create(&t, NULL, register_thread, &a));
	pthread_barrier_wait(&a.registered);
	EXPECT_EQ(0, a.notify_ret);
	EXPECT_EQ(0, send_str(self->fds[1], "m"));
	/* Pending on the registering thread, not on this one or the process. */
	EXPECT_EQ(0, sig_pending(SIGUSR1));
	pthread_barrier_wait(&a.sent);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(SIGUSR1, a.got);
	EXPECT_EQ(SI_MESGQ, a.si.si_code);
	EXPECT_EQ((void *)(uintptr_t)99, a.si.si_value.sival_ptr);
	EXPECT_EQ(getpid(), a.si.si_pid);
	pthread_barrier_destroy(&a.registered);
	pthread_barrier_destroy(&a.sent);
}

struct exit_arg {
	int fd;
	int notify_ret;
	pid_t tid;
};

static void *register_and_exit(void *p)
{
	struct exit_arg *a = p;

	a->tid = gettid();
	a->notify_ret = chan_notify(a->fd, 0, SIGUSR1, 5);
	return NULL;
}

/*
 * The signal goes to the registering thread only: once that thread has
 * exited, a message sends nothing (not to the process, not to another
 * thread), and the registration, which belongs to the process, stays
 * until removed.
 */
TEST_F(notify, no_signal_after_registering_thread_exits)
{
	struct exit_arg a = { .fd = self->fds[0], .notify_ret = 1 };
	char path[64], buf[8];
	struct stat st;
	pthread_t t;
	int i;

	ASSERT_EQ(0, pthread_create(&t, NULL, register_and_exit, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, a.notify_ret);
	/* Joined is not yet gone: wait until the kernel has released it. */
	snprintf(path, sizeof(path), "/proc/self/task/%d", a.tid);
	for (i = 0; i < 200 && stat(path, &st) == 0; i++)
		sleep_ms(10);
	ASSERT_NE(0, stat(path, &st)) TH_LOG("thread %d still listed", a.tid);

	EXPECT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(0, sig_pending(SIGUSR1));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, NULL));
	EXPECT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));
	/* Still registered: this process removes it, once. */
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	/* Control: registered from this thread, the same send signals. */
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 5));
	EXPECT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, NULL));
}

TEST_F(notify, no_signal_after_exec)
{
	int ready[2], go[2];
	char c, buf[8];
	siginfo_t si;
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char env[64];
		char *argv[] = { "ipcchan_notify", NULL };

		alarm(20);	/* kept across exec */
		close(ready[0]);
		close(go[1]);
		/* fds[0] is not close-on-exec: the registration outlives exec. */
		CHILD_CHECK(chan_notify(self->fds[0], 0, SIGUSR1, 7) == 0,
			    "notify");
		snprintf(env, sizeof(env), "%d,%d,%d", self->fds[0], ready[1],
			 go[0]);
		CHILD_CHECK(setenv(EXEC_ENV, env, 1) == 0, "setenv");
		execv("/proc/self/exe", argv);
		CHILD_CHECK(0, "exec: %s", strerror(errno));
	}
	close(ready[1]);
	close(go[0]);
	/* Step 1: the child has exec'ed; a message lands in the empty queue. */
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, send_str(self->fds[1], "1"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	/* Step 2: it registered again; empty the queue and send again. */
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(1, recv_one(self->fds[0], buf, sizeof(buf)));
	ASSERT_EQ(0, send_str(self->fds[1], "2"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, wait_child(pid));
	/* Nothing came here: the registrations were the child's. */
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, 0, &si));
	close(ready[0]);
	close(go[1]);
}

/* ---- other endpoints, bad input ------------------------------------------------- */

TEST_F(notify, duplex_endpoint)
{
	siginfo_t si;
	int d[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, d));
	/* d[0] receives what d[1] sends. */
	ASSERT_EQ(0, chan_notify(d[0], 0, SIGUSR1, 0));
	ASSERT_EQ(0, send_str(d[0], "to d1"));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	ASSERT_EQ(0, send_str(d[1], "to d0"));
	EXPECT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	close(d[0]);
	close(d[1]);
}

TEST_F(notify, bad_signo)
{
	const int bad[] = { 0, -1, 65, _NSIG, INT_MIN, INT_MAX, 1000 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, chan_notify(self->fds[0], 0, bad[i], 0))
			TH_LOG("signo %d", bad[i]);
		EXPECT_EQ(-EINVAL, chan_notify(self->fds[0],
					       IPCCHAN_NOTIFY_ONESHOT |
					       IPCCHAN_NOTIFY_EXCLUSIVE,
					       bad[i], 0))
			TH_LOG("signo %d", bad[i]);
	}
	/* Nothing was registered. */
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	/* The edges 1 and _NSIG - 1 are valid (registering, not sending). */
	EXPECT_EQ(0, chan_notify(self->fds[0], 0, 1, 0));
	EXPECT_EQ(0, chan_notify(self->fds[0], 0, _NSIG - 1, 0));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

TEST_F(notify, unknown_flags)
{
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;

		if (f & NOTIFY_KNOWN)
			continue;
		EXPECT_EQ(-EINVAL, chan_notify(self->fds[0], f, SIGUSR1, 0))
			TH_LOG("flag bit %u", bit);
		EXPECT_EQ(-EINVAL, chan_notify(self->fds[0], f |
					       IPCCHAN_NOTIFY_REMOVE, SIGUSR1, 0))
			TH_LOG("flag bit %u with REMOVE", bit);
		EXPECT_EQ(-EINVAL, chan_notify(self->fds[0], f |
					       IPCCHAN_NOTIFY_EXCLUSIVE |
					       IPCCHAN_NOTIFY_ONESHOT, SIGUSR1, 0))
			TH_LOG("flag bit %u with known", bit);
	}
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, pad_and_reserved)
{
	struct ipcchan_notify n;
	unsigned int i;

	memset(&n, 0, sizeof(n));
	n.signo = SIGUSR1;
	n.pad = 1;
	EXPECT_EQ(-EINVAL, notify_raw(self->fds[0], &n));
	n.pad = 0x80000000u;
	EXPECT_EQ(-EINVAL, notify_raw(self->fds[0], &n));
	n.flags = IPCCHAN_NOTIFY_REMOVE;
	EXPECT_EQ(-EINVAL, notify_raw(self->fds[0], &n));
	for (i = 0; i < ARRAY_SIZE(n.reserved); i++) {
		memset(&n, 0, sizeof(n));
		n.signo = SIGUSR1;
		n.reserved[i] = 1ULL << (i * 31);
		EXPECT_EQ(-EINVAL, notify_raw(self->fds[0], &n))
			TH_LOG("reserved[%u]", i);
		n.flags = IPCCHAN_NOTIFY_REMOVE;
		EXPECT_EQ(-EINVAL, notify_raw(self->fds[0], &n))
			TH_LOG("reserved[%u] with REMOVE", i);
	}
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
}

TEST_F(notify, struct_size)
{
	struct {
		struct ipcchan_notify n;
		__u64 extra;
	} big;

	EXPECT_EQ(IPCCHAN_NOTIFY_SIZE_VER0, sizeof(struct ipcchan_notify));
	memset(&big, 0, sizeof(big));
	big.n.signo = SIGUSR1;
	EXPECT_EQ(-EINVAL, chan_ioctl(self->fds[0],
				      ioc_resize(IPCCHAN_IOC_NOTIFY,
						 IPCCHAN_NOTIFY_SIZE_VER0 - 1),
				      &big));
	/* Larger with zero tail: accepted. */
	EXPECT_EQ(0, chan_ioctl(self->fds[0],
				ioc_resize(IPCCHAN_IOC_NOTIFY, sizeof(big)),
				&big));
	EXPECT_EQ(0, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	big.extra = 1;
	EXPECT_EQ(-E2BIG, chan_ioctl(self->fds[0],
				     ioc_resize(IPCCHAN_IOC_NOTIFY, sizeof(big)),
				     &big));
	EXPECT_EQ(-ENOENT, chan_notify(self->fds[0], IPCCHAN_NOTIFY_REMOVE, 0,
				       0));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->fds[0], IPCCHAN_IOC_NOTIFY, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->fds[0], IPCCHAN_IOC_NOTIFY,
				      unmapped_addr()));
}

TEST_F(notify, send_only_endpoint)
{
	const char *name = uniq_name(self, "sendonly");
	int tx;

	EXPECT_EQ(-EBADF, chan_notify(self->fds[1], 0, SIGUSR1, 0));
	EXPECT_EQ(-EBADF, chan_notify(self->fds[1], IPCCHAN_NOTIFY_REMOVE, 0, 0));
	/* Bad input is still -EINVAL there. */
	EXPECT_EQ(-EINVAL, chan_notify(self->fds[1], 0, 0, 0));
	tx = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_CREATE |
		       IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0600);
	ASSERT_GE(tx, 0);
	EXPECT_EQ(-EBADF, chan_notify(tx, 0, SIGUSR1, 0));
	close(tx);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

TEST_F(notify, control_fd)
{
	EXPECT_EQ(-ENOTTY, chan_notify(self->ctl, 0, SIGUSR1, 0));
	EXPECT_EQ(-ENOTTY, chan_notify(self->ctl, IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

/* ---- fasync ------------------------------------------------------------------------ */

static int set_async(int fd, int on, int sig)
{
	int fl;

	if (fcntl(fd, F_SETOWN, getpid()))
		return -errno;
	if (fcntl(fd, F_SETSIG, sig))
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fl = on ? fl | O_ASYNC : fl & ~O_ASYNC;
	if (fcntl(fd, F_SETFL, fl))
		return -errno;
	return 0;
}

TEST_F(notify, fasync_signal_per_message)
{
	const int sig = rt_sig(), n = 5;
	siginfo_t si;
	char buf[8];
	int i;

	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	ASSERT_TRUE(fcntl(self->fds[0], F_GETFL) & O_ASYNC);
	EXPECT_EQ(getpid(), fcntl(self->fds[0], F_GETOWN));
	/* Nothing yet. */
	EXPECT_EQ(-EAGAIN, wait_sig(sig, NO_SIG_MS, &si));

	/* Every message, also into a queue that is not empty. */
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, send_str(self->fds[1], "m"));
	}
	for (i = 0; i < n; i++) {
		ASSERT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si))
			TH_LOG("signal %d of %d", i + 1, n);
		EXPECT_EQ(POLL_IN, si.si_code);
		EXPECT_EQ(self->fds[0], si.si_fd);
		EXPECT_TRUE(si.si_band & POLLIN);
	}
	EXPECT_EQ(-EAGAIN, wait_sig(sig, NO_SIG_MS, &si));
	/* Receiving signals nothing. */
	while (recv_one(self->fds[0], buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(-EAGAIN, wait_sig(sig, NO_SIG_MS, &si));

	/* O_ASYNC off: no more. */
	ASSERT_EQ(0, set_async(self->fds[0], 0, sig));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(sig, NO_SIG_MS, &si));
	/* And on again. */
	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si));
}

TEST_F(notify, fasync_with_sleeping_receiver)
{
	const int sig = rt_sig();
	siginfo_t si;
	pid_t pid;

	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char b[16] = { 0 };

		alarm(20);
		CHILD_CHECK(chan_recv_t(self->fds[0], b, sizeof(b) - 1,
					IPCCHAN_TIMEOUT, 10 * NSEC_PER_SEC,
					NULL) == 4, "recv");
		_exit(0);
	}
	ASSERT_EQ(0, wait_waiters(self->fds[0], 0, WAITING_RECEIVERS, 1, 5000));
	ASSERT_EQ(0, send_str(self->fds[1], "wake"));
	/* Unlike IPCCHAN_IOC_NOTIFY, fasync signals also then. */
	EXPECT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si));
	EXPECT_EQ(0, wait_child(pid));
}

TEST_F(notify, fasync_plain_sigio)
{
	siginfo_t si;

	/* No F_SETSIG: SIGIO. */
	ASSERT_EQ(0, set_async(self->fds[0], 1, 0));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	ASSERT_EQ(SIGIO, wait_sig(SIGIO, SIG_WAIT_MS, &si));
	EXPECT_EQ(SIGIO, si.si_signo);
	TH_LOG("plain SIGIO: si_code %d (POLL_IN is %d)", si.si_code, POLL_IN);

	/* F_SETSIG(SIGIO): SIGIO with the POLL_IN siginfo. */
	ASSERT_EQ(0, set_async(self->fds[0], 1, SIGIO));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	ASSERT_EQ(SIGIO, wait_sig(SIGIO, SIG_WAIT_MS, &si));
	EXPECT_EQ(POLL_IN, si.si_code);
	EXPECT_EQ(self->fds[0], si.si_fd);
}

TEST_F(notify, fasync_send_only_never_signals)
{
	const int sig = rt_sig();
	siginfo_t si;

	/* Accepted on an endpoint that only sends, and it never signals. */
	ASSERT_EQ(0, set_async(self->fds[1], 1, sig));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(-EAGAIN, wait_sig(sig, NO_SIG_MS, &si));
	/* Control: the receiving end with O_ASYNC does signal. */
	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	ASSERT_EQ(0, send_str(self->fds[1], "m"));
	EXPECT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si));
	EXPECT_EQ(self->fds[0], si.si_fd);
}

/*
 * An F_SETFL that succeeded is what F_GETFL reads back (fcntl(2)): the
 * core leaves FASYNC to ->fasync, which must record it also where it has
 * nothing to signal.
 */
TEST_F(notify, fasync_send_only_flag_reads_back)
{
	ASSERT_EQ(0, set_async(self->fds[1], 1, 0));
	EXPECT_TRUE(fcntl(self->fds[1], F_GETFL) & O_ASYNC)
		TH_LOG("F_SETFL O_ASYNC returned 0, F_GETFL has no O_ASYNC");
	ASSERT_EQ(0, set_async(self->fds[1], 0, 0));
	EXPECT_FALSE(fcntl(self->fds[1], F_GETFL) & O_ASYNC);
	/* The receiving end, for comparison. */
	ASSERT_EQ(0, set_async(self->fds[0], 1, 0));
	EXPECT_TRUE(fcntl(self->fds[0], F_GETFL) & O_ASYNC);
	ASSERT_EQ(0, set_async(self->fds[0], 0, 0));
	EXPECT_FALSE(fcntl(self->fds[0], F_GETFL) & O_ASYNC);
}

TEST_F(notify, fasync_batch_send)
{
	const int sig = rt_sig();
	struct ipcchan_msghdr m[3];
	siginfo_t si;
	int i;

	memset(m, 0, sizeof(m));
	for (i = 0; i < 3; i++) {
		m[i].buf = ptr64("abc");
		m[i].len = 3;
	}
	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 0));
	ASSERT_EQ(3, chan_batch(self->fds[1], IPCCHAN_IOC_SEND_BATCH, m, 3,
				IPCCHAN_NONBLOCK, 0, NULL));
	/* fasync: one per message; NOTIFY: one, for the first. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si)) TH_LOG("%d", i);
	}
	EXPECT_EQ(-EAGAIN, wait_sig(sig, 0, &si));
	EXPECT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
}

TEST_F(notify, fasync_and_notify_together)
{
	const int sig = rt_sig();
	siginfo_t si;

	ASSERT_EQ(0, set_async(self->fds[0], 1, sig));
	ASSERT_EQ(0, chan_notify(self->fds[0], 0, SIGUSR1, 4));
	ASSERT_EQ(0, send_str(self->fds[1], "1"));
	ASSERT_EQ(0, send_str(self->fds[1], "2"));
	EXPECT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si));
	EXPECT_EQ(sig, wait_sig(sig, SIG_WAIT_MS, &si));
	EXPECT_EQ(SIGUSR1, wait_sig(SIGUSR1, SIG_WAIT_MS, &si));
	EXPECT_EQ(-EAGAIN, wait_sig(SIGUSR1, NO_SIG_MS, &si));
	EXPECT_EQ(-EAGAIN, wait_sig(sig, 0, &si));
}

/* ---- /proc/ipcchan ----------------------------------------------------------------- */

TEST_F(notify, proc_listing)
{
	const char *name = uniq_name(self, "proc");
	struct ipcchan_stats st;
	struct proc_line pl;
	char header[256];
	char buf[64];
	int fd;

	/* The header, alone or not. */
	ASSERT_EQ(0, proc_find(name, &pl, header, sizeof(header)));
	EXPECT_STREQ(PROC_HEADER, header);

	fd = chan_open_attr(self->ctl, name, IPCCHAN_OPEN_SEND |
			    IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
			    IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0640,
			    100, 5, 400, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, proc_find(name, &pl, NULL, 0));
	EXPECT_STREQ(name, pl.name);
	EXPECT_STREQ("0640", pl.mode);
	EXPECT_EQ(0, pl.queued_msgs);
	EXPECT_EQ(0, pl.sent);

	ASSERT_EQ(0, chan_send(fd, "0123456789", 10, 1, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(fd, "abcdefghijklmnopqrst", 20, 2,
			       IPCCHAN_NONBLOCK));
	ASSERT_EQ(1, proc_find(name, &pl, header, sizeof(header)));
	EXPECT_STREQ(PROC_HEADER, header);
	EXPECT_EQ(13, pl.fields);
	EXPECT_STREQ(name, pl.name);
	EXPECT_STREQ("0640", pl.mode);
	EXPECT_EQ(geteuid(), pl.uid);
	EXPECT_EQ(getegid(), pl.gid);
	EXPECT_EQ(0, pl.uid);	/* the guest runs the tests as root */
	EXPECT_EQ(0, pl.gid);
	EXPECT_EQ(100, pl.msg_size_max);
	EXPECT_EQ(5, pl.queue_msgs);
	EXPECT_EQ(400, pl.queue_bytes);
	EXPECT_EQ(2, pl.queued_msgs);
	EXPECT_EQ(30, pl.queued_bytes);
	EXPECT_EQ(2, pl.sent);
	EXPECT_EQ(0, pl.received);
	EXPECT_EQ(1, pl.senders);
	EXPECT_EQ(1, pl.receivers);
	/* The same numbers as the stats ioctl. */
	ASSERT_EQ(0, chan_stats(fd, 0, &st));
	EXPECT_EQ(st.queued_msgs, pl.queued_msgs);
	EXPECT_EQ(st.sent, pl.sent);

	/* A receive shows. */
	ASSERT_EQ(20, recv_one(fd, buf, sizeof(buf)));
	ASSERT_EQ(1, proc_find(name, &pl, NULL, 0));
	EXPECT_EQ(1, pl.queued_msgs);
	EXPECT_EQ(10, pl.queued_bytes);
	EXPECT_EQ(2, pl.sent);
	EXPECT_EQ(1, pl.received);

	/* Unlinked, it is no longer listed, though still open. */
	ASSERT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ(0, proc_find(name, &pl, NULL, 0));
	ASSERT_EQ(0, chan_stats(fd, 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	close(fd);
	EXPECT_EQ(0, proc_find(name, &pl, NULL, 0));
}

TEST_F(notify, proc_ipc_namespace)
{
	const char *name = uniq_name(self, "ns");
	struct proc_line pl;
	pid_t pid;
	int fd;

	fd = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
		       IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0640);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, proc_find(name, &pl, NULL, 0));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char header[256];
		int cfd, r;

		alarm(20);
		CHILD_CHECK(unshare(CLONE_NEWIPC) == 0, "unshare: %s",
			    strerror(errno));
		r = proc_find(name, &pl, header, sizeof(header));
		CHILD_CHECK(r == 0, "parent's channel seen: %d", r);
		CHILD_CHECK(!strcmp(header, PROC_HEADER), "header '%s'", header);
		CHILD_CHECK(proc_lines() == 1, "%d lines in a new namespace",
			    proc_lines());
		r = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0);
		CHILD_CHECK(r == -ENOENT, "open of the parent's name: %d", r);
		/* The same name is free here. */
		cfd = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV |
				IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL, 0604);
		CHILD_CHECK(cfd >= 0, "create in the new namespace: %d", cfd);
		r = proc_find(name, &pl, NULL, 0);
		CHILD_CHECK(r == 1, "own channel not listed: %d", r);
		CHILD_CHECK(!strcmp(pl.mode, "0604"), "mode %s", pl.mode);
		CHILD_CHECK(pl.receivers == 1 && pl.senders == 0,
			    "receivers %u senders %u", pl.receivers, pl.senders);
		CHILD_CHECK(proc_lines() == 2, "%d lines", proc_lines());
		CHILD_CHECK(chan_unlink(self->ctl, name) == 0, "unlink");
		CHILD_CHECK(proc_find(name, &pl, NULL, 0) == 0, "still listed");
		close(cfd);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	/* Ours is untouched by the child's create and unlink. */
	ASSERT_EQ(1, proc_find(name, &pl, NULL, 0));
	EXPECT_STREQ("0640", pl.mode);
	EXPECT_EQ(1, pl.receivers);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	EXPECT_EQ(0, proc_find(name, &pl, NULL, 0));
}

/* A long name of 200 bytes: @tag, 190 fill bytes, @i in 9 digits. */
static void long_name(char *name, char tag, int i)
{
	name[0] = tag;
	memset(name + 1, 'n', 190);
	snprintf(name + 191, 64, "%09d", i);
}

/*
 * Read the whole listing into buf in read()s of @chunk bytes, from offset
 * 0, on @fd (or a fresh open if @fd < 0); the length or -errno.
 */
static long proc_read_chunks(int fd, char *buf, size_t size, size_t chunk)
{
	int own = fd < 0;
	size_t len = 0;
	ssize_t n = 0;

	if (own)
		fd = open(PROC_PATH, O_RDONLY | O_CLOEXEC);
	else if (lseek(fd, 0, SEEK_SET))
		return -errno;
	if (fd < 0)
		return -errno;
	while (len < size - 1 &&
	       (n = read(fd, buf + len, chunk < size - 1 - len ?
			 chunk : size - 1 - len)) > 0)
		len += n;
	if (n < 0)
		n = -errno;
	if (own)
		close(fd);
	buf[len] = '\0';
	return n < 0 ? n : (long)len;
}

/* How often the listing in buf names long_name(tag, i); -1: garbled. */
static int proc_count(const char *buf, char tag, int i)
{
	char name[IPCCHAN_NAME_MAX + 1];
	const char *line;
	int found = 0;

	long_name(name, tag, i);
	for (line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, name, 200) && line[200] == ' ')
			found++;
	return found;
}

/*
 * The listing is longer than seq_file's buffer and is read whole, in
 * small pieces (every read() after the first resumes the walk where the
 * last one stopped, in the middle of a line or between two), and again
 * after lseek(0): every channel exactly once, every time. It runs in a
 * new IPC namespace while the parent's namespace holds as many names,
 * which share the hash buckets with ours: none of those may show, and
 * they may not throw the resumed walk off.
 */
TEST_F(notify, proc_listing_long)
{
	static const size_t chunks[] = { 65536, 4096, 97, 7 };
	int nr = 300, theirs, i, fd;
	pid_t pid;

	if (self->q.max_user_channels - self->q.user_channels <
	    (__u64)2 * nr + 2)
		nr = (int)(self->q.max_user_channels -
			   self->q.user_channels - 2) / 2;
	ASSERT_GE(nr, 20) TH_LOG("max_user_channels too low for the test");
	for (theirs = 0; theirs < nr; theirs++) {
		char name[IPCCHAN_NAME_MAX + 1];

		long_name(name, 'p', theirs);
		fd = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND |
			       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL, 0600);
		ASSERT_LE(0, fd) TH_LOG("parent's name %d: %d", theirs, fd);
		close(fd);
	}
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static char buf[1 << 18], name[IPCCHAN_NAME_MAX + 1];
		int c, lines, bad = 0;
		long len;

		alarm(60);
		CHILD_CHECK(unshare(CLONE_NEWIPC) == 0, "unshare: %s",
			    strerror(errno));
		for (i = 0; i < nr; i++) {
			long_name(name, 'c', i);
			fd = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND |
				       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL,
				       0600);
			CHILD_CHECK(fd >= 0, "create %d: %d", i, fd);
			close(fd);
		}
		fd = open(PROC_PATH, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0, "open: %s", strerror(errno));
		for (c = 0; c < (int)ARRAY_SIZE(chunks); c++) {
			/* Once on a fresh file, once after lseek(0) on fd. */
			len = proc_read_chunks(c % 2 ? fd : -1, buf,
					       sizeof(buf), chunks[c]);
			CHILD_CHECK(len > 0, "read by %zu: %ld", chunks[c],
				    len);
			CHILD_CHECK(len < (long)sizeof(buf) - 1,
				    "listing longer than %zu", sizeof(buf));
			for (i = 0; i < nr; i++) {
				int ours = proc_count(buf, 'c', i);

				if (ours != 1 || proc_count(buf, 'p', i)) {
					fprintf(stderr, "# by %zu: c%d listed %d times, p%d %d times\n",
						chunks[c], i, ours, i,
						proc_count(buf, 'p', i));
					bad = 1;
				}
			}
			for (lines = 0, i = 0; buf[i]; i++)
				lines += buf[i] == '\n';
			CHILD_CHECK(!bad, "by %zu: see above (%ld bytes)",
				    chunks[c], len);
			CHILD_CHECK(lines == nr + 1,
				    "by %zu: %d lines for %d channels",
				    chunks[c], lines, nr);
		}
		close(fd);
		for (i = 0; i < nr; i++) {
			long_name(name, 'c', i);
			CHILD_CHECK(!chan_unlink(self->ctl, name), "unlink %d",
				    i);
		}
		CHILD_CHECK(proc_lines() == 1, "%d lines after unlinking",
			    proc_lines());
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));
	for (i = 0; i < theirs; i++) {
		char name[IPCCHAN_NAME_MAX + 1];

		long_name(name, 'p', i);
		EXPECT_EQ(0, chan_unlink(self->ctl, name)) TH_LOG("p%d", i);
	}
}

/* uid and gid are shown in the reader's user namespace. */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		r = -errno;
	close(fd);
	return r;
}

TEST_F(notify, proc_user_namespace)
{
	const char *name = uniq_name(self, "userns");
	unsigned long long overflow = 65534;
	struct proc_line pl;
	pid_t pid;
	int fd;

	ASSERT_EQ(0, geteuid()) TH_LOG("needs root to make user namespaces");
	fd = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV | IPCCHAN_OPEN_CREATE |
		       IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0640);
	ASSERT_GE(fd, 0);
	{
		FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");

		if (f) {
			if (fscanf(f, "%llu", &overflow) != 1)
				overflow = 65534;
			fclose(f);
		}
	}

	/* Unmapped in the reader's namespace: the overflow ids. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int r;

		alarm(20);
		CHILD_CHECK(unshare(CLONE_NEWUSER) == 0, "unshare: %s",
			    strerror(errno));
		r = proc_find(name, &pl, NULL, 0);
		CHILD_CHECK(r == 1, "not listed: %d", r);
		CHILD_CHECK(pl.uid == overflow && pl.gid == overflow,
			    "uid %u gid %u, want %llu", pl.uid, pl.gid, overflow);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));

	/* Mapped: 0 outside is 5000 inside. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int r;

		alarm(20);
		CHILD_CHECK(unshare(CLONE_NEWUSER) == 0, "unshare: %s",
			    strerror(errno));
		r = write_file("/proc/self/uid_map", "5000 0 1");
		CHILD_CHECK(r == 0, "uid_map: %d", r);
		r = write_file("/proc/self/setgroups", "deny");
		CHILD_CHECK(r == 0, "setgroups: %d", r);
		r = write_file("/proc/self/gid_map", "6000 0 1");
		CHILD_CHECK(r == 0, "gid_map: %d", r);
		r = proc_find(name, &pl, NULL, 0);
		CHILD_CHECK(r == 1, "not listed: %d", r);
		CHILD_CHECK(pl.uid == 5000 && pl.gid == 6000,
			    "uid %u gid %u, want 5000 6000", pl.uid, pl.gid);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));

	/* And here, as root. */
	ASSERT_EQ(1, proc_find(name, &pl, NULL, 0));
	EXPECT_EQ(0, pl.uid);
	EXPECT_EQ(0, pl.gid);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
}

/*
 * "One per line after a header line naming the fields": a name may hold
 * any byte but '/' and NUL, so a newline or a blank in a name must not
 * make a second line or a fourteenth field. Checked in a new IPC
 * namespace, where the listing holds exactly our channel.
 */
static void proc_odd_name(struct __test_metadata *_metadata,
			  FIXTURE_DATA(notify) *self, const char *odd)
{
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static char buf[65536];
		char *nl;
		long len;
		int fd, lines;

		alarm(20);
		CHILD_CHECK(unshare(CLONE_NEWIPC) == 0, "unshare: %s",
			    strerror(errno));
		fd = chan_open(self->ctl, odd, IPCCHAN_OPEN_RECV |
			       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL, 0600);
		CHILD_CHECK(fd >= 0, "create: %d", fd);
		len = proc_read(buf, sizeof(buf));
		lines = proc_lines();
		chan_unlink(self->ctl, odd);
		CHILD_CHECK(len > 0, "read: %ld", len);
		CHILD_CHECK(lines == 2, "%d lines for one channel:\n%s", lines,
			    buf);
		nl = strchr(buf, '\n');
		CHILD_CHECK(nl && count_fields(nl + 1) == 13,
			    "%d fields in the line:\n%s",
			    nl ? count_fields(nl + 1) : -1, buf);
		close(fd);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));
}

TEST_F(notify, proc_name_with_newline)
{
	proc_odd_name(_metadata, self, "fake 0777 0 0 1 1 1 0 0 0 0 0 0\nx");
}

TEST_F(notify, proc_name_with_blank)
{
	proc_odd_name(_metadata, self, "two words");
}

/* ---- dropped ------------------------------------------------------------------------- */

static __u64 user_bytes(struct __test_metadata *_metadata, int ctl)
{
	struct ipcchan_query q;

	EXPECT_EQ(0, chan_query(ctl, &q));
	return q.user_bytes;
}

TEST_F(notify, dropped_when_receiver_closes)
{
	struct ipcchan_stats st;
	struct pollfd pfd;
	__u64 before;
	char buf[128];
	int i;

	before = user_bytes(_metadata, self->ctl);
	memset(buf, 'q', sizeof(buf));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, chan_send(self->fds[1], buf, 100, 0,
				       IPCCHAN_NONBLOCK));
	}
	EXPECT_EQ(before + 4 * (100 + IPCCHAN_MSG_OVERHEAD),
		  user_bytes(_metadata, self->ctl));
	ASSERT_EQ(100, recv_one(self->fds[0], buf, sizeof(buf)));
	EXPECT_EQ(before + 3 * (100 + IPCCHAN_MSG_OVERHEAD),
		  user_bytes(_metadata, self->ctl));

	/* The last receiver of an anonymous channel goes: 3 dropped. */
	close_fd(&self->fds[0]);
	ASSERT_EQ(0, chan_stats(self->fds[1], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	EXPECT_EQ(3, st.dropped);
	EXPECT_EQ(4, st.sent);
	EXPECT_EQ(1, st.received);
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	EXPECT_EQ(0, st.receivers);
	EXPECT_EQ(1, st.senders);
	/* The charges went with them. */
	EXPECT_EQ(before, user_bytes(_metadata, self->ctl));

	/* Sends fail at once, with no SIGPIPE (blocked, so it would pend). */
	EXPECT_EQ(-EPIPE, chan_send(self->fds[1], buf, 1, 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(-EPIPE, chan_send(self->fds[1], buf, 1, 0, 0));
	EXPECT_EQ(0, sig_pending(SIGPIPE));
	pfd.fd = self->fds[1];
	pfd.events = POLLOUT;
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLERR) TH_LOG("revents %#x", pfd.revents);
	ASSERT_EQ(0, chan_stats(self->fds[1], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(4, st.sent);
	EXPECT_EQ(3, st.dropped);
	EXPECT_EQ(before, user_bytes(_metadata, self->ctl));
}

TEST_F(notify, dropped_when_unlinked_without_receiver)
{
	const char *name = uniq_name(self, "drop");
	struct ipcchan_stats st;
	struct pollfd pfd;
	__u64 before;
	int tx;

	before = user_bytes(_metadata, self->ctl);
	tx = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_CREATE |
		       IPCCHAN_OPEN_EXCL | IPCCHAN_FD_CLOEXEC, 0600);
	ASSERT_GE(tx, 0);
	/* No receiver, but one may still open the name: kept. */
	ASSERT_EQ(0, chan_send(tx, "abc", 3, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send(tx, "defg", 4, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(tx, IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(2, st.queued_msgs);
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(0, st.receivers);
	EXPECT_EQ(before + 7 + 2 * IPCCHAN_MSG_OVERHEAD,
		  user_bytes(_metadata, self->ctl));

	/* Unlinked: no receiver can ever come. */
	ASSERT_EQ(0, chan_unlink(self->ctl, name));
	ASSERT_EQ(0, chan_stats(tx, IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(0, st.queued_bytes);
	EXPECT_EQ(2, st.dropped);
	EXPECT_EQ(2, st.sent);
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	EXPECT_EQ(before, user_bytes(_metadata, self->ctl));
	EXPECT_EQ(-EPIPE, chan_send(tx, "h", 1, 0, IPCCHAN_NONBLOCK));
	pfd.fd = tx;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLERR) TH_LOG("revents %#x", pfd.revents);
	close(tx);
}

TEST_F(notify, dropped_duplex)
{
	struct ipcchan_stats st;
	__u64 before;
	char buf[8];
	int d[2];

	before = user_bytes(_metadata, self->ctl);
	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0, d));
	ASSERT_EQ(0, send_str(d[1], "to0"));
	ASSERT_EQ(0, send_str(d[1], "to0"));
	ASSERT_EQ(0, send_str(d[0], "to1"));
	EXPECT_EQ(before + 9 + 3 * IPCCHAN_MSG_OVERHEAD,
		  user_bytes(_metadata, self->ctl));
	/* d[0] goes: what d[1] sent it is dropped; what it sent d[1] stays. */
	close(d[0]);
	ASSERT_EQ(0, chan_stats(d[1], IPCCHAN_STATS_TX, &st));
	EXPECT_EQ(2, st.dropped);
	EXPECT_EQ(0, st.queued_msgs);
	EXPECT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	ASSERT_EQ(0, chan_stats(d[1], 0, &st));
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(1, st.queued_msgs);
	EXPECT_EQ(before + 3 + IPCCHAN_MSG_OVERHEAD,
		  user_bytes(_metadata, self->ctl));
	EXPECT_EQ(-EPIPE, send_str(d[1], "x"));
	/* Hung up the other way: the queued message, then end of channel. */
	EXPECT_EQ(3, recv_one(d[1], buf, sizeof(buf)));
	EXPECT_EQ(0, recv_one(d[1], buf, sizeof(buf)));
	EXPECT_EQ(before, user_bytes(_metadata, self->ctl));
	close(d[1]);
}

TEST_HARNESS_MAIN
