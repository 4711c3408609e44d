// SPDX-License-Identifier: GPL-2.0
/*
 * Named channels: IPCCHAN_IOC_OPEN (CREATE, EXCL, SEND/RECV, mode,
 * attributes, created), IPCCHAN_IOC_UNLINK, the name rules, permissions
 * checked against the control fd's credentials (taken when it was opened),
 * lifetime (a linked channel outlives its fds; an unlinked one lives until
 * its last close; hangup only once unlinked), accounting, and IPC
 * namespace scoping. /proc/ipcchan is not tested here.
 *
 * Every name a test creates contains the test's name and pid and is
 * unlinked by the fixture's teardown, also after a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

#define OPEN_KNOWN	(IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | \
			 IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV | \
			 IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL)
#define SR		(IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV)
#define CSR		(IPCCHAN_OPEN_CREATE | SR)

#define UNPRIV_UID	1000
#define UNPRIV_GID	1000

#define MAX_NAMES	8

FIXTURE(named) {
	int ctl;
	struct ipcchan_query q;
	char name[128];			/* this test's main name */
	char names[MAX_NAMES][IPCCHAN_NAME_MAX + 2];	/* more, to clean up */
	int nnames;
	struct param_save p[2];
};

FIXTURE_SETUP(named)
{
	/* Permission tests below rely on the mode given, not on a umask. */
	umask(0);
	signal(SIGPIPE, SIG_IGN);
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &self->q));
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_CHANNELS);
	ASSERT_TRUE(self->q.features & IPCCHAN_FEAT_NAMED)
		TH_LOG("the module does not report IPCCHAN_FEAT_NAMED");
	snprintf(self->name, sizeof(self->name), "selftest-%s-%d",
		 _metadata->name, getpid());
	ASSERT_EQ(0, param_save(&self->p[0], "max_user_channels"));
	ASSERT_EQ(0, param_save(&self->p[1], "max_channels"));
}

FIXTURE_TEARDOWN(named)
{
	int ctl = ctl_open(), i;

	/* A fresh root control fd: the test's own may be gone. */
	if (ctl >= 0) {
		chan_unlink(ctl, self->name);
		for (i = 0; i < self->nnames; i++)
			chan_unlink(ctl, self->names[i]);
		close(ctl);
	}
	for (i = 0; i < 2; i++) {
		struct param_save *p = &self->p[i];

		EXPECT_EQ(0, param_restore(p)) TH_LOG("restoring %s", p->name);
	}
	close(self->ctl);
}

/* Register another name for the teardown to unlink; returns it. */
static char *extra_name(FIXTURE_DATA(named) *self, const char *tag)
{
	char *n = self->names[self->nnames++];

	snprintf(n, IPCCHAN_NAME_MAX + 1, "%s-%s", self->name, tag);
	return n;
}

static __u64 nr_channels(struct __test_metadata *_metadata, int ctl)
{
	struct ipcchan_query q;

	EXPECT_EQ(0, chan_query(ctl, &q));
	return q.nr_channels;
}

static int open_raw(int ctl, struct ipcchan_open *o)
{
	long r = chan_ioctl(ctl, IPCCHAN_IOC_OPEN, o);

	return r < 0 ? (int)r : o->fd;
}

static void init_open(struct ipcchan_open *o, const char *name, __u64 flags,
		      __u32 mode)
{
	memset(o, 0, sizeof(*o));
	o->flags = flags;
	o->name = ptr64(name);
	o->mode = mode;
}

/*
 * An unprivileged child must open its control fd itself, after dropping
 * privileges, so that the fd carries its credentials. The test guest's root
 * directory is mode 0700 (its initramfs is packed from a mktemp -d
 * directory), so a path lookup from / fails for uid 1000: drop_to() keeps a
 * descriptor of /dev opened before the drop, and ctl_open_self() opens the
 * device node relative to it. The open itself is the unprivileged one.
 */
static int dev_dirfd = -1;

static int ctl_open_self(void)
{
	int fd;

	if (dev_dirfd >= 0)
		fd = openat(dev_dirfd, IPCCHAN_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	else
		fd = open(IPCCHAN_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Drop every privilege: to uid and gid with these supplementary groups. */
static int drop_to_groups(uid_t uid, gid_t gid, size_t ngroups,
			  const gid_t *groups)
{
	dev_dirfd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_dirfd < 0)
		return -errno;
	if (setgroups(ngroups, groups))
		return -errno;
	if (setresgid(gid, gid, gid))
		return -errno;
	if (setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/* Drop every privilege: no supplementary groups, gid, uid. */
static int drop_to(uid_t uid, gid_t gid)
{
	return drop_to_groups(uid, gid, 0, NULL);
}

/* ---- open and create ------------------------------------------------------ */

TEST_F(named, open_create_and_reopen)
{
	struct ipcchan_stats st;
	struct ipcchan_recv r;
	__u32 created = 99;
	__u64 n0 = nr_channels(_metadata, self->ctl);
	int a, b, c;
	char buf[16];

	a = chan_open_attr(self->ctl, self->name, CSR, 0600, 0, 0, 0, &created);
	ASSERT_GE(a, 0) TH_LOG("open: %s", strerror(-a));
	EXPECT_EQ(1, created);
	EXPECT_EQ(n0 + 1, nr_channels(_metadata, self->ctl));

	/* CREATE on an existing name opens it. */
	b = chan_open_attr(self->ctl, self->name, CSR, 0600, 0, 0, 0, &created);
	ASSERT_GE(b, 0);
	EXPECT_EQ(0, created);
	/* And so does an open without CREATE. */
	c = chan_open_attr(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0, 0, 0, 0,
			   &created);
	ASSERT_GE(c, 0);
	EXPECT_EQ(0, created);
	EXPECT_EQ(n0 + 1, nr_channels(_metadata, self->ctl));

	/* One channel behind the three fds. */
	ASSERT_EQ(0, chan_send_str(a, "via a", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(b, "via b", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(5, chan_recv(c, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "via a", 5));
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(5, chan_recv(a, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "via b", 5));
	EXPECT_EQ(2, r.seq);
	ASSERT_EQ(0, chan_stats(c, 0, &st));
	EXPECT_EQ(2, st.senders);
	EXPECT_EQ(3, st.receivers);
	EXPECT_EQ(IPCCHAN_DEFAULT_MSG_SIZE <= self->q.max_msg_size ?
		  IPCCHAN_DEFAULT_MSG_SIZE : self->q.max_msg_size,
		  st.msg_size_max);
	close(a);
	close(b);
	close(c);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	EXPECT_EQ(n0, nr_channels(_metadata, self->ctl));
}

TEST_F(named, open_raw_fields)
{
	struct ipcchan_open o;
	int fd;
	unsigned int i;

	init_open(&o, self->name, CSR, 0640);
	o.fd = 4242;		/* outputs carry garbage in */
	o.created = 77;
	fd = open_raw(self->ctl, &o);
	ASSERT_GE(fd, 0);
	EXPECT_NE(4242, fd);
	EXPECT_EQ(1, o.created);
	EXPECT_EQ(0, o.pad);
	for (i = 0; i < ARRAY_SIZE(o.reserved); i++) {
		EXPECT_EQ(0, o.reserved[i]);
	}
	close(fd);
	init_open(&o, self->name, IPCCHAN_OPEN_SEND, 0);
	o.created = 77;
	fd = open_raw(self->ctl, &o);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, o.created);
	close(fd);
}

TEST_F(named, create_excl)
{
	__u32 created = 5;
	int a, b;

	a = chan_open_attr(self->ctl, self->name,
			   CSR | IPCCHAN_OPEN_EXCL, 0600, 0, 0, 0, &created);
	ASSERT_GE(a, 0);
	EXPECT_EQ(1, created);
	EXPECT_EQ(-EEXIST, chan_open(self->ctl, self->name,
				     CSR | IPCCHAN_OPEN_EXCL, 0600));
	EXPECT_EQ(-EEXIST, chan_open(self->ctl, self->name,
				     IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL |
				     IPCCHAN_OPEN_RECV, 0600));
	/* After unlink the name is free for an exclusive create again. */
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	b = chan_open_attr(self->ctl, self->name,
			   CSR | IPCCHAN_OPEN_EXCL, 0600, 0, 0, 0, &created);
	ASSERT_GE(b, 0);
	EXPECT_EQ(1, created);
	close(a);
	close(b);
}

TEST_F(named, open_missing_enoent)
{
	__u64 n0 = nr_channels(_metadata, self->ctl);

	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, IPCCHAN_OPEN_SEND, 0));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0600));
	EXPECT_EQ(n0, nr_channels(_metadata, self->ctl));
}

TEST_F(named, open_needs_send_or_recv)
{
	static const __u64 bad[] = {
		0, IPCCHAN_OPEN_CREATE, IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL,
		IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK | IPCCHAN_OPEN_CREATE,
		/* EXCL without CREATE */
		IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND,
		IPCCHAN_OPEN_EXCL | SR,
	};
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		__u64 f = bad[i];

		EXPECT_EQ(-EINVAL, chan_open(self->ctl, self->name, f, 0600))
			TH_LOG("flags %#llx", (unsigned long long)f);
	}
	/* Nothing was created. */
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
	/* Also for an existing name. */
	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(-EINVAL, chan_open(self->ctl, self->name, 0, 0));
	EXPECT_EQ(-EINVAL, chan_open(self->ctl, self->name, IPCCHAN_OPEN_CREATE,
				     0600));
	EXPECT_EQ(-EINVAL, chan_open(self->ctl, self->name,
				     IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_RECV, 0));
}

TEST_F(named, open_mode_validation)
{
	static const __u32 bad[] = { 01000, 02000, 04000, 01777, 04755, 010000,
				     0x10000, 0x80000000, UINT32_MAX };
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		__u32 m = bad[i];

		EXPECT_EQ(-EINVAL, chan_open(self->ctl, self->name, CSR, m))
			TH_LOG("mode %#o", m);
	}
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
	/* 0777 and 0 are valid modes. */
	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL, 0777);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL, 0);
	ASSERT_GE(fd, 0);
	close(fd);
	/* Root (CAP_IPC_OWNER) opens a mode-0 channel. */
	fd = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
	/* Without CREATE the mode is ignored, however bad. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		__u32 m = bad[i];

		fd = chan_open(self->ctl, self->name, SR, m);
		EXPECT_LE(0, fd) TH_LOG("mode %#o without CREATE", m);
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(named, no_umask)
{
	pid_t pid;
	int fd;

	/* The mode given is the mode: a umask does not apply. */
	umask(077);
	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL, 0666);
	umask(0);
	ASSERT_GE(fd, 0);
	close(fd);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ctl;

		alarm(30);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		ctl = ctl_open_self();
		CHILD_CHECK(ctl >= 0, "ctl_open");
		fd = chan_open(ctl, self->name, SR, 0);
		CHILD_CHECK(fd >= 0, "open 0666 as uid 1000: %d", fd);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));
}

