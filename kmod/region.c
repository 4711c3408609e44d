// SPDX-License-Identifier: GPL-2.0
/*
 * Shared regions: the pages a channel (or duplex pair) shares with every
 * process that holds one of its endpoints, and the object that also
 * carries its zero-copy slots (slot.c) and semaphores (sem.c).
 *
 * Pages
 * -----
 * The pages are those of an unlinked shmem file made at creation with
 * shmem_file_setup(). mmap of an endpoint checks the endpoint's
 * rights, then hands the VMA to that file (vma_set_file()), as DRM and
 * dma-buf do with their shmem-backed objects. The pages are therefore
 * ordinary shared-memory pages: zero-filled on first touch, charged to the
 * memory cgroup of the task that touches them first, SIGBUS past the end
 * of the file, usable by process-shared futexes (a shared futex key needs
 * the page's mapping, which pages a driver inserts itself lack), and kept
 * alive by each mapping's own reference to the file, whatever happens to
 * the endpoint, the channel or the region afterwards. The kernel itself
 * touches them only to copy a slot message out for a receiver that did
 * not ask for the slot (slot.c).
 *
 * Locking
 * -------
 * region->lock (spinlock) protects every field marked (lock) in struct
 * ipcchan_region, the slot records, the semaphore values, and the
 * endpoints' nr_held and undo entries. Nothing sleeps and no user memory
 * is touched under it. It is never held together with a chan->lock: a slot
 * send marks the slot in flight, drops region->lock, then queues the
 * message; a receive takes the message off the queue, drops chan->lock,
 * then hands the slot over. Lock order: region->lock -> the wait queue
 * locks. Sleepers follow the protocol of wait.c with region->lock.
 *
 * Lifetime
 * --------
 * Each channel of the region and each endpoint of those channels holds a
 * reference; the region, with its slot records and semaphores, goes with
 * the last. A message that carries a slot holds none: it lives in a
 * channel's queue, or in a call on an endpoint, and both hold the region.
 */
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "ipcchan.h"

/* vm_flags became read-only behind these helpers in 6.3 (see Kbuild). */
#ifndef IPCCHAN_HAVE_VM_FLAGS_SET
static void ipcchan_vm_flags_set(struct vm_area_struct *vma, unsigned long f)
{
	vma->vm_flags |= f;
}

static void ipcchan_vm_flags_clear(struct vm_area_struct *vma,
				   unsigned long f)
{
	vma->vm_flags &= ~f;
}
#else
#define ipcchan_vm_flags_set	vm_flags_set
#define ipcchan_vm_flags_clear	vm_flags_clear
#endif

/* The attribute rules of the uapi header ("Channel attributes"). */
static int ipcchan_region_check(const struct ipcchan_region_attr *a,
				u64 max_size)
{
	if (a->size % PAGE_SIZE || a->size > max_size)
		return -EINVAL;
	if (a->slot_size &&
	    (a->slot_size % IPCCHAN_SLOT_ALIGN || a->slot_size > a->size ||
	     a->size / a->slot_size > IPCCHAN_SLOTS_MAX))
		return -EINVAL;
	if (a->nr_sems > IPCCHAN_SEMS_MAX)
		return -EINVAL;
	return 0;
}

static int ipcchan_region_alloc_slots(struct ipcchan_region *r)
{
	u32 i;

	if (!r->slot_size)
		return 0;
	r->nr_slots = r->size / r->slot_size;
	r->slots = kvcalloc(r->nr_slots, sizeof(*r->slots),
			    GFP_KERNEL_ACCOUNT);
	r->free = kvcalloc(r->nr_slots, sizeof(*r->free), GFP_KERNEL_ACCOUNT);
	if (!r->slots || !r->free)
		return -ENOMEM;
	/* Lowest numbers on top of the stack: slot 0 is loaned first. */
	for (i = 0; i < r->nr_slots; i++)
		r->free[i] = r->nr_slots - 1 - i;
	r->nr_free = r->nr_slots;
	return 0;
}

