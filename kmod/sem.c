// SPDX-License-Identifier: GPL-2.0
/*
 * Semaphores: counting semaphores carried by a region, shared by every
 * endpoint of its channel(s), with SysV-style undo per endpoint file.
 *
 * The values, the waiter counts and every endpoint's undo array are under
 * region->lock (region.c). A wait sleeps with ipcchan_wait_locked() on its
 * semaphore's wait queue (the protocol of wait.c); a post and an undo wake
 * every waiter of the semaphore under the lock, and each takes one unit if
 * one is left when it runs (no handoff: a waiter that wakes to find the
 * value 0 again sleeps again, and one interrupted by a signal has taken
 * nothing, so no unit is ever lost or counted twice).
 *
 * Undo: an operation with IPCCHAN_SEM_UNDO adds its opposite to the
 * endpoint's undo entry for that semaphore (+1 per unit waited for, -n per
 * n units posted). When the endpoint's file is released the entries are
 * added to the values, clamped to 0..IPCCHAN_SEM_VALUE_MAX, as SysV does
 * with semadj at exit.
 */
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "ipcchan.h"

#define IPCCHAN_SEM_WAIT_FLAGS \
	(IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | IPCCHAN_REALTIME)

static void ipcchan_sem_wake_locked(struct ipcchan_semaphore *sem)
{
	/* No barrier needed: sleepers enqueue under region->lock (wait.c). */
	if (waitqueue_active(&sem->wait))
		wake_up_all(&sem->wait);
}

/*
 * Give @ep an undo array before its first UNDO operation. Allocated
 * outside the lock, installed under it; fixed once installed.
 */
static int ipcchan_sem_undo_prepare(struct ipcchan_region *r,
				    struct ipcchan_ep *ep)
{
	s64 *undo;

	if (READ_ONCE(ep->undo))
		return 0;
	undo = kcalloc(r->nr_sems, sizeof(*undo), GFP_KERNEL_ACCOUNT);
	if (!undo)
		return -ENOMEM;
	spin_lock(&r->lock);
	if (!ep->undo) {
		WRITE_ONCE(ep->undo, undo);
		undo = NULL;
	}
	spin_unlock(&r->lock);
	kfree(undo);
	return 0;
}

static int ipcchan_sem_post(struct ipcchan_region *r, struct ipcchan_ep *ep,
			    u32 i, u32 count, bool undo, u32 *value)
{
	struct ipcchan_semaphore *sem = &r->sems[i];
	int ret = 0;

	spin_lock(&r->lock);
	if (count > IPCCHAN_SEM_VALUE_MAX - sem->value) {
		ret = -EOVERFLOW;
	} else {
		sem->value += count;
		if (undo)
			ep->undo[i] -= count;
		ipcchan_sem_wake_locked(sem);
	}
	*value = sem->value;
	spin_unlock(&r->lock);
	return ret;
}

static int ipcchan_sem_wait(struct ipcchan_region *r, struct ipcchan_ep *ep,
			    u32 i, struct ipcchan_deadline *dl, bool undo,
			    u32 *value)
{
	struct ipcchan_semaphore *sem = &r->sems[i];
	int ret = 0;

	spin_lock(&r->lock);
	while (!sem->value) {
		ret = ipcchan_wait_locked(&r->lock, &sem->wait, dl,
					  &sem->waiters);
		if (ret)
			goto out_unlock;
	}
	sem->value--;
	if (undo)
		ep->undo[i]++;
out_unlock:
	*value = sem->value;
	spin_unlock(&r->lock);
	return ret;
}

/*
 * Give back the unit a wait took, whose result could not be reported.
 * Return: false if posts filled the semaphore meanwhile: the unit stays
 * taken, and the wait is reported as done after all.
 */
static bool ipcchan_sem_unwait(struct ipcchan_region *r, struct ipcchan_ep *ep,
			       u32 i, bool undo)
{
	struct ipcchan_semaphore *sem = &r->sems[i];
	bool given = false;

	spin_lock(&r->lock);
	if (sem->value < IPCCHAN_SEM_VALUE_MAX) {
		sem->value++;
		if (undo)
			ep->undo[i]--;
		ipcchan_sem_wake_locked(sem);
		given = true;
	}
	spin_unlock(&r->lock);
	return given;
}

