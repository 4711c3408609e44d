// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle: unload is refused while any ipcchan file exists (a
 * control fd, an endpoint, one in flight in a Unix socket, one a blocked
 * task holds) and allowed after; an epoll fd that watched an endpoint, or
 * a linked name, does not hold the module and survives its unload; unload
 * and load race opens and traffic; load-time parameters are validated; a
 * second load is refused. Every test leaves the module loaded with default
 * parameters. What an unload leaves behind is for kmemleak (the debug
 * guest scans after the last rmmod).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"
#include "libipcchan.h"

static int mod_unload(void)
{
	return syscall(SYS_delete_module, "ipcchan", O_NONBLOCK) ? -errno : 0;
}

static int mod_load(const char *params)
{
	int fd, ret;

	fd = open(ipcchan_ko_path(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int mod_loaded(void)
{
	struct stat st;

	return stat("/sys/module/ipcchan", &st) == 0;
}

/* Put the module back as the suite expects it: loaded, defaults. */
static void mod_restore(void)
{
	if (mod_loaded())
		mod_unload();
	mod_load("");
}

FIXTURE(mod) {
	int unused;
};

FIXTURE_SETUP(mod)
{
	struct stat st;

	ASSERT_EQ(0, stat(ipcchan_ko_path(), &st))
		TH_LOG("%s: set IPCCHAN_KO to the module's path",
		       ipcchan_ko_path());
	ASSERT_TRUE(mod_loaded());
}

FIXTURE_TEARDOWN(mod)
{
	if (!mod_loaded() || access(IPCCHAN_DEVICE_PATH, F_OK))
		mod_restore();
}

TEST_F(mod, unload_refused_while_open)
{
	struct stat st;
	int fd, fd2;

	fd = ipcchan_ctl_open(0);
	ASSERT_GE(fd, 0);
	fd2 = dup(fd);
	ASSERT_GE(fd2, 0);
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	close(fd);
	/* A dup still holds the file. */
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	EXPECT_TRUE(mod_loaded());
	close(fd2);

	ASSERT_EQ(0, mod_unload());
	EXPECT_FALSE(mod_loaded());
	EXPECT_EQ(-1, stat(IPCCHAN_DEVICE_PATH, &st));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, mod_load(""));
	EXPECT_EQ(0, stat(IPCCHAN_DEVICE_PATH, &st));
}

TEST_F(mod, unload_refused_while_child_holds_fd)
{
	int fd, pfd[2], status;
	pid_t pid;
	char c;

	fd = ipcchan_ctl_open(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(pfd[1]);
		/* Hold the inherited fd until the parent says go. */
		_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
	}
	close(pfd[0]);
	close(fd);
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load(""));
}

TEST_F(mod, load_twice)
{
	EXPECT_EQ(-EEXIST, mod_load(""));
}

TEST_F(mod, dev_mode_parameter)
{
	struct stat st;

	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load("dev_mode=0600"));
	ASSERT_EQ(0, stat(IPCCHAN_DEVICE_PATH, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, mod_unload());

	/* Bits outside 0777 are refused; the module does not load. */
	EXPECT_EQ(-EINVAL, mod_load("dev_mode=01666"));
	EXPECT_FALSE(mod_loaded());
	ASSERT_EQ(0, mod_load(""));
	ASSERT_EQ(0, stat(IPCCHAN_DEVICE_PATH, &st));
	EXPECT_EQ(0666, st.st_mode & 07777);
}

TEST_F(mod, limit_parameters_at_load)
{
	struct ipcchan_query q;
	int fd;

	ASSERT_EQ(0, mod_unload());
	EXPECT_EQ(-EINVAL, mod_load("max_msg_size=0"));
	EXPECT_EQ(-EINVAL, mod_load("max_queue_msgs=65537"));
	EXPECT_EQ(-EINVAL, mod_load("max_channels=many"));
	EXPECT_FALSE(mod_loaded());

	ASSERT_EQ(0, mod_load("max_queue_msgs=100 max_user_bytes=8192"));
	fd = ipcchan_ctl_open(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ipcchan_query(fd, &q));
	EXPECT_EQ(100, q.max_queue_msgs);
	EXPECT_EQ(8192, q.max_user_bytes);
	close(fd);
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load(""));
}

/*
 * What may hold the module: each variant makes one holder, closes every
 * other ipcchan fd, checks that unload is refused, lets go and checks that
 * it is allowed.
 *
 * A mapping of a region, all fds closed, is designed NOT to hold the
 * module: mmap hands the VMA to the region's shmem file (vma_set_file()
 * and shmem's own vm_ops, see kmod/region.c), so the mapping references
 * that file and nothing of ipcchan's. The module therefore unloads while
 * such a mapping lives, and the mapping must stay valid after it: same
 * bytes, writable, shared with a forked child, and unmapped cleanly after
 * the unload and after a reload (no oops; KASAN-clean on the debug
 * kernel, where the harness scans the log).
 */