static int ipcchan_region_alloc_sems(struct ipcchan_region *r, u32 nr_sems)
{
	u32 i;

	if (!nr_sems)
		return 0;
	r->sems = kcalloc(nr_sems, sizeof(*r->sems), GFP_KERNEL_ACCOUNT);
	if (!r->sems)
		return -ENOMEM;
	for (i = 0; i < nr_sems; i++)
		init_waitqueue_head(&r->sems[i].wait);
	r->nr_sems = nr_sems;
	return 0;
}

static int ipcchan_region_alloc_pages(struct ipcchan_region *r)
{
	struct file *shmem;

	if (!r->size)
		return 0;
	/* VM_NORESERVE: pages are accounted as they are touched. */
	shmem = shmem_file_setup("ipcchan", r->size, VM_NORESERVE);
	/*
	 * shmem reports a failed inode allocation as -ENOSPC, which to the
	 * caller would mean max_user_region_bytes: it is out of memory.
	 */
	if (PTR_ERR_OR_ZERO(shmem) == -ENOSPC)
		return -ENOMEM;
	if (IS_ERR(shmem))
		return PTR_ERR(shmem);
	r->shmem = shmem;
	return 0;
}

/* Free a region, also one that ipcchan_region_new() built only partly. */
static void ipcchan_region_free(struct ipcchan_region *r)
{
	if (r->shmem)
		fput(r->shmem);
	kfree(r->sems);
	kvfree(r->free);
	kvfree(r->slots);
	ipcchan_user_uncharge_region(r->owner, r->size);
	ipcchan_user_put(r->owner);
	kfree(r);
}

/**
 * ipcchan_region_new() - make the region of a new channel (or duplex pair)
 * @owner: user charged for the region's size (a reference is taken)
 * @a:     attributes from the creating call
 *
 * Context: process context, may sleep.
 * Return: a region with one reference; NULL when @a asks for nothing (no
 * pages, no semaphores); or ERR_PTR(-EINVAL, -ENOSPC, -ENOMEM).
 */
struct ipcchan_region *ipcchan_region_new(struct ipcchan_user *owner,
					  const struct ipcchan_region_attr *a)
{
	struct ipcchan_limits lim;
	struct ipcchan_region *r;
	int ret;

	ipcchan_limits_read(&lim);
	ret = ipcchan_region_check(a, lim.max_region_size);
	if (ret)
		return ERR_PTR(ret);
	if (!a->size && !a->nr_sems)
		return NULL;
	ret = ipcchan_user_charge_region(owner, a->size,
					 lim.max_user_region_bytes);
	if (ret)
		return ERR_PTR(ret);
	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r) {
		ipcchan_user_uncharge_region(owner, a->size);
		return ERR_PTR(-ENOMEM);
	}
	refcount_set(&r->ref, 1);
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->slot_wait);
	refcount_inc(&owner->ref);
	r->owner = owner;
	r->size = a->size;
	r->slot_size = a->slot_size;

	ret = ipcchan_region_alloc_slots(r);
	if (!ret)
		ret = ipcchan_region_alloc_sems(r, a->nr_sems);
	if (!ret)
		ret = ipcchan_region_alloc_pages(r);
	if (ret) {
		ipcchan_region_free(r);
		return ERR_PTR(ret);
	}
	return r;
}

void ipcchan_region_get(struct ipcchan_region *r)
{
	refcount_inc(&r->ref);
}

/**
 * ipcchan_region_put() - drop a region reference
 * @r: the region, or NULL; freed on the last put
 *
 * Context: process context (the last put may sleep in fput()).
 */
void ipcchan_region_put(struct ipcchan_region *r)
{
	if (r && refcount_dec_and_test(&r->ref))
		ipcchan_region_free(r);
}

/**
 * ipcchan_region_mmap() - map the region through endpoint @ep
 * @ep:  the endpoint being mapped
 * @vma: the new mapping
 *
 * Only MAP_SHARED, from an offset inside the region; an endpoint that does
 * not send maps read-only for good (VM_MAYWRITE cleared: mprotect cannot
 * add PROT_WRITE). The mapping may not grow (VM_DONTEXPAND), and past the
 * end of the region the shmem file raises SIGBUS. The VMA is then handed
 * to the shmem file, which maps its pages and keeps them alive.
 *
 * Return: 0, -ENODEV (no region), -EINVAL, -EACCES, or shmem's error.
 */
