// SPDX-License-Identifier: GPL-2.0
/*
 * Deadlines and sleeping: how every call that may block (send, receive,
 * slot loan, semaphore wait) turns its flags into a deadline and sleeps.
 *
 * The sleep/wake protocol
 * -----------------------
 * Each waitable object has a spinlock that protects the state its sleepers
 * wait on (chan->lock for a channel's queue, region->lock for slots and
 * semaphores). A sleeper checks its condition under that lock, and if it
 * must sleep calls ipcchan_wait_locked(), which does prepare_to_wait()
 * while still holding the lock, drops it, schedules, and takes it again.
 * A waker changes the state and wakes the wait queue while holding the
 * same lock. So the sleeper either saw the new state before it slept, or
 * was already on the wait queue when the waker looked: no wakeup is lost,
 * and a waker may skip wake_up() when waitqueue_active() is false under
 * the lock (no barrier is needed: both sides are serialised by the lock).
 * Pollers add themselves with poll_wait() before they take the lock to
 * read the state, which the same argument covers.
 */
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>

#include "ipcchan.h"

/**
 * ipcchan_deadline_init() - turn the call's flags and timeout into a wait
 * @dl:         out
 * @flags:      IPCCHAN_NONBLOCK, _TIMEOUT, _ABSTIME, _REALTIME
 * @timeout_ns: the call's timeout_ns
 * @file:       the endpoint (its O_NONBLOCK counts as IPCCHAN_NONBLOCK), or
 *              NULL where O_NONBLOCK does not apply (semaphores)
 *
 * Return: 0 or -EINVAL (ABSTIME or REALTIME without the flag they need).
 */
int ipcchan_deadline_init(struct ipcchan_deadline *dl, u64 flags,
			  u64 timeout_ns, struct file *file)
{
	memset(dl, 0, sizeof(*dl));
	if ((flags & IPCCHAN_ABSTIME) && !(flags & IPCCHAN_TIMEOUT))
		return -EINVAL;
	if ((flags & IPCCHAN_REALTIME) && !(flags & IPCCHAN_ABSTIME))
		return -EINVAL;
	dl->nonblock = (flags & IPCCHAN_NONBLOCK) ||
		       (file && (file->f_flags & O_NONBLOCK));
	if (!(flags & IPCCHAN_TIMEOUT))
		return 0;
	dl->timed = true;
	dl->clock = (flags & IPCCHAN_REALTIME) ? CLOCK_REALTIME :
						  CLOCK_MONOTONIC;
	if (flags & IPCCHAN_ABSTIME) {
		dl->expires = ns_to_ktime(min_t(u64, timeout_ns, KTIME_MAX));
	} else {
		u64 now = ktime_get_ns();

		dl->expires = ns_to_ktime(timeout_ns > (u64)KTIME_MAX - now ?
					  KTIME_MAX : now + timeout_ns);
	}
	return 0;
}

static bool ipcchan_deadline_passed(const struct ipcchan_deadline *dl)
{
	ktime_t now;

	if (!dl->timed)
		return false;
	now = dl->clock == CLOCK_REALTIME ? ktime_get_real() : ktime_get();
	return ktime_compare(now, dl->expires) >= 0;
}

/**
 * ipcchan_wait_locked() - sleep once on @wq, @lock dropped meanwhile
 * @lock:    the lock protecting what the caller waits for; held on entry
 *           and again on return
 * @wq:      the wait queue its wakers wake under @lock
 * @dl:      the call's deadline
 * @waiters: the counter of sleepers to keep (for stats), under @lock
 *
 * The caller checked its condition under @lock and found it false.
 *
 * Return: 0 (woken or deadline reached: check again), -EAGAIN
 * (nonblocking), -ETIMEDOUT (deadline passed before sleeping), -EINTR
 * (signal, timed call) or -ERESTARTSYS (signal, untimed call).
 */
int ipcchan_wait_locked(spinlock_t *lock, wait_queue_head_t *wq,
			struct ipcchan_deadline *dl, u32 *waiters)
	__must_hold(lock)
{
	DEFINE_WAIT(wait);

	lockdep_assert_held(lock);
	if (dl->nonblock)
		return -EAGAIN;
	if (ipcchan_deadline_passed(dl))
		return -ETIMEDOUT;
	if (signal_pending(current))
		return dl->timed ? -EINTR : -ERESTARTSYS;

	prepare_to_wait(wq, &wait, TASK_INTERRUPTIBLE);
	(*waiters)++;
	spin_unlock(lock);
	if (dl->timed) {
		ktime_t expires = dl->expires;

		schedule_hrtimeout_range_clock(&expires, 0, HRTIMER_MODE_ABS,
					       dl->clock);
	} else {
		schedule();
	}
	spin_lock(lock);
	(*waiters)--;
	finish_wait(wq, &wait);
	if (signal_pending(current))
		return dl->timed ? -EINTR : -ERESTARTSYS;
	/*
	 * Woken or timed out: the caller checks its condition again, and only
	 * if it still cannot complete does the next call see the deadline
	 * passed. A deadline is a timeout only for a call that must sleep.
	 */
	return 0;
}
