// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Shared pages: what an endpoint's region is, and mapping it whole.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "libipcchan.h"
#include "syscall.h"

int ipcchan_region_info(int fd, struct ipcchan_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	return __ipcchan_ioctl(fd, IPCCHAN_IOC_REGION_INFO, ri);
}

/*
 * The prot is what the endpoint allows (read-write for one that sends,
 * read-only for one that only receives), so the mmap itself never fails
 * with -EACCES for want of asking the right thing.
 */
int ipcchan_map(int fd, unsigned int flags, struct ipcchan_region *rg)
{
	struct ipcchan_region_info ri;
	int prot = PROT_READ, mflags = MAP_SHARED, saved, ret;
	void *addr;

	memset(rg, 0, sizeof(*rg));
	if (flags & ~(IPCCHAN_MAP_RDONLY | IPCCHAN_MAP_POPULATE))
		return -EINVAL;
	ret = ipcchan_region_info(fd, &ri);
	if (ret < 0)
		return ret;
	if (!ri.region_size)
		return -ENODEV;
	if (ri.region_size > SIZE_MAX)
		return -EOVERFLOW;
	if ((ri.prot & IPCCHAN_PROT_WRITE) && !(flags & IPCCHAN_MAP_RDONLY))
		prot |= PROT_WRITE;
	if (flags & IPCCHAN_MAP_POPULATE)
		mflags |= MAP_POPULATE;
	saved = errno;
	addr = mmap(NULL, (size_t)ri.region_size, prot, mflags, fd, 0);
	if (addr == MAP_FAILED) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	rg->addr = addr;
	rg->size = (size_t)ri.region_size;
	rg->slot_size = ri.slot_size;
	rg->nr_slots = ri.nr_slots;
	rg->nr_sems = ri.nr_sems;
	rg->prot = prot;
	return 0;
}

int ipcchan_unmap(struct ipcchan_region *rg)
{
	int saved = errno, ret;

	if (!rg->addr)
		return -EINVAL;
	ret = __ipcchan_ret(munmap(rg->addr, rg->size));
	errno = saved;
	if (!ret)
		memset(rg, 0, sizeof(*rg));
	return ret;
}