enum hold_kind {
	HOLD_ENDPOINT,		/* an endpoint fd alone */
	HOLD_NAMED,		/* an endpoint of a named channel */
	HOLD_IN_FLIGHT,		/* an endpoint queued in SCM_RIGHTS */
	HOLD_BLOCKED,		/* a child asleep in receive on an endpoint */
	HOLD_EPOLL,		/* an epoll fd only: holds nothing */
	HOLD_MAPPING,		/* a mapping of a region only: holds nothing */
};

FIXTURE(hold) {
	int fd;			/* the holder, or -1 */
	int sv[2];		/* HOLD_IN_FLIGHT */
	pid_t child;		/* HOLD_BLOCKED */
	unsigned char *map;	/* HOLD_MAPPING */
	size_t map_len;
};

FIXTURE_VARIANT(hold) {
	enum hold_kind kind;
	int holds;
};

FIXTURE_VARIANT_ADD(hold, endpoint) { .kind = HOLD_ENDPOINT, .holds = 1 };
FIXTURE_VARIANT_ADD(hold, named) { .kind = HOLD_NAMED, .holds = 1 };
FIXTURE_VARIANT_ADD(hold, in_flight) { .kind = HOLD_IN_FLIGHT, .holds = 1 };
FIXTURE_VARIANT_ADD(hold, blocked) { .kind = HOLD_BLOCKED, .holds = 1 };
FIXTURE_VARIANT_ADD(hold, epoll) { .kind = HOLD_EPOLL, .holds = 0 };
FIXTURE_VARIANT_ADD(hold, mapping) { .kind = HOLD_MAPPING, .holds = 0 };

FIXTURE_SETUP(hold)
{
	self->fd = -1;
	self->sv[0] = self->sv[1] = -1;
	self->child = 0;
	self->map = NULL;
	ASSERT_TRUE(mod_loaded());
}

FIXTURE_TEARDOWN(hold)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	if (self->map)
		munmap(self->map, self->map_len);
	if (!mod_loaded() || access(IPCCHAN_DEVICE_PATH, F_OK))
		mod_restore();
}

