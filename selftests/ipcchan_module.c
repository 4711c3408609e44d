// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle: unload is refused while any ipcchan fd is open and
 * allowed after; load-time parameters are validated; a second load is
 * refused. Every test leaves the module loaded with default parameters.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
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

TEST_HARNESS_MAIN