TEST_F(named, open_unknown_flags)
{
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		__u64 f = 1ULL << bit;
		int fd;

		if (f & OPEN_KNOWN)
			continue;
		fd = chan_open(self->ctl, self->name, f | CSR, 0600);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("flag bit %u", bit);
		if (fd >= 0)
			close(fd);
		EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0))
			TH_LOG("flag bit %u created the channel", bit);
		chan_unlink(self->ctl, self->name);
	}
}

TEST_F(named, open_reserved_pad)
{
	struct ipcchan_open o;
	unsigned int i;

	init_open(&o, self->name, CSR, 0600);
	o.pad = 1;
	EXPECT_EQ(-EINVAL, open_raw(self->ctl, &o));
	for (i = 0; i < ARRAY_SIZE(o.reserved); i++) {
		init_open(&o, self->name, CSR, 0600);
		o.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, open_raw(self->ctl, &o)) TH_LOG("reserved[%u]", i);
	}
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
}

TEST_F(named, open_bad_pointers)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ipcchan_open o;
	char *map;

	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_OPEN, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_OPEN,
				      unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_OPEN, KERNEL_ADDR));
	/* The name pointer. */
	EXPECT_EQ(-EFAULT, chan_open(self->ctl, NULL, CSR, 0600));
	EXPECT_EQ(-EFAULT, chan_open(self->ctl, unmapped_addr(), CSR, 0600));
	EXPECT_EQ(-EFAULT, chan_open(self->ctl, KERNEL_ADDR, CSR, 0600));

	/* A name that runs off its mapping before its NUL. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	memset(map, 'n', page);
	EXPECT_EQ(-EFAULT, chan_open(self->ctl, map + page - 10, CSR, 0600));
	/* More than IPCCHAN_NAME_MAX bytes without a NUL. */
	EXPECT_EQ(-ENAMETOOLONG, chan_open(self->ctl, map + page - 1000, CSR,
					   0600));
	/* Read-only struct: the output cannot be written. */
	init_open(&o, self->name, CSR, 0600);
	memcpy(map, &o, sizeof(o));
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_OPEN, map));
	munmap(map, page);
}

TEST_F(named, struct_sizes)
{
	static unsigned char buf[1024];
	unsigned int sizes[] = { 0, 8, 16, IPCCHAN_OPEN_SIZE_VER0 - 8,
				 IPCCHAN_OPEN_SIZE_VER0 - 1 };
	unsigned int usizes[] = { 0, 8, 16, IPCCHAN_UNLINK_SIZE_VER0 - 8,
				  IPCCHAN_UNLINK_SIZE_VER0 - 1 };
	struct ipcchan_open *o = (void *)buf;
	struct ipcchan_unlink *u = (void *)buf;
	unsigned int i;
	int fd;

	EXPECT_EQ(IPCCHAN_OPEN_SIZE_VER0, sizeof(struct ipcchan_open));
	EXPECT_EQ(IPCCHAN_UNLINK_SIZE_VER0, sizeof(struct ipcchan_unlink));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int s = sizes[i];

		memset(buf, 0, sizeof(buf));
		init_open(o, self->name, CSR, 0600);
		EXPECT_EQ(-EINVAL, chan_ioctl(self->ctl,
					      ioc_resize(IPCCHAN_IOC_OPEN, s), buf))
			TH_LOG("OPEN size %u", s);
	}
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));

	/* Larger: a non-zero tail is -E2BIG, a zero tail is accepted. */
	memset(buf, 0, sizeof(buf));
	init_open(o, self->name, CSR, 0600);
	buf[sizeof(*o) + 5] = 1;
	EXPECT_EQ(-E2BIG, chan_ioctl(self->ctl, ioc_resize(IPCCHAN_IOC_OPEN,
							   sizeof(*o) + 32), buf));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
	memset(buf, 0, sizeof(buf));
	init_open(o, self->name, CSR, 0600);
	EXPECT_LE(0, chan_ioctl(self->ctl, ioc_resize(IPCCHAN_IOC_OPEN,
						      sizeof(*o) + 32), buf));
	fd = o->fd;
	EXPECT_GE(fd, 0);
	EXPECT_EQ(1, o->created);
	for (i = 0; i < 32; i++) {
		EXPECT_EQ(0, buf[sizeof(*o) + i]);
	}
	close(fd);

	for (i = 0; i < ARRAY_SIZE(usizes); i++) {
		unsigned int s = usizes[i];

		memset(buf, 0, sizeof(buf));
		u->name = ptr64(self->name);
		EXPECT_EQ(-EINVAL, chan_ioctl(self->ctl,
					      ioc_resize(IPCCHAN_IOC_UNLINK, s),
					      buf))
			TH_LOG("UNLINK size %u", s);
	}
	memset(buf, 0, sizeof(buf));
	u->name = ptr64(self->name);
	buf[sizeof(*u) + 3] = 1;
	EXPECT_EQ(-E2BIG, chan_ioctl(self->ctl, ioc_resize(IPCCHAN_IOC_UNLINK,
							   sizeof(*u) + 16), buf));
	buf[sizeof(*u) + 3] = 0;
	EXPECT_EQ(0, chan_ioctl(self->ctl, ioc_resize(IPCCHAN_IOC_UNLINK,
						      sizeof(*u) + 16), buf));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
}

/* ---- names ------------------------------------------------------------------ */