TEST_F_TIMEOUT(hold, unload_after_release, 60)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ctl, fds[2], fd, status;
	char name[64];

	ctl = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	ASSERT_GE(ctl, 0);
	ASSERT_EQ(0, chan_create(ctl, IPCCHAN_FD_CLOEXEC, 0, 0, 0, fds));
	switch (variant->kind) {
	case HOLD_ENDPOINT:
		self->fd = fds[0];
		close(fds[1]);
		break;
	case HOLD_NAMED:
		close(fds[0]);
		close(fds[1]);
		snprintf(name, sizeof(name), "module-hold-%d", getpid());
		self->fd = chan_open(ctl, name, IPCCHAN_OPEN_CREATE |
				     IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0600);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(0, chan_send_str(self->fd, "queued", 0, 0));
		ASSERT_EQ(0, chan_unlink(ctl, name));
		break;
	case HOLD_IN_FLIGHT:
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
					self->sv));
		ASSERT_EQ(0, send_fd(self->sv[0], fds[0]));
		ASSERT_EQ(0, send_fd(self->sv[0], fds[1]));
		close(fds[0]);
		close(fds[1]);
		break;
	case HOLD_BLOCKED:
		self->child = fork();
		ASSERT_GE(self->child, 0);
		if (self->child == 0) {
			char c;

			alarm(50);
			close(ctl);
			/* Its own sender keeps it asleep until it is killed. */
			chan_recv(fds[0], &c, 1, 0, NULL);
			_exit(1);
		}
		ASSERT_EQ(0, wait_waiters(fds[1], IPCCHAN_STATS_TX,
					  WAITING_RECEIVERS, 1, 10000));
		close(fds[0]);
		self->fd = fds[1];
		break;
	case HOLD_EPOLL:
		self->fd = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_GE(self->fd, 0);
		ASSERT_EQ(0, epoll_ctl(self->fd, EPOLL_CTL_ADD, fds[0], &ev));
		ASSERT_EQ(0, epoll_ctl(self->fd, EPOLL_CTL_ADD, fds[1], &ev));
		close(fds[0]);
		close(fds[1]);
		break;
	case HOLD_MAPPING: {
		struct ipcchan_attr a = { .region_size = 2 * getpagesize(),
					  .slot_size = 64, .nr_sems = 1 };
		struct ipcchan_region rg;
		size_t i;

		close(fds[0]);
		close(fds[1]);
		ASSERT_EQ(0, ipcchan_create(ctl, IPCCHAN_FD_CLOEXEC, &a, fds));
		ASSERT_EQ(0, ipcchan_map(fds[1], 0, &rg));
		self->map = rg.addr;
		self->map_len = rg.size;
		for (i = 0; i < self->map_len; i++)
			self->map[i] = (unsigned char)(i * 7 + 1);
		/* A held slot and an undo entry go with the fds. */
		ASSERT_LE(0, ipcchan_slot_loan(fds[1], IPCCHAN_NONBLOCK, 0));
		ASSERT_EQ(0, ipcchan_sem_post(fds[1], 0, 1, IPCCHAN_SEM_UNDO));
		close(fds[0]);
		close(fds[1]);
		break;
	}
	}
	close(ctl);
	if (variant->kind == HOLD_BLOCKED) {
		/* Only the child's files are left once ours go. */
		close(self->fd);
		self->fd = -1;
	}

	if (variant->holds) {
		EXPECT_EQ(-EWOULDBLOCK, mod_unload());
		EXPECT_TRUE(mod_loaded());
		/* The holder still works. */
		if (variant->kind == HOLD_NAMED) {
			char buf[16];

			EXPECT_EQ(6, chan_recv(self->fd, buf, sizeof(buf),
					       IPCCHAN_NONBLOCK, NULL));
		}
		switch (variant->kind) {
		case HOLD_IN_FLIGHT:
			/* Receive one back, close it; the other dies unread. */
			fd = recv_fd(self->sv[1]);
			ASSERT_GE(fd, 0);
			EXPECT_EQ(-EWOULDBLOCK, mod_unload());
			close(fd);
			EXPECT_EQ(-EWOULDBLOCK, mod_unload());
			close(self->sv[0]);
			close(self->sv[1]);
			self->sv[0] = self->sv[1] = -1;
			break;
		case HOLD_BLOCKED:
			EXPECT_EQ(0, kill(self->child, SIGKILL));
			ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
			EXPECT_TRUE(WIFSIGNALED(status));
			self->child = 0;
			break;
		default:
			close(self->fd);
			self->fd = -1;
			break;
		}
	}
	EXPECT_EQ(0, mod_unload());
	EXPECT_FALSE(mod_loaded());
	if (variant->kind == HOLD_EPOLL) {
		/* The epoll fd outlived the module's wait queues. */
		EXPECT_EQ(0, epoll_wait(self->fd, &ev, 1, 0));
		close(self->fd);
		self->fd = -1;
	}
	if (variant->kind == HOLD_MAPPING) {
		size_t i, bad = 0;
		pid_t pid;

		/* The pages outlived the module: same bytes, still shared. */
		for (i = 0; i < self->map_len; i++)
			bad += self->map[i] != (unsigned char)(i * 7 + 1);
		EXPECT_EQ(0, bad);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			for (i = 0; i < self->map_len; i++)
				self->map[i] ^= 0xff;
			_exit(0);
		}
		ASSERT_EQ(0, wait_child(pid));
		for (i = 0, bad = 0; i < self->map_len; i++)
			bad += self->map[i] !=
			       (unsigned char)~(unsigned char)(i * 7 + 1);
		EXPECT_EQ(0, bad);
		/* Half unmapped while unloaded, the rest after a reload. */
		EXPECT_EQ(0, munmap(self->map, self->map_len / 2));
		ASSERT_EQ(0, mod_load(""));
		for (i = self->map_len / 2, bad = 0; i < self->map_len; i++)
			bad += self->map[i] !=
			       (unsigned char)~(unsigned char)(i * 7 + 1);
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, munmap(self->map + self->map_len / 2,
				    self->map_len - self->map_len / 2));
		self->map = NULL;
		return;
	}
	ASSERT_EQ(0, mod_load(""));
}

/*
 * A name holds no file: the module unloads with named channels linked,
 * messages queued (here and in a namespace whose process still lives), and
 * frees them; they are gone after a reload.
 */
