// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The 0.1 ABI of libipcchan.so still holds: a program built against 0.1
 * binds ipcchan_create@LIBIPCCHAN_0.1 and ipcchan_open@LIBIPCCHAN_0.1 and
 * passes the 16-byte struct ipcchan_attr of 0.1, which those versions
 * must not read past. The struct sits at the end of a page followed by
 * an inaccessible one, so reading further faults. No module is needed:
 * the calls go to /dev/null and fail with -ENOTTY.
 *
 * Built and run on the host by "make -C lib check" (scripts/lint.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ipcchan.h>

struct attr_v01 {
	uint32_t msg_size_max;
	uint32_t queue_msgs;
	uint64_t queue_bytes;
};

int create_v01(int ctl_fd, uint64_t flags, const struct attr_v01 *attr,
	       int fds[2]);
int open_v01(int ctl_fd, const char *name, uint64_t flags, unsigned int mode,
	     const struct attr_v01 *attr);
__asm__(".symver create_v01, ipcchan_create@LIBIPCCHAN_0.1");
__asm__(".symver open_v01, ipcchan_open@LIBIPCCHAN_0.1");

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct attr_v01 *a;
	int fd, fds[2], r1, r2;
	char *p;

	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + page, page, PROT_NONE))
		return 2;
	a = (struct attr_v01 *)(p + page - sizeof(*a));
	a->msg_size_max = 64;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 2;
	r1 = create_v01(fd, 0, a, fds);
	r2 = open_v01(fd, "abi", IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND, 0600,
		      a);
	if (r1 != -ENOTTY || r2 != -ENOTTY) {
		fprintf(stderr, "abi-v01: create %d, open %d, want %d\n", r1, r2,
			-ENOTTY);
		return 1;
	}
	printf("abi-v01: ok (the 0.1 versions read only the 0.1 struct)\n");
	return 0;
}
