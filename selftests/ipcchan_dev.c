// SPDX-License-Identifier: GPL-2.0
/*
 * The control device and IPCCHAN_IOC_QUERY: the node, every field of the
 * query, the size-versioning rules, bad pointers, unknown commands, and the
 * library's error convention.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "libipcchan.h"

#define QUERY_CMD(dir, size)	_IOC(dir, IPCCHAN_IOC_TYPE, 0x00, size)
#define QUERY_RW(size)		QUERY_CMD(_IOC_READ | _IOC_WRITE, size)

/* Every feature bit this test suite knows the meaning of. */
#define KNOWN_FEATURES \
	(IPCCHAN_FEAT_QUERY | IPCCHAN_FEAT_CHANNELS | IPCCHAN_FEAT_NAMED | \
	 IPCCHAN_FEAT_NOTIFY | IPCCHAN_FEAT_SHARED)

FIXTURE(ctl) {
	int fd;
};

FIXTURE_SETUP(ctl)
{
	self->fd = open(IPCCHAN_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", IPCCHAN_DEVICE_PATH,
				      strerror(errno));
}

FIXTURE_TEARDOWN(ctl)
{
	close(self->fd);
}

TEST(device_node)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat(IPCCHAN_DEVICE_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);

	fd = open(IPCCHAN_DEVICE_PATH, O_RDONLY);
	ASSERT_GE(fd, 0);
	close(fd);
	fd = open(IPCCHAN_DEVICE_PATH, O_WRONLY);
	ASSERT_GE(fd, 0);
	close(fd);
}

TEST_F(ctl, query_fields)
{
	static const char * const names[] = {
		"max_msg_size", "max_queue_msgs", "max_queue_bytes",
		"max_channels", "max_user_channels", "max_user_bytes",
	};
	struct ipcchan_query q;
	unsigned long long sys[6];
	__u64 got[6];
	unsigned int i;

	memset(&q, 0xa5, sizeof(q));
	q.flags = 0;
	q.reserved = 0;
	ASSERT_EQ(0, ioctl(self->fd, IPCCHAN_IOC_QUERY, &q));

	EXPECT_EQ(IPCCHAN_ABI_VERSION, q.abi_version);
	EXPECT_EQ(ipcchan_lib_version(), q.module_version);
	EXPECT_TRUE(q.features & IPCCHAN_FEAT_QUERY);
	EXPECT_EQ(0, q.features & ~(__u64)KNOWN_FEATURES);
	EXPECT_EQ(0, q.flags);
	EXPECT_EQ(0, q.reserved);

	got[0] = q.max_msg_size;
	got[1] = q.max_queue_msgs;
	got[2] = q.max_queue_bytes;
	got[3] = q.max_channels;
	got[4] = q.max_user_channels;
	got[5] = q.max_user_bytes;
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(0, ipcchan_param_read(names[i], &sys[i]));
		EXPECT_EQ(sys[i], got[i]) TH_LOG("limit %s", names[i]);
		EXPECT_GE(got[i], 1);
	}
	EXPECT_EQ(0, q.nr_channels);
	EXPECT_EQ(0, q.user_channels);
	EXPECT_EQ(0, q.user_bytes);
}

TEST_F(ctl, query_library_matches_raw)
{
	struct ipcchan_query a, b;

	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, ipcchan_query(self->fd, &a));
	ASSERT_EQ(0, ioctl(self->fd, IPCCHAN_IOC_QUERY, &b));
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));
}

TEST_F(ctl, query_size_too_small)
{
	unsigned char buf[IPCCHAN_QUERY_SIZE_VER0];
	unsigned int sizes[] = { 0, 1, 8, IPCCHAN_QUERY_SIZE_VER0 - 8,
				 IPCCHAN_QUERY_SIZE_VER0 - 1 };
	unsigned int i;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, QUERY_RW(sizes[i]), buf));
		EXPECT_EQ(EINVAL, errno) TH_LOG("size %u", sizes[i]);
	}
}

TEST_F(ctl, query_newer_size_zero_tail)
{
	struct {
		struct ipcchan_query q;
		unsigned char tail[64];
	} big;
	unsigned int i;

	memset(&big, 0, sizeof(big));
	ASSERT_EQ(0, ioctl(self->fd, QUERY_RW(sizeof(big)), &big));
	EXPECT_EQ(IPCCHAN_ABI_VERSION, big.q.abi_version);
	for (i = 0; i < sizeof(big.tail); i++) {
		ASSERT_EQ(0, big.tail[i]);
	}
}

TEST_F(ctl, query_newer_size_nonzero_tail)
{
	struct {
		struct ipcchan_query q;
		unsigned char tail[64];
	} big;

	memset(&big, 0, sizeof(big));
	big.tail[63] = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, QUERY_RW(sizeof(big)), &big));
	EXPECT_EQ(E2BIG, errno);
	/* Nothing was written back. */
	EXPECT_EQ(0, big.q.abi_version);
}

TEST_F(ctl, query_size_above_page)
{
	static unsigned char buf[16384];

	memset(buf, 0, sizeof(buf));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, QUERY_RW(8192), buf));
	EXPECT_EQ(E2BIG, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, QUERY_RW(_IOC_SIZEMASK), buf));
	EXPECT_EQ(E2BIG, errno);
}

