// SPDX-License-Identifier: GPL-2.0
/*
 * Signal notification: IPCCHAN_IOC_NOTIFY registrations and fasync (SIGIO).
 *
 * Registrations live on the rx channel, in chan->notifiers, protected by
 * chan->lock. A registration belongs to a process (its tgid) and to the
 * endpoint file it was made through; it is removed by IPCCHAN_NOTIFY_REMOVE,
 * after firing if ONESHOT, when that process closes that file (->flush runs
 * on every close), and when the file is released.
 *
 * Firing happens in ipcchan_chan_enqueue() under chan->lock, when a message
 * lands in an empty queue and no receiver sleeps (POSIX mq_notify rules).
 * send_sig_info() only takes the target's siglock, which nests inside
 * chan->lock. The signal goes to the thread that registered (the only
 * signal-with-value call exported to modules targets a thread), and, as
 * mqueue does, never to a program that has exec'ed since it registered.
 *
 * fasync: every receiving endpoint with O_ASYNC is on chan->fasync and
 * gets SIGIO (POLL_IN) for every message queued.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>
#include <linux/uaccess.h>

#include "ipcchan.h"

/**
 * struct ipcchan_notifier - one process's registration on a channel
 * @node:         in chan->notifiers (chan->lock)
 * @owner:        the registering process (tgid), referenced
 * @thread:       the registering thread, which receives the signal
 * @file:         the endpoint it registered through (not referenced: the
 *                registration goes before the file does)
 * @self_exec_id: the registrant's exec generation
 * @signo:        signal
 * @value:        si_value
 * @flags:        IPCCHAN_NOTIFY_EXCLUSIVE, IPCCHAN_NOTIFY_ONESHOT
 */
struct ipcchan_notifier {
	struct list_head node;
	struct pid *owner;
	struct pid *thread;
	struct file *file;
	u64 self_exec_id;
	int signo;
	u64 value;
	u64 flags;
};

static void ipcchan_notifier_free(struct ipcchan_notifier *n)
{
	put_pid(n->owner);
	put_pid(n->thread);
	kfree(n);
}

static struct ipcchan_notifier *
ipcchan_notifier_find_locked(struct ipcchan_chan *chan, struct pid *owner)
{
	struct ipcchan_notifier *n;

	lockdep_assert_held(&chan->lock);
	list_for_each_entry(n, &chan->notifiers, node)
		if (n->owner == owner)
			return n;
	return NULL;
}

/* Would @owner's new registration break an exclusive one (or vice versa)? */
static bool ipcchan_notify_busy_locked(struct ipcchan_chan *chan,
				       struct pid *owner, bool exclusive)
{
	struct ipcchan_notifier *n;

	list_for_each_entry(n, &chan->notifiers, node) {
		if (n->owner == owner)
			continue;
		if (exclusive || (n->flags & IPCCHAN_NOTIFY_EXCLUSIVE))
			return true;
	}
	return false;
}

static struct ipcchan_notifier *ipcchan_notifier_new(struct file *file,
						     const struct ipcchan_notify *req)
{
	struct ipcchan_notifier *n;

	n = kzalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
	if (!n)
		return NULL;
	n->owner = get_pid(task_tgid(current));
	n->thread = get_task_pid(current, PIDTYPE_PID);
	n->file = file;
	n->self_exec_id = current->self_exec_id;
	n->signo = req->signo;
	n->value = req->value;
	n->flags = req->flags & (IPCCHAN_NOTIFY_EXCLUSIVE |
				 IPCCHAN_NOTIFY_ONESHOT);
	return n;
}

static long ipcchan_notify_remove(struct ipcchan_chan *chan)
{
	struct ipcchan_notifier *n;

	spin_lock(&chan->lock);
	n = ipcchan_notifier_find_locked(chan, task_tgid(current));
	if (n)
		list_del(&n->node);
	spin_unlock(&chan->lock);
	if (!n)
		return -ENOENT;
	ipcchan_notifier_free(n);
	return 0;
}

#define IPCCHAN_NOTIFY_FLAGS (IPCCHAN_NOTIFY_REMOVE | \
			      IPCCHAN_NOTIFY_EXCLUSIVE | \
			      IPCCHAN_NOTIFY_ONESHOT)

/**
 * ipcchan_ioctl_notify() - IPCCHAN_IOC_NOTIFY handler (endpoint)
 * @file:  an endpoint that receives
 * @arg:   user pointer to struct ipcchan_notify
 * @usize: the caller's size of the struct
 *
 * Return: 0, -EBUSY, -ENOENT, -EINVAL, -EBADF, -ENOMEM or -EFAULT.
 */