/* Check @s's op, count and flags against each other. */
static int ipcchan_sem_check(const struct ipcchan_sem *s, u32 nr_sems)
{
	if (!ipcchan_mem_is_zero(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	if (s->index >= nr_sems)
		return -EINVAL;
	switch (s->op) {
	case IPCCHAN_SEM_POST:
		if ((s->flags & ~IPCCHAN_SEM_UNDO) || !s->count)
			return -EINVAL;
		return 0;
	case IPCCHAN_SEM_WAIT:
		if ((s->flags & ~(IPCCHAN_SEM_UNDO | IPCCHAN_SEM_WAIT_FLAGS)) ||
		    s->count)
			return -EINVAL;
		return 0;
	case IPCCHAN_SEM_GETVALUE:
		return s->flags || s->count ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

/**
 * ipcchan_ioctl_sem() - IPCCHAN_IOC_SEM handler (any endpoint)
 * @file:  the endpoint
 * @arg:   user pointer to struct ipcchan_sem
 * @usize: the caller's size of the struct
 *
 * Return: 0 or a negative errno (see the uapi header). The value is
 * written back also when a post fails with -EOVERFLOW or a wait with
 * -EAGAIN/-ETIMEDOUT/-EINTR, if it can be.
 */
long ipcchan_ioctl_sem(struct file *file, void __user *arg, size_t usize)
{
	struct ipcchan_ep *ep = file->private_data;
	struct ipcchan_region *r = ep->region;
	struct ipcchan_deadline dl;
	struct ipcchan_sem s;
	bool undo;
	u32 i;
	int ret;

	ret = ipcchan_copy_struct_in(&s, sizeof(s), arg, usize);
	if (ret)
		return ret;
	ret = ipcchan_sem_check(&s, r ? r->nr_sems : 0);
	if (ret)
		return ret;
	i = array_index_nospec(s.index, r->nr_sems);
	undo = s.flags & IPCCHAN_SEM_UNDO;
	if (undo) {
		ret = ipcchan_sem_undo_prepare(r, ep);
		if (ret)
			return ret;
	}

	switch (s.op) {
	case IPCCHAN_SEM_POST:
		ret = ipcchan_sem_post(r, ep, i, s.count, undo, &s.value);
		break;
	case IPCCHAN_SEM_WAIT:
		ret = ipcchan_deadline_init(&dl, s.flags & IPCCHAN_SEM_WAIT_FLAGS,
					    s.timeout_ns, NULL);
		if (!ret)
			ret = ipcchan_sem_wait(r, ep, i, &dl, undo, &s.value);
		break;
	default:
		spin_lock(&r->lock);
		s.value = r->sems[i].value;
		spin_unlock(&r->lock);
		break;
	}
	if (ret == -ERESTARTSYS)
		return ret;
	if (ipcchan_copy_struct_out(arg, usize, &s, sizeof(s)) && !ret) {
		/*
		 * A post happened and is reported as done (a retry would post
		 * twice); a wait gives its unit back, so -EFAULT took nothing.
		 */
		if (s.op == IPCCHAN_SEM_WAIT && !ipcchan_sem_unwait(r, ep, i, undo))
			return 0;
		if (s.op != IPCCHAN_SEM_POST)
			return -EFAULT;
	}
	return ret;
}

/**
 * ipcchan_sems_undo_locked() - an endpoint file goes: apply its undo
 * @r:  its region, locked
 * @ep: the endpoint
 */
void ipcchan_sems_undo_locked(struct ipcchan_region *r, struct ipcchan_ep *ep)
{
	u32 i;

	lockdep_assert_held(&r->lock);
	if (!ep->undo)
		return;
	for (i = 0; i < r->nr_sems; i++) {
		s64 v = (s64)r->sems[i].value + ep->undo[i];

		if (!ep->undo[i])
			continue;
		r->sems[i].value = clamp_t(s64, v, 0, IPCCHAN_SEM_VALUE_MAX);
		ipcchan_sem_wake_locked(&r->sems[i]);
	}
}
