/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw-ioctl helpers for the channel selftests.
 *
 * The tests talk to the module through these small wrappers rather than
 * through libipcchan's channel functions, so that they test the ABI of
 * <linux/ipcchan.h> and nothing in between. Every helper returns a
 * non-negative result or -errno and leaves errno as the ioctl set it.
 * libipcchan is used only for ipcchan_ctl_open() and ipcchan_query().
 */
#ifndef IPCCHAN_SELFTEST_CHAN_H
#define IPCCHAN_SELFTEST_CHAN_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/ipcchan.h>

#include "common.h"
#include "libipcchan.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

/* A kernel text address: never accessible from userspace. */
#define KERNEL_ADDR	((void *)(uintptr_t)0xffffffff81000000ULL)

static inline __u64 ptr64(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/* The same command with another struct size in _IOC_SIZE(). */
static inline unsigned long ioc_resize(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}

static inline long chan_ioctl(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

/* The address of a page that is not mapped (it was, a moment ago). */
static inline void *unmapped_addr(void)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return KERNEL_ADDR;
	munmap(p, page);
	return p;
}

static inline __u64 now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- control fd commands ------------------------------------------------ */

static inline int ctl_open(void)
{
	return ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
}

/*
 * IPCCHAN_IOC_CREATE with the attributes in *c (the rest of it zero, as
 * a designated initializer leaves it); 0 and the two endpoints, or -errno.
 */
static inline int chan_create_raw(int ctl, struct ipcchan_create *c,
				  int fds[2])
{
	long r;

	c->fds[0] = c->fds[1] = -1;
	r = chan_ioctl(ctl, IPCCHAN_IOC_CREATE, c);
	if (r < 0)
		return r;
	fds[0] = c->fds[0];
	fds[1] = c->fds[1];
	return 0;
}

static inline int chan_create(int ctl, __u64 flags, __u32 msg_size_max,
			      __u32 queue_msgs, __u64 queue_bytes, int fds[2])
{
	struct ipcchan_create c = {
		.flags = flags,
		.msg_size_max = msg_size_max,
		.queue_msgs = queue_msgs,
		.queue_bytes = queue_bytes,
	};

	return chan_create_raw(ctl, &c, fds);
}

/*
 * IPCCHAN_IOC_OPEN with the name, flags and attributes in *o; the new
 * endpoint or -errno, and *created (if not NULL).
 */
static inline int chan_open_raw(int ctl, struct ipcchan_open *o,
				__u32 *created)
{
	long r;

	o->fd = -1;
	o->created = 0xdead;
	r = chan_ioctl(ctl, IPCCHAN_IOC_OPEN, o);
	if (r < 0)
		return r;
	if (created)
		*created = o->created;
	return o->fd;
}

/* Returns the new endpoint or -errno; *created (if not NULL) is set. */
static inline int chan_open_attr(int ctl, const char *name, __u64 flags,
				 __u32 mode, __u32 msg_size_max,
				 __u32 queue_msgs, __u64 queue_bytes,
				 __u32 *created)
{
	struct ipcchan_open o = {
		.flags = flags,
		.name = ptr64(name),
		.mode = mode,
		.msg_size_max = msg_size_max,
		.queue_msgs = queue_msgs,
		.queue_bytes = queue_bytes,
	};

	return chan_open_raw(ctl, &o, created);
}

static inline int chan_open(int ctl, const char *name, __u64 flags, __u32 mode)
{
	return chan_open_attr(ctl, name, flags, mode, 0, 0, 0, NULL);
}

static inline int chan_unlink(int ctl, const char *name)
{
	struct ipcchan_unlink u;

	memset(&u, 0, sizeof(u));
	u.name = ptr64(name);
	return chan_ioctl(ctl, IPCCHAN_IOC_UNLINK, &u);
}

static inline int chan_query(int ctl, struct ipcchan_query *q)
{
	return ipcchan_query(ctl, q);
}

/* --- endpoint commands --------------------------------------------------- */

/*
 * Send one message. The header does not say what IPCCHAN_IOC_SEND returns
 * on success (only the library's "0 or -errno"), so any non-negative
 * return is success and reads as 0 here.
 */
static inline int chan_send_t(int fd, const void *buf, __u64 len, __u32 prio,
			      __u64 flags, __u64 timeout_ns)
{
	struct ipcchan_send s;
	long r;

	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.buf = ptr64(buf);
	s.len = len;
	s.prio = prio;
	s.timeout_ns = timeout_ns;
	r = chan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
	return r < 0 ? (int)r : 0;
}

static inline int chan_send(int fd, const void *buf, __u64 len, __u32 prio,
			    __u64 flags)
{
	return chan_send_t(fd, buf, len, prio, flags, 0);
}

static inline int chan_send_str(int fd, const char *s, __u32 prio, __u64 flags)
{
	return chan_send(fd, s, strlen(s), prio, flags);
}

/* Returns the ioctl's result (the length) or -errno; fills *out if given. */
static inline long chan_recv_t(int fd, void *buf, __u64 len, __u64 flags,
			       __u64 timeout_ns, struct ipcchan_recv *out)
{
	struct ipcchan_recv r;
	long ret;

	memset(&r, 0, sizeof(r));
	r.flags = flags;
	r.buf = ptr64(buf);
	r.len = len;
	r.timeout_ns = timeout_ns;
	ret = chan_ioctl(fd, IPCCHAN_IOC_RECV, &r);
	if (out)
		*out = r;
	return ret;
}

static inline long chan_recv(int fd, void *buf, __u64 len, __u64 flags,
			     struct ipcchan_recv *out)
{
	return chan_recv_t(fd, buf, len, flags, 0, out);
}

/* Batch send or receive (cmd); returns the count or -errno; *done if given. */
static inline long chan_batch(int fd, unsigned long cmd,
			      struct ipcchan_msghdr *msgs, __u32 count,
			      __u64 flags, __u64 timeout_ns, __u32 *done)
{
	struct ipcchan_batch b;
	long r;

	memset(&b, 0, sizeof(b));
	b.flags = flags;
	b.msgs = ptr64(msgs);
	b.count = count;
	b.timeout_ns = timeout_ns;
	b.done = 0xdeadbeef;
	r = chan_ioctl(fd, cmd, &b);
	if (done)
		*done = b.done;
	return r;
}

static inline int chan_stats(int fd, __u64 flags, struct ipcchan_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->flags = flags;
	return chan_ioctl(fd, IPCCHAN_IOC_STATS, st);
}

/* IPCCHAN_IOC_NOTIFY with pad and reserved zero; 0 or -errno. */
static inline int chan_notify(int fd, __u64 flags, int signo, __u64 value)
{
	struct ipcchan_notify n;

	memset(&n, 0, sizeof(n));
	n.flags = flags;
	n.signo = signo;
	n.value = value;
	return chan_ioctl(fd, IPCCHAN_IOC_NOTIFY, &n);
}

enum chan_waiter { WAITING_SENDERS, WAITING_RECEIVERS };

/*
 * Poll the stats of fd (with flags) until the number of tasks sleeping in
 * send or receive is at least want, for at most timeout_ms. This is how a
 * test knows a helper is blocked before it acts. Returns 0, or -ETIMEDOUT
 * (or the stats error).
 */
static inline int wait_waiters(int fd, __u64 flags, enum chan_waiter which,
			       __u32 want, unsigned int timeout_ms)
{
	__u64 end = now_ns(CLOCK_MONOTONIC) + timeout_ms * NSEC_PER_MSEC;
	struct ipcchan_stats st;
	int r;

	for (;;) {
		r = chan_stats(fd, flags, &st);
		if (r < 0)
			return r;
		if ((which == WAITING_SENDERS ? st.waiting_senders :
						st.waiting_receivers) >= want)
			return 0;
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

/* --- passing fds over a Unix socket (SCM_RIGHTS) ------------------------ */

static inline int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = "F", .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -errno;
}

static inline int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, 0) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* --- child processes ----------------------------------------------------- */

/*
 * Forked helpers never use ASSERT/EXPECT (the harness would run the
 * fixture's teardown in them); they check with CHILD_CHECK, which prints
 * what failed and exits with a non-zero status the parent asserts on.
 */
#define CHILD_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "# child %d: %s:%d: check '%s' failed: ", \
			getpid(), __FILE__, __LINE__, #cond);		\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
		_exit(1);						\
	}								\
} while (0)

