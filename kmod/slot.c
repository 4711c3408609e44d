// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy slots: fixed-size pieces of a region that travel through a
 * channel by number instead of by copy.
 *
 * A slot is FREE (its number is on the region's free stack), HELD by one
 * endpoint (loaned to it, or received by it with IPCCHAN_RECV_SLOT), or
 * IN_FLIGHT (a queued message carries it, or a receive is taking it). All
 * transitions happen under region->lock (see region.c):
 *
 *   FREE --loan--> HELD(ep) --send--> IN_FLIGHT --receive--> HELD(ep2)
 *   HELD(ep) --release, or ep's file released--> FREE
 *   IN_FLIGHT --message freed unreceived (dropped, or copied out to a
 *              receiver that did not ask for the slot)--> FREE
 *   IN_FLIGHT --the send failed--> HELD(ep) again
 *
 * Every check of "does this endpoint hold that slot" is made under the lock
 * against the kernel's record, never against anything userspace can
 * write, so a forged, stale or double release changes nothing (-EINVAL).
 * Each send increments the slot's generation, recorded in the message: a
 * message freed late (a peek held a reference while the slot was received
 * and sent again) then finds the generation moved on and leaves the slot
 * alone.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "ipcchan.h"

#define IPCCHAN_LOAN_FLAGS \
	(IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | IPCCHAN_REALTIME)

static struct ipcchan_ep *ipcchan_ep_of(struct file *file)
{
	return file->private_data;
}

/* Slot @n of @r if @ep holds it, else NULL. */
static struct ipcchan_slot *ipcchan_slot_held_locked(struct ipcchan_region *r,
						     struct ipcchan_ep *ep,
						     u32 n)
{
	struct ipcchan_slot *s;

	lockdep_assert_held(&r->lock);
	if (n >= r->nr_slots)
		return NULL;
	s = &r->slots[array_index_nospec(n, r->nr_slots)];
	if (s->state != IPCCHAN_SLOT_HELD || s->holder != ep)
		return NULL;
	return s;
}

static void ipcchan_slot_hold_locked(struct ipcchan_slot *s,
				     struct ipcchan_ep *ep)
{
	s->state = IPCCHAN_SLOT_HELD;
	s->holder = ep;
	ep->nr_held++;
}

static void ipcchan_slot_unhold_locked(struct ipcchan_slot *s)
{
	s->holder->nr_held--;
	s->holder = NULL;
}

/* Put slot @n back on the free stack and wake a loaner. */
static void ipcchan_slot_free_locked(struct ipcchan_region *r, u32 n)
{
	struct ipcchan_slot *s = &r->slots[n];

	s->state = IPCCHAN_SLOT_FREE;
	s->holder = NULL;
	r->free[r->nr_free++] = n;
	/* No barrier needed: sleepers enqueue under region->lock (wait.c). */
	if (waitqueue_active(&r->slot_wait))
		wake_up_all(&r->slot_wait);
}

/* Take a free slot for @ep, sleeping as @dl allows. */
static int ipcchan_slot_loan(struct ipcchan_region *r, struct ipcchan_ep *ep,
			     struct ipcchan_deadline *dl, u32 *slot)
{
	int ret = 0;
	u32 n;

	spin_lock(&r->lock);
	while (!r->nr_free) {
		ret = ipcchan_wait_locked(&r->lock, &r->slot_wait, dl,
					  &r->waiting_loaners);
		if (ret)
			goto out_unlock;
	}
	n = r->free[--r->nr_free];
	ipcchan_slot_hold_locked(&r->slots[n], ep);
	r->loans++;
	*slot = n;
out_unlock:
	spin_unlock(&r->lock);
	return ret;
}

/* Release slot @n if @ep holds it. */
static int ipcchan_slot_release(struct ipcchan_region *r, struct ipcchan_ep *ep,
				u32 n)
{
	struct ipcchan_slot *s;
	int ret = -EINVAL;

	spin_lock(&r->lock);
	s = ipcchan_slot_held_locked(r, ep, n);
	if (s) {
		ipcchan_slot_unhold_locked(s);
		ipcchan_slot_free_locked(r, s - r->slots);
		ret = 0;
	}
	spin_unlock(&r->lock);
	return ret;
}

/**
 * ipcchan_ioctl_slot_loan() - IPCCHAN_IOC_SLOT_LOAN handler (endpoint)
 * @file:  the endpoint; it must send
 * @arg:   user pointer to struct ipcchan_slot_loan
 * @usize: the caller's size of the struct
 *
 * Return: 0 or a negative errno (see the uapi header). A loan whose result
 * cannot be written back is undone.
 */
long ipcchan_ioctl_slot_loan(struct file *file, void __user *arg,
			     size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_region *r = ep->region;
	struct ipcchan_deadline dl;
	struct ipcchan_slot_loan l;
	int ret;

	ret = ipcchan_copy_struct_in(&l, sizeof(l), arg, usize);
	if (ret)
		return ret;
	if ((l.flags & ~IPCCHAN_LOAN_FLAGS) || l.pad ||
	    !ipcchan_mem_is_zero(l.reserved, sizeof(l.reserved)))
		return -EINVAL;
	ret = ipcchan_deadline_init(&dl, l.flags, l.timeout_ns, file);
	if (ret)
		return ret;
	if (!ep->tx)
		return -EBADF;
	if (!r || !r->nr_slots)
		return -ENODEV;

	ret = ipcchan_slot_loan(r, ep, &dl, &l.slot);
	if (ret)
		return ret;
	l.offset = (u64)l.slot * r->slot_size;
	l.size = r->slot_size;
	if (ipcchan_copy_struct_out(arg, usize, &l, sizeof(l))) {
		ipcchan_slot_release(r, ep, l.slot);
		return -EFAULT;
	}
	return 0;
}

/**
 * ipcchan_ioctl_slot_release() - IPCCHAN_IOC_SLOT_RELEASE handler (endpoint)
 * @file:  the endpoint holding the slot
 * @arg:   user pointer to struct ipcchan_slot_release
 * @usize: the caller's size of the struct
 *
 * Return: 0, -EINVAL (not held by this endpoint, bad flags/pad/reserved),
 * -ENODEV (no slots), -EFAULT, -E2BIG.
 */
long ipcchan_ioctl_slot_release(struct file *file, void __user *arg,
				size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_slot_release rel;
	int ret;

	ret = ipcchan_copy_struct_in(&rel, sizeof(rel), arg, usize);
	if (ret)
		return ret;
	if (rel.flags || rel.pad ||
	    !ipcchan_mem_is_zero(rel.reserved, sizeof(rel.reserved)))
		return -EINVAL;
	if (!ep->region || !ep->region->nr_slots)
		return -ENODEV;
	return ipcchan_slot_release(ep->region, ep, rel.slot);
}

/**
 * ipcchan_slot_msg_new() - make @msg carry slot @n, which @ep holds
 * @ep:  the sending endpoint
 * @n:   the slot
 * @len: payload bytes in it
 * @msg: a message without payload; on success it carries the slot, which
 *       is in flight: queue it, or undo with ipcchan_slot_unsend()
 *
 * Return: 0, -ENODEV (no slots), -EINVAL (@ep does not hold @n), -EMSGSIZE.
 */
int ipcchan_slot_msg_new(struct ipcchan_ep *ep, u32 n, u64 len,
			 struct ipcchan_msg *msg)
{
	struct ipcchan_region *r = ep->region;
	struct ipcchan_slot *s;
	int ret = 0;

	if (!r || !r->nr_slots)
		return -ENODEV;
	spin_lock(&r->lock);
	s = ipcchan_slot_held_locked(r, ep, n);
	if (!s) {
		ret = -EINVAL;
	} else if (len > r->slot_size) {
		ret = -EMSGSIZE;
	} else {
		ipcchan_slot_unhold_locked(s);
		s->state = IPCCHAN_SLOT_IN_FLIGHT;
		s->gen++;
		r->nr_in_flight++;
		msg->slot = s - r->slots;
		msg->slot_gen = s->gen;
		msg->len = len;
		msg->region = r;
	}
	spin_unlock(&r->lock);
	return ret;
}

/* Is @msg's slot still in flight with @msg (not received, not reused)? */
static struct ipcchan_slot *ipcchan_slot_of_msg_locked(struct ipcchan_msg *msg)
{
	struct ipcchan_slot *s = &msg->region->slots[msg->slot];

	lockdep_assert_held(&msg->region->lock);
	if (s->state != IPCCHAN_SLOT_IN_FLIGHT || s->gen != msg->slot_gen)
		return NULL;
	return s;
}

/**
 * ipcchan_slot_msg_current() - does @msg still carry its slot?
 * @msg: a slot message, referenced
 *
 * False once the slot was received with IPCCHAN_RECV_SLOT (and perhaps
 * released, loaned and written since): a peek that copied it out while
 * that happened may have copied another message's bytes.
 */
bool ipcchan_slot_msg_current(struct ipcchan_msg *msg)
{
	bool cur;

	spin_lock(&msg->region->lock);
	cur = ipcchan_slot_of_msg_locked(msg);
	spin_unlock(&msg->region->lock);
	return cur;
}

/**
 * ipcchan_slot_unsend() - a slot message could not be queued
 * @ep:  the endpoint that made it with ipcchan_slot_msg_new()
 * @msg: the message, never queued; freed here
 *
 * The slot is held by @ep again, as if the send had not been tried.
 */
void ipcchan_slot_unsend(struct ipcchan_ep *ep, struct ipcchan_msg *msg)
{
	struct ipcchan_region *r = msg->region;
	struct ipcchan_slot *s;

	spin_lock(&r->lock);
	s = ipcchan_slot_of_msg_locked(msg);
	if (!WARN_ON_ONCE(!s)) {
		r->nr_in_flight--;
		ipcchan_slot_hold_locked(s, ep);
	}
	spin_unlock(&r->lock);
	ipcchan_msg_free(msg);
}

/**
 * ipcchan_slot_receive() - hand a received slot message's slot to @ep
 * @ep:  the receiving endpoint
 * @msg: the slot message, taken off its queue; freeing it afterwards
 *       leaves the slot alone
 */
void ipcchan_slot_receive(struct ipcchan_ep *ep, struct ipcchan_msg *msg)
{
	struct ipcchan_region *r = msg->region;
	struct ipcchan_slot *s;

	spin_lock(&r->lock);
	s = ipcchan_slot_of_msg_locked(msg);
	if (!WARN_ON_ONCE(!s)) {
		r->nr_in_flight--;
		ipcchan_slot_hold_locked(s, ep);
	}
	spin_unlock(&r->lock);
}

/**
 * ipcchan_slot_msg_gone() - a slot message is being freed
 * @msg: the message; its slot returns to the pool unless it was received
 *       with IPCCHAN_RECV_SLOT (or reused since)
 *
 * A message freed because it was dropped unreceived counts as reclaimed.
 */
void ipcchan_slot_msg_gone(struct ipcchan_msg *msg)
{
	struct ipcchan_region *r = msg->region;
	struct ipcchan_slot *s;

	spin_lock(&r->lock);
	s = ipcchan_slot_of_msg_locked(msg);
	if (s) {
		r->nr_in_flight--;
		if (msg->dropped)
			r->reclaimed++;
		ipcchan_slot_free_locked(r, msg->slot);
	}
	spin_unlock(&r->lock);
}

/**
 * ipcchan_slot_copy_out() - copy a slot message's payload to userspace
 * @msg: a slot message, taken or peeked (its slot stays in flight)
 * @buf: the receiver's buffer, at least @msg->len bytes
 *
 * For a receiver that did not ask for the slot. Reads the pages through
 * the shmem file, page by page; a page nobody touched yet reads as zeros
 * (shmem allocates it, charged to the receiver).
 *
 * Return: 0, -EFAULT, or -ENOMEM and the like from shmem.
 */
int ipcchan_slot_copy_out(struct ipcchan_msg *msg, void __user *buf)
{
	struct address_space *mapping = msg->region->shmem->f_mapping;
	u64 off = (u64)msg->slot * msg->region->slot_size;
	u64 left = msg->len;

	while (left) {
		size_t in_page = offset_in_page(off);
		size_t n = min_t(u64, left, PAGE_SIZE - in_page);
		struct page *page;
		unsigned long rest;
		void *kaddr;

		page = shmem_read_mapping_page(mapping, off >> PAGE_SHIFT);
		if (IS_ERR(page))
			return PTR_ERR(page);
		kaddr = kmap_local_page(page);
		rest = copy_to_user(buf, kaddr + in_page, n);
		kunmap_local(kaddr);
		put_page(page);
		if (rest)
			return -EFAULT;
		buf += n;
		off += n;
		left -= n;
	}
	return 0;
}

/**
 * ipcchan_slots_reclaim_locked() - an endpoint file goes: free its slots
 * @r:  its region, locked
 * @ep: the endpoint
 */
void ipcchan_slots_reclaim_locked(struct ipcchan_region *r,
				  struct ipcchan_ep *ep)
{
	u32 n;

	lockdep_assert_held(&r->lock);
	for (n = 0; n < r->nr_slots && ep->nr_held; n++) {
		struct ipcchan_slot *s = &r->slots[n];

		if (s->state != IPCCHAN_SLOT_HELD || s->holder != ep)
			continue;
		ipcchan_slot_unhold_locked(s);
		ipcchan_slot_free_locked(r, n);
		r->reclaimed++;
	}
	WARN_ON_ONCE(ep->nr_held);
}