TEST_F(named, names_invalid)
{
	static const char * const bad[] = {
		"", "/", "a/b", "/abc", "abc/", "//", ".", "..",
	};
	char name[IPCCHAN_NAME_MAX + 2];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *n = bad[i];

		EXPECT_EQ(-EINVAL, chan_open(self->ctl, n, CSR, 0600))
			TH_LOG("open '%s'", n);
		EXPECT_EQ(-EINVAL, chan_open(self->ctl, n, SR, 0))
			TH_LOG("open '%s' without CREATE", n);
		EXPECT_EQ(-EINVAL, chan_unlink(self->ctl, n))
			TH_LOG("unlink '%s'", n);
	}
	/* 256 bytes: too long, for open and unlink. */
	memset(name, 'L', IPCCHAN_NAME_MAX + 1);
	name[IPCCHAN_NAME_MAX + 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, chan_open(self->ctl, name, CSR, 0600));
	EXPECT_EQ(-ENAMETOOLONG, chan_open(self->ctl, name, SR, 0));
	EXPECT_EQ(-ENAMETOOLONG, chan_unlink(self->ctl, name));
}

TEST_F(named, names_valid_edges)
{
	char *n255 = extra_name(self, "255");
	char *dots = extra_name(self, "dots");
	char *odd = extra_name(self, "odd");
	size_t len;
	int fd;

	/* Exactly IPCCHAN_NAME_MAX bytes. */
	len = strlen(n255);
	memset(n255 + len, 'x', IPCCHAN_NAME_MAX - len);
	n255[IPCCHAN_NAME_MAX] = '\0';
	ASSERT_EQ(IPCCHAN_NAME_MAX, strlen(n255));
	fd = chan_open(self->ctl, n255, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0) TH_LOG("255-byte name: %s", strerror(-fd));
	close(fd);
	fd = chan_open(self->ctl, n255, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, n255));
	EXPECT_EQ(-ENOENT, chan_unlink(self->ctl, n255));

	/* Dots are fine unless the whole name is "." or "..". */
	strcpy(dots, "...");
	fd = chan_open(self->ctl, dots, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0) TH_LOG("'...': %s", strerror(-fd));
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, dots));
	snprintf(dots, IPCCHAN_NAME_MAX, ".%s", self->name);
	fd = chan_open(self->ctl, dots, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, dots));

	/* Any other byte: spaces, newlines, UTF-8. */
	snprintf(odd, IPCCHAN_NAME_MAX, "%s sp\n\xc3\xa9\x01\xff", self->name);
	fd = chan_open(self->ctl, odd, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, odd));

	/* Names are compared exactly: a prefix is another name. */
	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	strcpy(odd, self->name);
	odd[strlen(odd) - 1] = '\0';
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, odd, SR, 0));
}

/* ---- unlink and lifetime ---------------------------------------------------- */