/* The child's exit status, or 128 + the signal that killed it. */
static inline int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* A shared anonymous mapping for results written by children. */
static inline void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* --- module parameters ----------------------------------------------------- */

struct param_save {
	const char *name;
	unsigned long long val;
	int saved;
};

static inline int param_save(struct param_save *p, const char *name)
{
	p->name = name;
	p->saved = ipcchan_param_read(name, &p->val) == 0;
	return p->saved ? 0 : -EIO;
}

static inline int param_set(const char *name, unsigned long long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", val);
	return ipcchan_param_write(name, buf);
}

static inline int param_restore(struct param_save *p)
{
	if (!p->saved)
		return 0;
	return param_set(p->name, p->val);
}

/* --- descriptor and file-table exhaustion --------------------------------- */

/*
 * Open eventfds (one struct file each, no path lookup) until one fails or
 * max are open; their numbers go to fds[]. Returns how many were opened;
 * *err is the errno of the failure (EMFILE: the process's descriptor
 * limit; ENFILE: the system's file table), 0 if max were opened.
 */
static inline int fill_files(int *fds, int max, int *err)
{
	int n = 0;

	*err = 0;
	while (n < max) {
		int fd = eventfd(0, EFD_CLOEXEC);

		if (fd < 0) {
			*err = errno;
			break;
		}
		fds[n++] = fd;
	}
	return n;
}