TEST_F(mod, unload_frees_linked_names)
{
	int ctl, fd, i, up[2], down[2];
	char name[64], c;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int cctl, cfd;

		alarm(30);
		close(up[0]);
		close(down[1]);
		CHILD_CHECK(unshare(CLONE_NEWIPC) == 0, "unshare");
		cctl = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
		CHILD_CHECK(cctl >= 0, "ctl");
		cfd = chan_open(cctl, "module-ns", IPCCHAN_OPEN_CREATE |
				IPCCHAN_OPEN_SEND, 0600);
		CHILD_CHECK(cfd >= 0, "create: %d", cfd);
		CHILD_CHECK(chan_send_str(cfd, "in a namespace", 1, 0) == 0,
			    "send");
		close(cfd);
		close(cctl);
		CHILD_CHECK(write(up[1], "r", 1) == 1, "up");
		/* Live in the namespace until the parent is done. */
		CHILD_CHECK(read(down[0], &c, 1) == 1, "down");
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	ASSERT_EQ(1, read(up[0], &c, 1));

	ctl = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	ASSERT_GE(ctl, 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "module-name-%d-%d", getpid(), i);
		fd = chan_open(ctl, name, IPCCHAN_OPEN_CREATE |
			       IPCCHAN_OPEN_SEND, 0600);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, chan_send_str(fd, name, i, 0));
		close(fd);
	}
	close(ctl);
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load(""));
	ctl = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	ASSERT_GE(ctl, 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "module-name-%d-%d", getpid(), i);
		EXPECT_EQ(-ENOENT, chan_open(ctl, name, IPCCHAN_OPEN_RECV, 0));
	}
	close(ctl);
	ASSERT_EQ(1, write(down[1], "x", 1));
	EXPECT_EQ(0, wait_child(pid));
	close(up[0]);
	close(down[1]);
}

/*
 * Unload and load race processes that open the device, make channels and
 * pass messages: every unload attempt is refused while one of them holds
 * a file and may succeed in between; an open fails cleanly while the
 * module is away; a file, once open, works until closed.
 */
#define RACE_WORKERS	3
#define RACE_ROUNDS	40

static int race_worker(volatile int *stop, unsigned int seed)
{
	unsigned long ops = 0, refused = 0;
	struct ipcchan_recv rv;
	int ctl, fds[2], r;
	char buf[16];

	while (!*stop) {
		ctl = open(IPCCHAN_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (ctl < 0) {
			if (errno != ENOENT && errno != ENODEV && errno != ENXIO) {
				fprintf(stderr, "# open: %s\n", strerror(errno));
				return 1;
			}
			refused++;
			usleep(500);
			continue;
		}
		r = chan_create(ctl, IPCCHAN_FD_CLOEXEC, 16, 4, 0, fds);
		if (r) {
			fprintf(stderr, "# create on an open ctl fd: %d\n", r);
			return 2;
		}
		close(ctl);
		r = chan_send_str(fds[1], "race", 0, IPCCHAN_NONBLOCK);
		if (r || chan_recv(fds[0], buf, sizeof(buf), IPCCHAN_NONBLOCK,
				   &rv) != 4) {
			fprintf(stderr, "# traffic on a live endpoint: %d\n", r);
			return 3;
		}
		close(fds[1]);
		if (chan_recv(fds[0], buf, sizeof(buf), 0, &rv) != 0 ||
		    rv.seq != 0) {
			fprintf(stderr, "# no end of channel\n");
			return 4;
		}
		close(fds[0]);
		ops++;
		/* Holding nothing for a while: a window for the unload. */
		seed = seed * 1103515245 + 12345;
		usleep((seed >> 8) % 1000);
	}
	printf("# worker %d: %lu rounds, %lu opens without a module\n",
	       getpid(), ops, refused);
	return 0;
}

TEST_F_TIMEOUT(mod, unload_races_use, 120)
{
	int i, r, unloaded = 0, refused = 0, other = 0;
	volatile int *stop = mmap(NULL, sizeof(*stop), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid[RACE_WORKERS];

	ASSERT_NE(MAP_FAILED, stop);
	*stop = 0;
	for (i = 0; i < RACE_WORKERS; i++) {
		fflush(stdout);
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			alarm(100);
			_exit(race_worker(stop, i + 1));
		}
	}
	for (i = 0; i < RACE_ROUNDS; i++) {
		usleep(1000 + (i * 7919) % 10000);
		r = mod_unload();
		if (r == 0) {
			unloaded++;
			usleep((i * 104729) % 5000);
			ASSERT_EQ(0, mod_load(""));
		} else if (r == -EWOULDBLOCK) {
			refused++;
		} else {
			other++;
			TH_LOG("unload: %s", strerror(-r));
		}
	}
	*stop = 1;
	for (i = 0; i < RACE_WORKERS; i++) {
		EXPECT_EQ(0, wait_child(pid[i])) TH_LOG("worker %d", i);
	}
	printf("# %d unloads, %d refused\n", unloaded, refused);
	EXPECT_EQ(0, other);
	EXPECT_LT(0, refused);
	/* With nobody left, it goes, and comes back. */
	ASSERT_EQ(0, mod_unload());
	ASSERT_EQ(0, mod_load(""));
	munmap((void *)stop, sizeof(*stop));
}

TEST_HARNESS_MAIN