TEST_F(named, unlink_basic)
{
	__u64 n0 = nr_channels(_metadata, self->ctl);
	struct ipcchan_recv r;
	__u32 created;
	int old, fresh;
	char buf[16];

	old = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(old, 0);
	ASSERT_EQ(0, chan_send_str(old, "old-1", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));

	/* The name is gone at once. */
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
	EXPECT_EQ(-ENOENT, chan_unlink(self->ctl, self->name));
	/* The channel is not: its endpoints work. */
	EXPECT_EQ(n0 + 1, nr_channels(_metadata, self->ctl));
	ASSERT_EQ(0, chan_send_str(old, "old-2", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(5, chan_recv(old, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "old-1", 5));

	/* The same name now makes a new, separate channel. */
	fresh = chan_open_attr(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL,
			       0600, 0, 0, 0, &created);
	ASSERT_GE(fresh, 0);
	EXPECT_EQ(1, created);
	EXPECT_EQ(n0 + 2, nr_channels(_metadata, self->ctl));
	EXPECT_EQ(-EAGAIN, chan_recv(fresh, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				     NULL));
	ASSERT_EQ(0, chan_send_str(fresh, "new", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(5, chan_recv(old, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(0, memcmp(buf, "old-2", 5));
	EXPECT_EQ(-EAGAIN, chan_recv(old, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				     NULL));
	EXPECT_EQ(3, chan_recv(fresh, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(1, r.seq);

	/* The old one lives until its last close. */
	close(old);
	EXPECT_EQ(n0 + 1, nr_channels(_metadata, self->ctl));
	close(fresh);
	EXPECT_EQ(n0 + 1, nr_channels(_metadata, self->ctl));
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	EXPECT_EQ(n0, nr_channels(_metadata, self->ctl));
}

TEST_F(named, unlink_gone_after_last_close)
{
	struct ipcchan_query q0, q;
	char buf[64] = { 0 };
	int a, b;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	a = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(a, 0);
	b = dup(a);
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, chan_send(a, buf, 50, 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	EXPECT_EQ(q0.user_channels + 1, q.user_channels);
	EXPECT_EQ(q0.user_bytes + 50 + IPCCHAN_MSG_OVERHEAD, q.user_bytes);
	close(a);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	close(b);
	/* Destroyed with its queued message; everything is returned. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(q0.user_channels, q.user_channels);
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
}

TEST_F(named, survives_close_of_all_fds)
{
	struct ipcchan_query q0, q;
	struct ipcchan_recv r;
	char buf[16];
	int fd;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	fd = chan_open(self->ctl, self->name,
		       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, chan_send_str(fd, "one", 1, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fd, "two", 5, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(fd, "three", 1, IPCCHAN_NONBLOCK));
	close(fd);
	/* Even the control fd it was made through. */
	close(self->ctl);
	self->ctl = ctl_open();
	ASSERT_GE(self->ctl, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	EXPECT_EQ(q0.user_bytes + 11 + 3 * IPCCHAN_MSG_OVERHEAD, q.user_bytes);

	/* A later opener receives what was queued, in order. */
	fd = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(fd, 0);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_STREQ("two", buf);
	EXPECT_EQ(2, r.seq);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_STREQ("one", buf);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_STREQ("three", buf);
	EXPECT_EQ(3, r.seq);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
}

TEST_F(named, no_hangup_while_linked)
{
	struct pollfd pfd;
	struct ipcchan_recv r;
	int rx, tx;
	char buf[8];

	rx = chan_open(self->ctl, self->name,
		       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_RECV, 0600);
	ASSERT_GE(rx, 0);
	tx = chan_open(self->ctl, self->name, IPCCHAN_OPEN_SEND, 0);
	ASSERT_GE(tx, 0);
	ASSERT_EQ(0, chan_send_str(tx, "m", 0, IPCCHAN_NONBLOCK));
	close(tx);
	/* No sender now, but one may still open the name: no end of channel. */
	EXPECT_EQ(1, chan_recv(rx, buf, sizeof(buf), IPCCHAN_NONBLOCK, &r));
	EXPECT_EQ(-EAGAIN, chan_recv(rx, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				     &r));
	pfd = (struct pollfd){ .fd = rx, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents & POLLHUP);

	/* Unlinked, with no send endpoint: hung up. */
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	alarm(20);
	EXPECT_EQ(0, chan_recv(rx, buf, sizeof(buf), 0, &r));
	alarm(0);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(0, r.seq);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents & POLLHUP);
	close(rx);
}

TEST_F(named, no_epipe_while_linked)
{
	char buf[8];
	int rx, tx;

	tx = chan_open(self->ctl, self->name,
		       IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND, 0600);
	ASSERT_GE(tx, 0);
	/* No receiver has ever opened it: sends queue for a later one. */
	EXPECT_EQ(0, chan_send_str(tx, "a", 0, IPCCHAN_NONBLOCK));
	rx = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(rx, 0);
	close(rx);
	EXPECT_EQ(0, chan_send_str(tx, "b", 0, IPCCHAN_NONBLOCK));
	rx = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(rx, 0);
	EXPECT_EQ(1, chan_recv(rx, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ(1, chan_recv(rx, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('b', buf[0]);
	close(rx);

	/* Unlinked with no receive endpoint: no receiver can ever come. */
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	EXPECT_EQ(-EPIPE, chan_send_str(tx, "c", 0, IPCCHAN_NONBLOCK));
	alarm(20);
	EXPECT_EQ(-EPIPE, chan_send_str(tx, "c", 0, 0));
	alarm(0);
	close(tx);
}

TEST_F(named, unlink_bad_input)
{
	struct ipcchan_unlink u;
	unsigned int bit, i;
	int fd;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	for (bit = 0; bit < 64; bit++) {
		memset(&u, 0, sizeof(u));
		u.flags = 1ULL << bit;
		u.name = ptr64(self->name);
		EXPECT_EQ(-EINVAL, chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK, &u))
			TH_LOG("flag bit %u", bit);
	}
	for (i = 0; i < ARRAY_SIZE(u.reserved); i++) {
		memset(&u, 0, sizeof(u));
		u.name = ptr64(self->name);
		u.reserved[i] = 2;
		EXPECT_EQ(-EINVAL, chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK, &u))
			TH_LOG("reserved[%u]", i);
	}
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK, NULL));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK,
				      unmapped_addr()));
	EXPECT_EQ(-EFAULT, chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK, KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, chan_unlink(self->ctl, NULL));
	EXPECT_EQ(-EFAULT, chan_unlink(self->ctl, KERNEL_ADDR));
	EXPECT_EQ(-EFAULT, chan_unlink(self->ctl, unmapped_addr()));
	/* Still there after all that. */
	fd = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	EXPECT_EQ(-ENOENT, chan_unlink(self->ctl, self->name));
}

TEST_F(named, named_ioctls_on_endpoint_enotty)
{
	struct ipcchan_open o;
	struct ipcchan_unlink u;
	int fd;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	init_open(&o, self->name, SR, 0);
	EXPECT_EQ(-ENOTTY, chan_ioctl(fd, IPCCHAN_IOC_OPEN, &o));
	memset(&u, 0, sizeof(u));
	u.name = ptr64(self->name);
	EXPECT_EQ(-ENOTTY, chan_ioctl(fd, IPCCHAN_IOC_UNLINK, &u));
	close(fd);
	/* The name survived the attempt. */
	fd = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
}

/* ---- endpoints of named channels -------------------------------------------- */

TEST_F(named, endpoint_directions)
{
	struct ipcchan_stats st, st_tx;
	char buf[8];
	int s, r, sr;

	s = chan_open(self->ctl, self->name,
		      IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND, 0600);
	ASSERT_GE(s, 0);
	r = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(r, 0);
	sr = chan_open(self->ctl, self->name, SR, 0);
	ASSERT_GE(sr, 0);

	EXPECT_EQ(-EBADF, chan_recv(s, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(-EBADF, chan_send_str(r, "x", 0, IPCCHAN_NONBLOCK));
	/* A SEND|RECV endpoint sends to the channel it receives from. */
	ASSERT_EQ(0, chan_send_str(sr, "y", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(1, chan_recv(sr, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ('y', buf[0]);
	ASSERT_EQ(0, chan_send_str(s, "z", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_stats(sr, 0, &st));
	ASSERT_EQ(0, chan_stats(sr, IPCCHAN_STATS_TX, &st_tx));
	EXPECT_EQ(st.sent, st_tx.sent);
	EXPECT_EQ(st.queued_msgs, st_tx.queued_msgs);
	EXPECT_EQ(2, st.senders);
	EXPECT_EQ(2, st.receivers);
	ASSERT_EQ(0, chan_stats(s, 0, &st));
	EXPECT_EQ(1, st.queued_msgs);
	close(sr);
	ASSERT_EQ(0, chan_stats(r, 0, &st));
	EXPECT_EQ(1, st.senders);
	EXPECT_EQ(1, st.receivers);
	close(s);
	close(r);
}

TEST_F(named, open_fd_flags)
{
	int fd;

	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_FD_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	fd = chan_open(self->ctl, self->name, SR | IPCCHAN_FD_NONBLOCK, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	{
		char c;

		alarm(20);
		EXPECT_EQ(-EAGAIN, chan_recv(fd, &c, 1, 0, NULL));
		alarm(0);
	}
	close(fd);
	fd = chan_open(self->ctl, self->name, SR, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

TEST_F(named, attrs_used_only_at_creation)
{
	struct ipcchan_stats st;
	int a, b;

	a = chan_open_attr(self->ctl, self->name, CSR, 0600, 100, 3, 250, NULL);
	ASSERT_GE(a, 0);
	ASSERT_EQ(0, chan_stats(a, 0, &st));
	EXPECT_EQ(100, st.msg_size_max);
	EXPECT_EQ(3, st.queue_msgs);
	EXPECT_EQ(250, st.queue_bytes);
	/* Opening the existing channel with other attributes changes nothing. */
	b = chan_open_attr(self->ctl, self->name, CSR, 0600, 4000, 9, 0, NULL);
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, chan_stats(b, 0, &st));
	EXPECT_EQ(100, st.msg_size_max);
	EXPECT_EQ(3, st.queue_msgs);
	EXPECT_EQ(250, st.queue_bytes);
	EXPECT_EQ(-EMSGSIZE, chan_send(b, "x", 101, 0, IPCCHAN_NONBLOCK));
	close(b);
	/* Invalid attributes are ignored too when nothing is created. */
	b = chan_open_attr(self->ctl, self->name, SR, 0, UINT32_MAX, UINT32_MAX,
			   UINT64_MAX, NULL);
	EXPECT_LE(0, b);
	if (b >= 0)
		close(b);
	close(a);
}

TEST_F(named, attrs_validated_at_creation)
{
	EXPECT_EQ(-EINVAL, chan_open_attr(self->ctl, self->name, CSR, 0600,
					  UINT32_MAX, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, chan_open_attr(self->ctl, self->name, CSR, 0600,
					  100, 0, 99, NULL));
	EXPECT_EQ(-EINVAL, chan_open_attr(self->ctl, self->name, CSR, 0600,
					  16, UINT32_MAX, 0, NULL));
	EXPECT_EQ(-EINVAL, chan_open_attr(self->ctl, self->name, CSR, 0600,
					  16, 1, self->q.max_queue_bytes + 1,
					  NULL));
	if (self->q.max_msg_size < UINT32_MAX) {
		EXPECT_EQ(-EINVAL, chan_open_attr(self->ctl, self->name, CSR,
						  0600,
						  (__u32)self->q.max_msg_size + 1,
						  1, 0, NULL));
	}
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
}

TEST_F(named, accounting_and_limits)
{
	struct ipcchan_query q0, q;
	__u32 created = 99;
	int a, b;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	a = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(a, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_channels + 1, q.user_channels);
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	/* Reopening is not a creation and charges nothing. */
	b = chan_open(self->ctl, self->name, SR, 0);
	ASSERT_GE(b, 0);
	close(b);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_channels + 1, q.user_channels);

	/* At the per-user limit: creating fails, opening does not. */
	ASSERT_EQ(0, param_set("max_user_channels", q.user_channels));
	EXPECT_EQ(-EMFILE, chan_open(self->ctl, extra_name(self, "u"), CSR,
				     0600));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->names[0], SR, 0));
	b = chan_open_attr(self->ctl, self->name, CSR, 0600, 0, 0, 0, &created);
	EXPECT_GE(b, 0);
	EXPECT_EQ(0, created);
	close(b);
	EXPECT_EQ(0, param_restore(&self->p[0]));

	/* At the system limit: -ENFILE. */
	ASSERT_EQ(0, param_set("max_channels", q.nr_channels));
	EXPECT_EQ(-ENFILE, chan_open(self->ctl, extra_name(self, "s"), CSR,
				     0600));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->names[1], SR, 0));
	b = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(b, 0);
	close(b);
	EXPECT_EQ(0, param_restore(&self->p[1]));
	close(a);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.user_channels, q.user_channels);
}

/* ---- fdinfo of named endpoints --------------------------------------------- */

/* Read /proc/self/fdinfo/fd into buf; returns the length or -errno. */
static int read_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int pfd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	n = read(pfd, buf, size - 1);
	close(pfd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* The value of "<tag>:\t..." in fdinfo text, up to the newline, or NULL. */
static const char *fdinfo_line(const char *text, const char *tag, char *out,
			       size_t size)
{
	const char *p = text, *end;
	size_t tlen = strlen(tag);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, tag, tlen) || p[tlen] != ':' || p[tlen + 1] != '\t')
			continue;
		p += tlen + 2;
		end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) >= size)
			return NULL;
		memcpy(out, p, end - p);
		out[end - p] = '\0';
		return out;
	}
	return NULL;
}

/*
 * A named channel's endpoint shows its name in fdinfo, after the counters
 * of each direction it has ("ipcchan-rx-name:", "ipcchan-tx-name:"), with
 * space, tab, newline and backslash escaped as \ooo as in /proc/ipcchan,
 * so that every line of fdinfo stays one line.
 */
TEST_F(named, fdinfo_names)
{
	char text[4096], val[1024], want[1024], esc[512], stats[512];
	const char *name = extra_name(self, "fd a\tb\nc\\d");
	struct ipcchan_stats st;
	const char *p;
	char *q = esc;
	int sr, s, r, anon[2];

	for (p = name; *p; p++) {
		if (strchr(" \t\n\\", *p))
			q += sprintf(q, "\\%03o", (unsigned char)*p);
		else
			*q++ = *p;
	}
	*q = '\0';
	sr = chan_open(self->ctl, name, CSR, 0600);
	ASSERT_GE(sr, 0);
	s = chan_open(self->ctl, name, IPCCHAN_OPEN_SEND, 0);
	ASSERT_GE(s, 0);
	r = chan_open(self->ctl, name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(r, 0);
	ASSERT_EQ(0, chan_send_str(s, "abc", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, chan_send_str(sr, "hello", 0, IPCCHAN_NONBLOCK));
	/* The counters now, and the attributes in effect. */
	ASSERT_EQ(0, chan_stats(sr, 0, &st));
	snprintf(stats, sizeof(stats),
		 "queued_msgs=2 queued_bytes=8 sent=2 received=0 senders=2 receivers=2 msg_size_max=%llu queue_msgs=%llu queue_bytes=%llu",
		 (unsigned long long)st.msg_size_max,
		 (unsigned long long)st.queue_msgs,
		 (unsigned long long)st.queue_bytes);

	/* Both directions: counters then name, rx first. */
	ASSERT_LT(0, read_fdinfo(sr, text, sizeof(text)));
	TH_LOG("fdinfo of a send+receive endpoint:\n%s", text);
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-rx", val, sizeof(val)));
	EXPECT_STREQ(stats, val);
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-rx-name", val, sizeof(val)));
	EXPECT_STREQ(esc, val);
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-tx", val, sizeof(val)));
	EXPECT_STREQ(stats, val);
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-tx-name", val, sizeof(val)));
	EXPECT_STREQ(esc, val);
	EXPECT_LT(strstr(text, "ipcchan-rx-name:"), strstr(text, "ipcchan-tx:"));
	/* Raw, the name's newline would have split a line. */
	snprintf(want, sizeof(want), "%s\n", name);
	EXPECT_EQ(NULL, strstr(text, want));

	/* One direction each. */
	ASSERT_LT(0, read_fdinfo(s, text, sizeof(text)));
	EXPECT_EQ(NULL, strstr(text, "ipcchan-rx"));
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-tx-name", val, sizeof(val)));
	EXPECT_STREQ(esc, val);
	ASSERT_LT(0, read_fdinfo(r, text, sizeof(text)));
	EXPECT_EQ(NULL, strstr(text, "ipcchan-tx"));
	ASSERT_NE(NULL, fdinfo_line(text, "ipcchan-rx-name", val, sizeof(val)));
	EXPECT_STREQ(esc, val);

	/* An anonymous channel has no name line. */
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, anon));
	ASSERT_LT(0, read_fdinfo(anon[0], text, sizeof(text)));
	EXPECT_NE(NULL, fdinfo_line(text, "ipcchan-rx", val, sizeof(val)));
	EXPECT_EQ(NULL, strstr(text, "-name:"));
	close(anon[0]);
	close(anon[1]);
	close(r);
	close(s);
	close(sr);
}

/* ---- descriptor limits: nothing created, nothing installed -------------- */

/*
 * With no descriptor free below RLIMIT_NOFILE, IPCCHAN_IOC_OPEN fails with
 * -EMFILE before it looks at the name: CREATE makes no channel, and an
 * existing channel gains no endpoint.
 */
static int open_emfile_child(int ctl, const char *name, const char *existing)
{
	struct rlimit rl = { 32, 32 };
	struct ipcchan_query q0, q;
	struct ipcchan_stats st;
	int fds[32], n, err, fd, probe;

	probe = chan_open(ctl, existing, IPCCHAN_OPEN_SEND, 0);
	CHILD_CHECK(probe >= 0, "open %s: %d", existing, probe);
	CHILD_CHECK(chan_query(ctl, &q0) == 0, "query");
	CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s",
		    strerror(errno));
	n = fill_files(fds, 32, &err);
	CHILD_CHECK(err == EMFILE, "filling the descriptor table: %d, then %s",
		    n, strerror(err));
	fd = chan_open(ctl, name, CSR, 0600);
	CHILD_CHECK(fd == -EMFILE, "create: %d", fd);
	fd = chan_open(ctl, existing, SR, 0);
	CHILD_CHECK(fd == -EMFILE, "open existing: %d", fd);
	CHILD_CHECK(chan_query(ctl, &q) == 0 &&
		    q.nr_channels == q0.nr_channels &&
		    q.user_channels == q0.user_channels, "a channel was created");
	CHILD_CHECK(chan_stats(probe, IPCCHAN_STATS_TX, &st) == 0 &&
		    st.senders == 2 && st.receivers == 1,
		    "endpoints: %u senders %u receivers", st.senders,
		    st.receivers);
	/* One free: the name was never created. */
	close(fds[--n]);
	fd = chan_open(ctl, name, SR, 0);
	CHILD_CHECK(fd == -ENOENT, "open after the failed create: %d", fd);
	fd = chan_open(ctl, name, CSR, 0600);
	CHILD_CHECK(fd >= 0, "create with a free descriptor: %d", fd);
	return 0;
}

TEST_F(named, open_at_descriptor_limit_emfile)
{
	const char *name = extra_name(self, "emfile");
	pid_t pid;
	int fd;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		_exit(open_emfile_child(self->ctl, name, self->name));
	}
	EXPECT_EQ(0, wait_child(pid));
	/* The child's create went through once it had a descriptor. */
	EXPECT_EQ(0, chan_unlink(self->ctl, name));
	close(fd);
}

/*
 * The system's file table full (fs.file-max, for a task without
 * CAP_SYS_ADMIN): IPCCHAN_IOC_OPEN with CREATE fails with -ENFILE and
 * leaves no name behind (the channel it made for the name is unlinked
 * again); an open of an existing name fails likewise and leaves it be.
 */
static int open_enfile_child(int ctl, const char *name, const char *existing)
{
	struct ipcchan_query q0, q;
	int *fds, n, fd, lowest;

	fds = fill_file_table(ctl, &q0, &n, &lowest);
	fd = chan_open(ctl, name, CSR | IPCCHAN_OPEN_EXCL, 0600);
	CHILD_CHECK(fd == -ENFILE, "create: %d", fd);
	fd = chan_open(ctl, existing, SR, 0);
	CHILD_CHECK(fd == -ENFILE, "open existing: %d", fd);
	/* Looking a name up needs no file: the failed create left none. */
	fd = chan_open(ctl, name, SR, 0);
	CHILD_CHECK(fd == -ENOENT, "open after the failed create: %d", fd);
	CHILD_CHECK(lowest_free_fd() == lowest, "a descriptor was taken");
	CHILD_CHECK(chan_query(ctl, &q) == 0 &&
		    q.nr_channels == q0.nr_channels &&
		    q.user_channels == q0.user_channels, "a channel was created");
	while (n > 0)
		close(fds[--n]);
	fd = chan_open(ctl, existing, SR, 0);
	CHILD_CHECK(fd >= 0, "open existing with files free: %d", fd);
	return 0;
}

TEST_F(named, open_with_file_table_full_enfile)
{
	const char *name = extra_name(self, "enfile");
	unsigned long long in_use, max;
	pid_t pid;
	int fd, status;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, sysctl_read_ull(FILE_NR_PATH, &in_use));
	ASSERT_EQ(0, sysctl_read_ull(FILE_MAX_PATH, &max));
	ASSERT_EQ(0, sysctl_write_ull(FILE_MAX_PATH, in_use + 256));
	pid = fork();
	if (pid == 0) {
		alarm(30);
		_exit(open_enfile_child(self->ctl, name, self->name));
	}
	status = pid > 0 ? wait_child(pid) : -1;
	ASSERT_EQ(0, sysctl_write_ull(FILE_MAX_PATH, max));
	ASSERT_GE(pid, 0);
	EXPECT_EQ(0, status);
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, name, SR, 0));
	close(fd);
}

/* ---- permissions ------------------------------------------------------------ */

struct perm_case {
	__u32 mode;
	uid_t uid;
	gid_t gid;
	int send_err;	/* 0 or -EACCES for an open with SEND */
	int recv_err;	/* likewise with RECV */
	size_t ngroups;	/* supplementary groups */
	const gid_t *groups;
};

static const gid_t grp_root[] = { 0 };
static const gid_t grp_other_then_root[] = { 27, 0 };
static const gid_t grp_others[] = { 27, 100 };

static const struct perm_case perm_cases[] = {
	/* root-owned (uid 0, gid 0) channels opened by uid 1000 */
	{ 0644, UNPRIV_UID, UNPRIV_GID, -EACCES, 0, 0, NULL },
	{ 0600, UNPRIV_UID, UNPRIV_GID, -EACCES, -EACCES, 0, NULL },
	{ 0666, UNPRIV_UID, UNPRIV_GID, 0, 0, 0, NULL },
	{ 0602, UNPRIV_UID, UNPRIV_GID, 0, -EACCES, 0, NULL },
	{ 0604, UNPRIV_UID, UNPRIV_GID, -EACCES, 0, 0, NULL },
	{ 0660, UNPRIV_UID, UNPRIV_GID, -EACCES, -EACCES, 0, NULL },
	/* in the owning group: the group bits decide, not the other bits */
	{ 0640, UNPRIV_UID, 0, -EACCES, 0, 0, NULL },
	{ 0620, UNPRIV_UID, 0, 0, -EACCES, 0, NULL },
	{ 0606, UNPRIV_UID, 0, -EACCES, -EACCES, 0, NULL },
	/* execute bits grant nothing */
	{ 0611, UNPRIV_UID, UNPRIV_GID, -EACCES, -EACCES, 0, NULL },
	/* in the owning group through a supplementary group: the group bits */
	{ 0640, UNPRIV_UID, UNPRIV_GID, -EACCES, 0, 1, grp_root },
	{ 0620, UNPRIV_UID, UNPRIV_GID, 0, -EACCES, 2, grp_other_then_root },
	{ 0606, UNPRIV_UID, UNPRIV_GID, -EACCES, -EACCES, 2, grp_other_then_root },
	/* supplementary groups that do not own it: the other bits */
	{ 0660, UNPRIV_UID, UNPRIV_GID, -EACCES, -EACCES, 2, grp_others },
	{ 0064, UNPRIV_UID, UNPRIV_GID, -EACCES, 0, 2, grp_others },
};

static int perm_child(const char *name, const struct perm_case *pc)
{
	int ctl, fd, want_both;
	__u32 created;

	ctl = ctl_open_self();
	CHILD_CHECK(ctl >= 0, "ctl_open: %d", ctl);
	fd = chan_open(ctl, name, IPCCHAN_OPEN_SEND, 0);
	CHILD_CHECK(fd == pc->send_err || (pc->send_err == 0 && fd >= 0),
		    "mode %#o SEND: got %d want %d", pc->mode, fd, pc->send_err);
	if (fd >= 0) {
		CHILD_CHECK(chan_send_str(fd, "u", 0, IPCCHAN_NONBLOCK) == 0,
			    "send");
		close(fd);
	}
	fd = chan_open(ctl, name, IPCCHAN_OPEN_RECV, 0);
	CHILD_CHECK(fd == pc->recv_err || (pc->recv_err == 0 && fd >= 0),
		    "mode %#o RECV: got %d want %d", pc->mode, fd, pc->recv_err);
	if (fd >= 0)
		close(fd);
	want_both = pc->send_err ? pc->send_err : pc->recv_err;
	fd = chan_open(ctl, name, SR, 0);
	CHILD_CHECK(fd == want_both || (want_both == 0 && fd >= 0),
		    "mode %#o SEND|RECV: got %d want %d", pc->mode, fd,
		    want_both);
	if (fd >= 0)
		close(fd);
	/* CREATE on an existing name is an open: the same check. */
	fd = chan_open_attr(ctl, name, IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_RECV,
			    0666, 0, 0, 0, &created);
	CHILD_CHECK(fd == pc->recv_err || (pc->recv_err == 0 && fd >= 0),
		    "mode %#o CREATE|RECV: got %d", pc->mode, fd);
	if (fd >= 0) {
		CHILD_CHECK(created == 0, "created %u", created);
		close(fd);
	}
	/* EXCL on an existing name is -EEXIST whatever the permissions. */
	CHILD_CHECK(chan_open(ctl, name, IPCCHAN_OPEN_CREATE |
			      IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_RECV, 0666) ==
		    -EEXIST, "EXCL");
	/* Not the owner, no CAP_IPC_OWNER: no unlink. */
	CHILD_CHECK(chan_unlink(ctl, name) == -EACCES, "unlink");
	return 0;
}

TEST_F(named, permissions_by_mode)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(perm_cases); i++) {
		const struct perm_case *pc = &perm_cases[i];
		pid_t pid;
		int fd;

		fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL,
			       pc->mode);
		ASSERT_GE(fd, 0) TH_LOG("case %u", i);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			alarm(30);
			CHILD_CHECK(drop_to_groups(pc->uid, pc->gid,
						   pc->ngroups, pc->groups) == 0,
				    "drop");
			_exit(perm_child(self->name, pc));
		}
		EXPECT_EQ(0, wait_child(pid))
			TH_LOG("case %u: mode %#o uid %u gid %u, %zu groups", i,
			       pc->mode, pc->uid, pc->gid, pc->ngroups);
		/* The name is still there: the child could not unlink it. */
		EXPECT_EQ(0, chan_unlink(self->ctl, self->name))
			TH_LOG("case %u", i);
		close(fd);
	}
}