/* The lowest free descriptor number (dup allocates no file), or -errno. */
static inline int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		return -errno;
	close(fd);
	return fd;
}

/* Files fill_file_table() takes at the most. */
#define FILL_MAX	1024

/*
 * In a child, with fs.file-max set just above the files in use: record the
 * query in *q0, raise RLIMIT_NOFILE to its hard limit, drop to uid 65534
 * (CAP_SYS_ADMIN would pass the file-max check) and open files until the
 * system's table is full. Returns the eventfds it holds (*n of them) and
 * *lowest, the lowest free descriptor; exits the child if any step fails
 * or the table does not fill (ENFILE) first.
 */
static inline int *fill_file_table(int ctl, struct ipcchan_query *q0, int *n,
				   int *lowest)
{
	struct rlimit rl;
	int *fds, err;

	fds = calloc(FILL_MAX, sizeof(*fds));
	CHILD_CHECK(fds, "calloc");
	CHILD_CHECK(chan_query(ctl, q0) == 0, "query");
	CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	CHILD_CHECK(setresuid(65534, 65534, 65534) == 0, "setresuid: %s",
		    strerror(errno));
	*n = fill_files(fds, FILL_MAX, &err);
	CHILD_CHECK(err == ENFILE, "filling the file table: %d, then %s", *n,
		    strerror(err));
	*lowest = lowest_free_fd();
	return fds;
}

#define FILE_NR_PATH	"/proc/sys/fs/file-nr"
#define FILE_MAX_PATH	"/proc/sys/fs/file-max"

/* Read the first number of a /proc/sys file; 0 or -errno. */
static inline int sysctl_read_ull(const char *path, unsigned long long *val)
{
	char buf[128];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	*val = strtoull(buf, NULL, 10);
	return 0;
}

static inline int sysctl_write_ull(const char *path, unsigned long long val)
{
	char buf[32];
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%llu", val);
	n = write(fd, buf, strlen(buf));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

#endif /* IPCCHAN_SELFTEST_CHAN_H */