int ipcchan_region_mmap(struct ipcchan_ep *ep, struct vm_area_struct *vma)
{
	struct ipcchan_region *r = ep->region;

	if (!r || !r->shmem)
		return -ENODEV;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= r->size >> PAGE_SHIFT)
		return -EINVAL;
	if (!ep->tx) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		ipcchan_vm_flags_clear(vma, VM_MAYWRITE);
	}
	ipcchan_vm_flags_set(vma, VM_DONTEXPAND);
	vma_set_file(vma, r->shmem);
	return call_mmap(r->shmem, vma);
}

static void ipcchan_region_info_fill(struct ipcchan_ep *ep,
				     struct ipcchan_region_info *ri)
{
	struct ipcchan_region *r = ep->region;
	u32 nr_free, nr_in_flight;

	if (!r)
		return;
	ri->region_size = r->size;
	ri->slot_size = r->slot_size;
	ri->nr_slots = r->nr_slots;
	ri->nr_sems = r->nr_sems;
	if (r->shmem)
		ri->prot = IPCCHAN_PROT_READ |
			   (ep->tx ? IPCCHAN_PROT_WRITE : 0);
	spin_lock(&r->lock);
	nr_free = r->nr_free;
	nr_in_flight = r->nr_in_flight;
	ri->slots_held_here = ep->nr_held;
	ri->loans = r->loans;
	ri->slots_reclaimed = r->reclaimed;
	spin_unlock(&r->lock);
	ri->slots_free = nr_free;
	ri->slots_in_flight = nr_in_flight;
	ri->slots_held = r->nr_slots - nr_free - nr_in_flight;
}

/**
 * ipcchan_ioctl_region_info() - IPCCHAN_IOC_REGION_INFO handler (endpoint)
 * @file:  the endpoint
 * @arg:   user pointer to struct ipcchan_region_info
 * @usize: the caller's size of the struct
 *
 * Return: 0, -EINVAL (flags or reserved), -EFAULT, -E2BIG.
 */
long ipcchan_ioctl_region_info(struct file *file, void __user *arg,
			       size_t usize)
{
	struct ipcchan_region_info ri;
	int ret;

	ret = ipcchan_copy_struct_in(&ri, sizeof(ri), arg, usize);
	if (ret)
		return ret;
	if (ri.flags || ri.pad ||
	    !ipcchan_mem_is_zero(ri.reserved, sizeof(ri.reserved)))
		return -EINVAL;
	memset(&ri, 0, sizeof(ri));
	ipcchan_region_info_fill(file->private_data, &ri);
	return ipcchan_copy_struct_out(arg, usize, &ri, sizeof(ri));
}

void ipcchan_region_show_fdinfo(struct seq_file *m, struct ipcchan_ep *ep)
{
	struct ipcchan_region_info ri = { 0 };

	if (!ep->region)
		return;
	ipcchan_region_info_fill(ep, &ri);
	seq_printf(m, "ipcchan-region:\tsize=%llu slot_size=%u slots=%u free=%llu held=%llu in_flight=%llu held_here=%llu loans=%llu reclaimed=%llu sems=%u\n",
		   ri.region_size, ri.slot_size, ri.nr_slots, ri.slots_free,
		   ri.slots_held, ri.slots_in_flight, ri.slots_held_here,
		   ri.loans, ri.slots_reclaimed, ri.nr_sems);
}

/**
 * ipcchan_region_release_ep() - an endpoint file is released
 * @ep: the endpoint; after its channels were detached
 *
 * Every slot it holds goes back to the pool and its semaphore undo is
 * applied, then its region reference is dropped.
 */
void ipcchan_region_release_ep(struct ipcchan_ep *ep)
{
	struct ipcchan_region *r = ep->region;

	if (!r)
		return;
	spin_lock(&r->lock);
	ipcchan_slots_reclaim_locked(r, ep);
	ipcchan_sems_undo_locked(r, ep);
	spin_unlock(&r->lock);
	kfree(ep->undo);
	ipcchan_region_put(r);
}