TEST_F(named, owner_permissions_and_unlink)
{
	pid_t pid;
	int fd;

	/* uid 1000 creates a channel; it is the owner. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ctl, w;
		__u32 created;

		alarm(30);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		ctl = ctl_open_self();
		CHILD_CHECK(ctl >= 0, "ctl_open");
		/* Owner bits -w-: the owner may send but not receive. */
		w = chan_open_attr(ctl, self->name,
				   IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND, 0200,
				   0, 0, 0, &created);
		CHILD_CHECK(w >= 0, "create: %d", w);
		CHILD_CHECK(created == 1, "created");
		CHILD_CHECK(chan_open(ctl, self->name, IPCCHAN_OPEN_RECV, 0) ==
			    -EACCES, "owner without read");
		fd = chan_open(ctl, self->name, IPCCHAN_OPEN_SEND, 0);
		CHILD_CHECK(fd >= 0, "owner with write: %d", fd);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	/* Root may open it anyway and unlink it (CAP_IPC_OWNER). */
	fd = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));

	/* The owner may unlink its own channel. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ctl;

		alarm(30);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		ctl = ctl_open_self();
		CHILD_CHECK(ctl >= 0, "ctl_open");
		fd = chan_open(ctl, self->name, IPCCHAN_OPEN_CREATE |
			       IPCCHAN_OPEN_EXCL | IPCCHAN_OPEN_SEND, 0200);
		CHILD_CHECK(fd >= 0, "create: %d", fd);
		close(fd);
		CHILD_CHECK(chan_unlink(ctl, self->name) == 0, "owner unlink");
		CHILD_CHECK(chan_open(ctl, self->name, IPCCHAN_OPEN_SEND, 0) ==
			    -ENOENT, "gone");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, self->name, SR, 0));
}

TEST_F(named, unprivileged_sender_creds)
{
	char *own_name = extra_name(self, "own");
	struct ipcchan_query root0, root1;
	struct ipcchan_recv r;
	char buf[16];
	pid_t pid;
	int rx;

	rx = chan_open(self->ctl, self->name, IPCCHAN_OPEN_CREATE |
		       IPCCHAN_OPEN_RECV, 0622);
	ASSERT_GE(rx, 0);
	ASSERT_EQ(0, chan_query(self->ctl, &root0));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ipcchan_query q0, q;
		int ctl, tx, own;

		alarm(30);
		close(rx);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID + 1) == 0, "drop");
		ctl = ctl_open_self();
		CHILD_CHECK(ctl >= 0, "ctl_open");
		tx = chan_open(ctl, self->name, IPCCHAN_OPEN_SEND, 0);
		CHILD_CHECK(tx >= 0, "open: %d", tx);
		CHILD_CHECK(chan_query(ctl, &q0) == 0, "query");
		CHILD_CHECK(chan_send_str(tx, "unpriv", 3, IPCCHAN_NONBLOCK) == 0,
			    "send");
		/* The bytes are charged to the uid that opened the sender. */
		CHILD_CHECK(chan_query(ctl, &q) == 0, "query");
		CHILD_CHECK(q.user_bytes ==
			    q0.user_bytes + 6 + IPCCHAN_MSG_OVERHEAD,
			    "user_bytes %llu -> %llu",
			    (unsigned long long)q0.user_bytes,
			    (unsigned long long)q.user_bytes);
		/* Its own channels are charged to uid 1000. */
		CHILD_CHECK(chan_query(ctl, &q0) == 0, "query");
		own = chan_open(ctl, own_name, CSR, 0600);
		CHILD_CHECK(own >= 0, "create: %d", own);
		CHILD_CHECK(chan_query(ctl, &q) == 0, "query");
		CHILD_CHECK(q.user_channels == q0.user_channels + 1,
			    "user_channels %llu -> %llu",
			    (unsigned long long)q0.user_channels,
			    (unsigned long long)q.user_channels);
		CHILD_CHECK(chan_unlink(ctl, own_name) == 0, "unlink own");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	/* Queued now, and not charged to root. */
	ASSERT_EQ(0, chan_query(self->ctl, &root1));
	EXPECT_EQ(root0.user_bytes, root1.user_bytes);
	EXPECT_EQ(root0.user_channels, root1.user_channels);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, chan_recv(rx, buf, sizeof(buf),
			       IPCCHAN_NONBLOCK | IPCCHAN_RECV_CREDS, &r));
	EXPECT_STREQ("unpriv", buf);
	EXPECT_EQ((__u32)pid, r.pid);
	EXPECT_EQ(UNPRIV_UID, r.uid);
	EXPECT_EQ(UNPRIV_GID + 1, r.gid);
	EXPECT_EQ(3, r.prio);
	close(rx);
}