long ipcchan_ioctl_notify(struct file *file, void __user *arg, size_t usize)
{
	struct ipcchan_chan *chan = ((struct ipcchan_ep *)file->private_data)->rx;
	struct ipcchan_notifier *n, *old;
	struct ipcchan_notify req;
	int ret;

	ret = ipcchan_copy_struct_in(&req, sizeof(req), arg, usize);
	if (ret)
		return ret;
	if ((req.flags & ~IPCCHAN_NOTIFY_FLAGS) || req.pad ||
	    !ipcchan_mem_is_zero(req.reserved, sizeof(req.reserved)))
		return -EINVAL;
	if (!(req.flags & IPCCHAN_NOTIFY_REMOVE) &&
	    (req.signo <= 0 || !valid_signal(req.signo)))
		return -EINVAL;
	if (!chan)
		return -EBADF;
	if (req.flags & IPCCHAN_NOTIFY_REMOVE)
		return ipcchan_notify_remove(chan);

	n = ipcchan_notifier_new(file, &req);
	if (!n)
		return -ENOMEM;
	spin_lock(&chan->lock);
	if (ipcchan_notify_busy_locked(chan, n->owner,
				       n->flags & IPCCHAN_NOTIFY_EXCLUSIVE)) {
		spin_unlock(&chan->lock);
		ipcchan_notifier_free(n);
		return -EBUSY;
	}
	old = ipcchan_notifier_find_locked(chan, n->owner);
	if (old)
		list_del(&old->node);
	list_add_tail(&n->node, &chan->notifiers);
	spin_unlock(&chan->lock);
	if (old)
		ipcchan_notifier_free(old);
	return 0;
}

static void ipcchan_notifier_signal(struct ipcchan_notifier *n)
{
	struct kernel_siginfo info;
	struct task_struct *task;

	clear_siginfo(&info);
	info.si_signo = n->signo;
	info.si_code = SI_MESGQ;
	info.si_value.sival_ptr = (void __user *)(uintptr_t)n->value;
	rcu_read_lock();
	info.si_pid = task_tgid_nr_ns(current, ns_of_pid(n->owner));
	/*
	 * In the sender's user namespace: signal delivery maps si_uid into
	 * the receiver's (send_signal_locked()), so mapping it here too, as
	 * ipc/mqueue.c does, would translate it twice.
	 */
	info.si_uid = from_kuid_munged(current_user_ns(), current_uid());
	task = pid_task(n->thread, PIDTYPE_PID);
	if (task && task->self_exec_id == n->self_exec_id)
		send_sig_info(n->signo, &info, task);
	rcu_read_unlock();
}

/**
 * ipcchan_notify_locked() - a message was queued: signal who asked
 * @chan:      the channel, locked
 * @was_empty: nothing was queued before this message (a message another
 *             receiver is copying out does not count)
 * @gone:      list to put fired ONESHOT registrations on, for the caller to
 *             free with ipcchan_notify_free_list() after unlocking
 */
void ipcchan_notify_locked(struct ipcchan_chan *chan, bool was_empty,
			   struct list_head *gone)
{
	struct ipcchan_notifier *n, *tmp;

	lockdep_assert_held(&chan->lock);
	kill_fasync(&chan->fasync, SIGIO, POLL_IN);
	if (!was_empty || chan->waiting_receivers)
		return;
	list_for_each_entry_safe(n, tmp, &chan->notifiers, node) {
		ipcchan_notifier_signal(n);
		if (n->flags & IPCCHAN_NOTIFY_ONESHOT)
			list_move(&n->node, gone);
	}
}

/**
 * ipcchan_notify_free_list() - free registrations taken off their channel
 * @gone: the list
 */
void ipcchan_notify_free_list(struct list_head *gone)
{
	struct ipcchan_notifier *n, *tmp;

	list_for_each_entry_safe(n, tmp, gone, node)
		ipcchan_notifier_free(n);
}

/**
 * ipcchan_notify_drop_file() - remove registrations made through @file
 * @chan:  the rx channel of @file
 * @file:  the endpoint being closed or released
 * @owner: only this process's registration (a close), or NULL for all (the
 *         file's release)
 */
void ipcchan_notify_drop_file(struct ipcchan_chan *chan, struct file *file,
			      struct pid *owner)
{
	struct ipcchan_notifier *n, *tmp;
	LIST_HEAD(gone);

	spin_lock(&chan->lock);
	list_for_each_entry_safe(n, tmp, &chan->notifiers, node)
		if (n->file == file && (!owner || n->owner == owner))
			list_move(&n->node, &gone);
	spin_unlock(&chan->lock);
	ipcchan_notify_free_list(&gone);
}

/**
 * ipcchan_notify_fasync() - the ->fasync of endpoints: SIGIO on input
 * @fd:   the fd
 * @file: the endpoint
 * @on:   add or remove
 *
 * An endpoint that does not receive accepts O_ASYNC and never gets SIGIO.
 *
 * Return: 0 or a negative errno from fasync_helper().
 */
int ipcchan_notify_fasync(int fd, struct file *file, int on)
{
	struct ipcchan_chan *chan = ((struct ipcchan_ep *)file->private_data)->rx;
	int ret;

	if (!chan) {
		/* Keep the flag the caller set (what fasync_helper() does). */
		spin_lock(&file->f_lock);
		if (on)
			file->f_flags |= FASYNC;
		else
			file->f_flags &= ~FASYNC;
		spin_unlock(&file->f_lock);
		return 0;
	}
	/* fasync_helper() sleeps; chan->fasync is read under RCU by kill. */
	ret = fasync_helper(fd, file, on, &chan->fasync);
	return ret < 0 ? ret : 0;
}