TEST_F(ctl, query_unknown_flags)
{
	struct ipcchan_query q;
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		memset(&q, 0, sizeof(q));
		q.flags = 1ULL << bit;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, IPCCHAN_IOC_QUERY, &q));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %u", bit);
	}
}

TEST_F(ctl, query_reserved_nonzero)
{
	struct ipcchan_query q;
	unsigned int bit;

	for (bit = 0; bit < 64; bit += 21) {
		memset(&q, 0, sizeof(q));
		q.reserved = 1ULL << bit;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, IPCCHAN_IOC_QUERY, &q));
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved bit %u", bit);
	}
}

TEST_F(ctl, query_bad_pointers)
{
	void *ptrs[] = { NULL, (void *)1, (void *)(uintptr_t)0xffffffff81000000ULL,
			 (void *)(uintptr_t)-4096 };
	long page = sysconf(_SC_PAGESIZE);
	struct ipcchan_query *q;
	unsigned char *map;
	unsigned int i;

	for (i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, IPCCHAN_IOC_QUERY, ptrs[i]));
		EXPECT_EQ(EFAULT, errno) TH_LOG("pointer %p", ptrs[i]);
	}

	/* A struct that runs off the end of a mapping into a hole. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	q = (struct ipcchan_query *)(map + page - 64);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IPCCHAN_IOC_QUERY, q));
	EXPECT_EQ(EFAULT, errno);

	/* Readable but not writable: the input is fine, the output faults. */
	memset(map, 0, page);
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IPCCHAN_IOC_QUERY, map));
	EXPECT_EQ(EFAULT, errno);
	munmap(map, page);
}

TEST_F(ctl, unknown_commands)
{
	struct ipcchan_query q;
	unsigned int cmds[] = {
		/* unknown numbers of our type */
		_IOWR(IPCCHAN_IOC_TYPE, 0x7f, struct ipcchan_query),
		_IOWR(IPCCHAN_IOC_TYPE, 0xff, struct ipcchan_query),
		_IO(IPCCHAN_IOC_TYPE, 0x01),
		/* the query number with the wrong direction */
		_IOR(IPCCHAN_IOC_TYPE, 0x00, struct ipcchan_query),
		_IOW(IPCCHAN_IOC_TYPE, 0x00, struct ipcchan_query),
		_IO(IPCCHAN_IOC_TYPE, 0x00),
		/* the query number and size with another type */
		_IOWR(IPCCHAN_IOC_TYPE + 1, 0x00, struct ipcchan_query),
		/* a terminal ioctl */
		TCGETS,
	};
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(&q, 0, sizeof(q));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &q));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#x", cmds[i]);
	}
}

TEST_F(ctl, no_read_write_seek_mmap)
{
	char buf[8];
	void *p;

	errno = 0;
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	errno = 0;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
}

TEST(query_on_other_files)
{
	struct ipcchan_query q;
	int pfd[2], fd;

	fd = open("/dev/null", O_RDWR);
	ASSERT_GE(fd, 0);
	memset(&q, 0, sizeof(q));
	EXPECT_EQ(-ENOTTY, ipcchan_query(fd, &q));
	close(fd);

	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(-ENOTTY, ipcchan_query(pfd[0], &q));
	close(pfd[0]);
	close(pfd[1]);
}

TEST(library_error_convention)
{
	struct ipcchan_query q;
	int fd;

	errno = 1234;
	EXPECT_EQ(-EBADF, ipcchan_query(-1, &q));
	EXPECT_EQ(1234, errno);
	EXPECT_EQ(-EINVAL, ipcchan_ctl_open(0x100));
	EXPECT_EQ(1234, errno);

	fd = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = ipcchan_ctl_open(0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

TEST(sysfs_limits_bounded)
{
	static const char * const bad[] = { "0", "-1", "abc", "0x",
					    "67108865", "99999999999999999999" };
	unsigned long long before, after;
	struct ipcchan_query q;
	unsigned int i;
	int fd;

	ASSERT_EQ(0, ipcchan_param_read("max_msg_size", &before));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_NE(0, ipcchan_param_write("max_msg_size", bad[i]))
			TH_LOG("value '%s' accepted", bad[i]);
		ASSERT_EQ(0, ipcchan_param_read("max_msg_size", &after));
		EXPECT_EQ(before, after);
	}
	EXPECT_EQ(-EINVAL, ipcchan_param_write("max_queue_msgs", "65537"));
	EXPECT_EQ(-EINVAL, ipcchan_param_write("max_user_bytes", "0"));

	/* A valid write is visible in the query at once. */
	ASSERT_EQ(0, ipcchan_param_write("max_msg_size", "4096"));
	fd = ipcchan_ctl_open(0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ipcchan_query(fd, &q));
	EXPECT_EQ(4096, q.max_msg_size);
	ASSERT_EQ(0, ipcchan_param_write("max_msg_size", "67108864"));
	ASSERT_EQ(0, ipcchan_query(fd, &q));
	EXPECT_EQ(67108864, q.max_msg_size);
	close(fd);

	{
		char val[32];

		snprintf(val, sizeof(val), "%llu", before);
		ASSERT_EQ(0, ipcchan_param_write("max_msg_size", val));
	}
}

TEST_HARNESS_MAIN