TEST_F(named, creds_taken_when_ctl_opened)
{
	char *other = extra_name(self, "viaroot");
	pid_t pid;
	int fd;

	fd = chan_open(self->ctl, self->name, CSR, 0644);
	ASSERT_GE(fd, 0);
	close(fd);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* self->ctl was opened by root; keep it across the setuid. */
		int mine, w;

		alarm(30);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		mine = ctl_open_self();
		CHILD_CHECK(mine >= 0, "ctl_open");
		CHILD_CHECK(chan_open(mine, self->name, IPCCHAN_OPEN_SEND, 0) ==
			    -EACCES, "own ctl fd: SEND denied");
		w = chan_open(self->ctl, self->name, IPCCHAN_OPEN_SEND, 0);
		CHILD_CHECK(w >= 0, "root's ctl fd: SEND allowed, got %d", w);
		CHILD_CHECK(chan_send_str(w, "w", 0, IPCCHAN_NONBLOCK) == 0,
			    "send");
		close(w);
		/* A channel created through root's fd is root's. */
		w = chan_open(self->ctl, other, CSR, 0600);
		CHILD_CHECK(w >= 0, "create via root's fd: %d", w);
		close(w);
		CHILD_CHECK(chan_open(mine, other, IPCCHAN_OPEN_RECV, 0) ==
			    -EACCES, "the new channel is not uid 1000's");
		CHILD_CHECK(chan_unlink(mine, other) == -EACCES,
			    "unlink via own fd");
		CHILD_CHECK(chan_unlink(self->ctl, other) == 0,
			    "unlink via root's fd");
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	fd = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(1, chan_recv(fd, &(char){ 0 }, 1, IPCCHAN_NONBLOCK, NULL));
	close(fd);
	EXPECT_EQ(-ENOENT, chan_open(self->ctl, other, SR, 0));
}

TEST_F(named, passed_ctl_fd_keeps_opener_creds)
{
	int sv[2], uctl, fd;
	pid_t pid;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ctl;

		alarm(30);
		close(sv[0]);
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		ctl = ctl_open_self();
		CHILD_CHECK(ctl >= 0, "ctl_open");
		CHILD_CHECK(send_fd(sv[1], ctl) == 0, "send_fd");
		_exit(0);
	}
	close(sv[1]);
	uctl = recv_fd(sv[0]);
	ASSERT_GE(uctl, 0);
	ASSERT_EQ(0, wait_child(pid));
	/*
	 * Root uses a control fd opened by uid 1000: the checks use the
	 * fd's credentials, which have no CAP_IPC_OWNER, so root gains
	 * nothing from its own.
	 */
	EXPECT_EQ(-EACCES, chan_open(uctl, self->name, IPCCHAN_OPEN_SEND, 0));
	EXPECT_EQ(-EACCES, chan_open(uctl, self->name, IPCCHAN_OPEN_RECV, 0));
	EXPECT_EQ(-EACCES, chan_unlink(uctl, self->name));
	fd = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd, 0);
	close(fd);
	close(uctl);
	close(sv[0]);
}

/*
 * Root of a user namespace of its own is nobody to the channels of the
 * namespaces it does not own: uid 1000 with every capability in a new user
 * namespace (its uid 0 there) can neither open nor unlink root's 0600
 * channel, whose IPC namespace belongs to the initial user namespace. In
 * an IPC namespace its own user namespace owns, CAP_IPC_OWNER works: it
 * opens its own channel of mode 0.
 */
static int write_str(int dirfd, const char *path, const char *s)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		r = -errno;
	close(fd);
	return r;
}

/* proc: the child's /proc/self, opened before the drop (/ is 0700). */
static int userns_child(const char *name, int proc)
{
	int ctl, fd;

	/* setresuid() made it undumpable: /proc/self would be root's. */
	if (prctl(PR_SET_DUMPABLE, 1) || unshare(CLONE_NEWUSER))
		return 10;
	if (write_str(proc, "uid_map", "0 1000 1") ||
	    write_str(proc, "setgroups", "deny") ||
	    write_str(proc, "gid_map", "0 1000 1"))
		return 11;
	ctl = ctl_open_self();
	if (ctl < 0)
		return 12;
	if (chan_open(ctl, name, IPCCHAN_OPEN_SEND, 0) != -EACCES)
		return 13;
	if (chan_open(ctl, name, IPCCHAN_OPEN_RECV, 0) != -EACCES)
		return 14;
	if (chan_open(ctl, name, IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_RECV,
		      0666) != -EACCES)
		return 15;
	if (chan_unlink(ctl, name) != -EACCES)
		return 16;
	/* Its own IPC namespace: its capabilities count there. */
	if (unshare(CLONE_NEWIPC))
		return 17;
	fd = chan_open(ctl, name, IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL |
		       IPCCHAN_OPEN_SEND, 0);
	if (fd < 0)
		return 18;
	close(fd);
	fd = chan_open(ctl, name, SR, 0);
	if (fd < 0)
		return 19;
	close(fd);
	if (chan_unlink(ctl, name))
		return 20;
	return 0;
}

TEST_F(named, user_namespace_root_is_not_owner)
{
	pid_t pid;
	int fd, rc;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, chan_send_str(fd, "root's", 0, IPCCHAN_NONBLOCK));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int proc;

		alarm(30);
		close(fd);
		proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
		CHILD_CHECK(proc >= 0, "/proc/self");
		CHILD_CHECK(drop_to(UNPRIV_UID, UNPRIV_GID) == 0, "drop");
		_exit(userns_child(self->name, proc));
	}
	rc = wait_child(pid);
	EXPECT_EQ(0, rc) TH_LOG("child failed with status %d (see userns_child)",
				rc);
	/* Root's channel is untouched. */
	EXPECT_EQ(6, chan_recv(fd, &(char[8]){ 0 }, 8, IPCCHAN_NONBLOCK, NULL));
	close(fd);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
}

/* ---- IPC namespaces ---------------------------------------------------------- */

/* The child's part; it unlinks its own channel whatever happens. */
static int ns_child(const char *name, int parent_ctl, int to_parent,
		    int from_parent)
{
	struct ipcchan_stats st;
	int ctl, fd, rc = 0;
	__u32 created = 9;
	char buf[32], c;

	if (unshare(CLONE_NEWIPC)) {
		fprintf(stderr, "# unshare: %s\n", strerror(errno));
		return 10;
	}
	ctl = ctl_open_self();
	if (ctl < 0)
		return 11;
	/* The parent's name does not exist here. */
	if (chan_open(ctl, name, SR, 0) != -ENOENT)
		rc = 12;
	/* Names belong to the calling process's namespace, whatever fd. */
	if (!rc && chan_open(parent_ctl, name, SR, 0) != -ENOENT)
		rc = 13;
	fd = chan_open_attr(ctl, name, CSR | IPCCHAN_OPEN_EXCL, 0600, 0, 0, 0,
			    &created);
	if (fd < 0)
		return rc ? rc : 14;
	if (!rc && created != 1)
		rc = 15;
	if (!rc && chan_send_str(fd, "child-ns", 0, IPCCHAN_NONBLOCK))
		rc = 16;
	c = rc ? 'F' : 'R';
	if (write(to_parent, &c, 1) != 1 && !rc)
		rc = 17;
	/* Wait until the parent has looked. */
	if (read(from_parent, &c, 1) != 1 && !rc)
		rc = 18;
	if (!rc && (chan_stats(fd, 0, &st) || st.queued_msgs != 1))
		rc = 19;
	if (!rc && chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL) != 8)
		rc = 20;
	if (chan_unlink(ctl, name) && !rc)
		rc = 21;
	if (!rc && chan_open(ctl, name, SR, 0) != -ENOENT)
		rc = 22;
	close(fd);
	return rc;
}

TEST_F(named, ipc_namespace_scoping)
{
	int to_parent[2], from_parent[2], fd, fd2, rc;
	struct ipcchan_stats st;
	char buf[32], c = 0;
	pid_t pid;

	fd = chan_open(self->ctl, self->name, CSR, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(from_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(30);
		close(to_parent[0]);
		close(from_parent[1]);
		close(fd);
		_exit(ns_child(self->name, self->ctl, to_parent[1],
			       from_parent[0]));
	}
	close(to_parent[1]);
	close(from_parent[0]);
	EXPECT_EQ(1, read(to_parent[0], &c, 1));
	EXPECT_EQ('R', c);

	/* The child's channel of the same name is not ours. */
	EXPECT_EQ(-EAGAIN, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				     NULL));
	ASSERT_EQ(0, chan_stats(fd, 0, &st));
	EXPECT_EQ(0, st.sent);
	fd2 = chan_open(self->ctl, self->name, IPCCHAN_OPEN_SEND, 0);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(0, chan_send_str(fd2, "parent", 0, IPCCHAN_NONBLOCK));
	EXPECT_EQ(6, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, memcmp(buf, "parent", 6));
	close(fd2);
	EXPECT_EQ(1, write(from_parent[1], "g", 1));
	rc = wait_child(pid);
	EXPECT_EQ(0, rc) TH_LOG("child failed with status %d (see ns_child)",
				rc);
	/* Ours is still linked. */
	fd2 = chan_open(self->ctl, self->name, SR, 0);
	EXPECT_GE(fd2, 0);
	close(fd2);
	close(fd);
	close(to_parent[0]);
	close(from_parent[1]);
}

/*
 * A namespace's names die with it: once no process can enter an IPC
 * namespace any more, its channels are unlinked (and their charges
 * returned) by the module's collector, as POSIX mq queues die with their
 * namespace. While a process still lives in it, nothing is collected.
 */
static int ns_gc_child(int to_parent, int from_parent)
{
	char name[64], c = 'R';
	int ctl, fd;

	if (unshare(CLONE_NEWIPC))
		return 10;
	ctl = ctl_open_self();
	if (ctl < 0)
		return 11;
	snprintf(name, sizeof(name), "gc-%d", getpid());
	fd = chan_open(ctl, name, CSR, 0600);
	if (fd < 0)
		return 12;
	if (chan_send_str(fd, "pinned", 0, IPCCHAN_NONBLOCK))
		return 13;
	/* Every fd goes: only the name keeps the channel. */
	close(fd);
	close(ctl);
	if (write(to_parent, &c, 1) != 1)
		return 14;
	if (read(from_parent, &c, 1) != 1)
		return 15;
	return 0;
}

TEST_F_TIMEOUT(named, dead_namespace_names_collected, 60)
{
	struct ipcchan_query q0, q;
	int up[2], down[2], i;
	pid_t pid;
	char c;

	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		_exit(ns_gc_child(up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	ASSERT_EQ(1, read(up[0], &c, 1));

	/* The child still lives in the namespace: nothing may be collected. */
	sleep_ms(2000);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	EXPECT_EQ(q0.user_channels + 1, q.user_channels);
	EXPECT_LT(q0.user_bytes, q.user_bytes);

	/* The last process leaves; the names, channel and charges follow. */
	ASSERT_EQ(1, write(down[1], "x", 1));
	ASSERT_EQ(0, wait_child(pid));
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		if (q.nr_channels == q0.nr_channels)
			break;
		sleep_ms(50);
	}
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(q0.user_channels, q.user_channels);
	EXPECT_EQ(q0.user_bytes, q.user_bytes);
	close(up[0]);
	close(down[1]);
}

/*
 * The collector takes the dead namespace's names only. A namespace a
 * process still lives in keeps its name (the same string as one in the
 * initial namespace: names are keyed by namespace), and the initial
 * namespace keeps its own, each with its message.
 */
static int ns_live_child(const char *name, int to_parent, int from_parent)
{
	char buf[16], c = 'R';
	int ctl, fd;

	if (unshare(CLONE_NEWIPC))
		return 10;
	ctl = ctl_open_self();
	if (ctl < 0)
		return 11;
	fd = chan_open(ctl, name, CSR | IPCCHAN_OPEN_EXCL, 0600);
	if (fd < 0)
		return 12;
	if (chan_send_str(fd, "live", 0, IPCCHAN_NONBLOCK))
		return 13;
	close(fd);
	if (write(to_parent, &c, 1) != 1)
		return 14;
	/* Another namespace died meanwhile: this name is still here. */
	if (read(from_parent, &c, 1) != 1)
		return 15;
	fd = chan_open(ctl, name, IPCCHAN_OPEN_RECV, 0);
	if (fd < 0)
		return 16;
	if (chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL) != 4 ||
	    memcmp(buf, "live", 4))
		return 17;
	return 0;
}

TEST_F_TIMEOUT(named, dead_namespace_gc_spares_other_names, 60)
{
	int live_up[2], live_down[2], dead_up[2], dead_down[2], fd, i;
	struct ipcchan_query q0, q;
	pid_t live, dead;
	char buf[16], c;

	fd = chan_open(self->ctl, self->name, CSR | IPCCHAN_OPEN_EXCL, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, chan_send_str(fd, "init", 0, IPCCHAN_NONBLOCK));
	close(fd);
	ASSERT_EQ(0, chan_query(self->ctl, &q0));
	ASSERT_EQ(0, pipe(live_up));
	ASSERT_EQ(0, pipe(live_down));
	ASSERT_EQ(0, pipe(dead_up));
	ASSERT_EQ(0, pipe(dead_down));
	live = fork();
	ASSERT_GE(live, 0);
	if (live == 0) {
		alarm(50);
		close(live_up[0]);
		close(live_down[1]);
		_exit(ns_live_child(self->name, live_up[1], live_down[0]));
	}
	close(live_up[1]);
	close(live_down[0]);
	ASSERT_EQ(1, read(live_up[0], &c, 1));
	dead = fork();
	ASSERT_GE(dead, 0);
	if (dead == 0) {
		alarm(50);
		close(dead_up[0]);
		close(dead_down[1]);
		_exit(ns_gc_child(dead_up[1], dead_down[0]));
	}
	close(dead_up[1]);
	close(dead_down[0]);
	ASSERT_EQ(1, read(dead_up[0], &c, 1));
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 2, q.nr_channels);

	/* The second child's namespace dies: its name alone is collected. */
	ASSERT_EQ(1, write(dead_down[1], "x", 1));
	ASSERT_EQ(0, wait_child(dead));
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		if (q.nr_channels == q0.nr_channels + 1)
			break;
		sleep_ms(50);
	}
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);
	/* Several more rounds of the collector (every 0.5 s) take nothing. */
	sleep_ms(1500);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	EXPECT_EQ(q0.nr_channels + 1, q.nr_channels);

	fd = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(4, chan_recv(fd, buf, sizeof(buf), IPCCHAN_NONBLOCK, NULL));
	EXPECT_EQ(0, memcmp(buf, "init", 4));
	close(fd);
	ASSERT_EQ(1, write(live_down[1], "x", 1));
	EXPECT_EQ(0, wait_child(live));
	/* Now the live one's namespace is dead too. */
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		if (q.nr_channels == q0.nr_channels)
			break;
		sleep_ms(50);
	}
	EXPECT_EQ(q0.nr_channels, q.nr_channels);
	EXPECT_EQ(0, chan_unlink(self->ctl, self->name));
	close(live_up[0]);
	close(live_down[1]);
	close(dead_up[0]);
	close(dead_down[1]);
}

TEST_HARNESS_MAIN
