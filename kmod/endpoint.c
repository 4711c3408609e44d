// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoints: the files through which channels are used, and the
 * IPCCHAN_IOC_CREATE command that makes anonymous channels.
 *
 * An endpoint has a tx channel (it sends there), an rx channel (it
 * receives from there), or both; each is fixed at creation, so ioctls read
 * ep->tx and ep->rx without a lock. The endpoint holds a counted
 * attachment on each (ipcchan_chan_attach()), dropped at release, which is
 * what hangup is computed from. It also holds the accounting record of the
 * user who created it: queued bytes it sends are charged there.
 */
#include <linux/anon_inodes.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "ipcchan.h"

#define IPCCHAN_XFER_FLAGS \
	(IPCCHAN_NONBLOCK | IPCCHAN_TIMEOUT | IPCCHAN_ABSTIME | IPCCHAN_REALTIME)

static struct ipcchan_ep *ipcchan_ep_of(struct file *file)
{
	return file->private_data;
}

/* Allocate a message and copy its payload from one user buffer or iovecs. */
static struct ipcchan_msg *ipcchan_msg_new(struct ipcchan_ep *ep, u64 len,
					   u32 prio)
{
	struct ipcchan_limits lim;
	struct ipcchan_msg *msg;
	int ret;

	msg = kvmalloc(struct_size(msg, data, len), GFP_KERNEL_ACCOUNT);
	if (!msg)
		return ERR_PTR(-ENOMEM);
	ipcchan_limits_read(&lim);
	ret = ipcchan_user_charge_bytes(ep->user, ipcchan_msg_charge(len),
					lim.max_user_bytes);
	if (ret) {
		kvfree(msg);
		return ERR_PTR(ret);
	}
	RB_CLEAR_NODE(&msg->node);
	refcount_set(&msg->ref, 1);
	msg->slot = 0;
	msg->slot_gen = 0;
	msg->region = NULL;
	msg->dropped = false;
	msg->seq = 0;
	msg->prio = prio;
	msg->len = len;
	msg->pid = get_pid(task_tgid(current));
	msg->uid = current_euid();
	msg->gid = current_egid();
	msg->timestamp_ns = ktime_get_ns();
	refcount_inc(&ep->user->ref);
	msg->user = ep->user;
	return msg;
}

static int ipcchan_msg_fill_iov(struct ipcchan_msg *msg, u64 uiov, u64 count,
				u64 msg_size_max)
{
	struct ipcchan_iovec __user *iov = u64_to_user_ptr(uiov);
	struct ipcchan_iovec v;
	u64 i, off = 0;

	for (i = 0; i < count; i++) {
		if (copy_from_user(&v, &iov[i], sizeof(v)))
			return -EFAULT;
		if (v.len > msg->len - off)
			return -EFAULT;	/* the iovecs changed under us */
		if (copy_from_user(msg->data + off, u64_to_user_ptr(v.base),
				   v.len))
			return -EFAULT;
		off += v.len;
	}
	return off == msg->len ? 0 : -EFAULT;
}

/* Sum of an iovec array's lengths, checked against @max. */
static int ipcchan_iov_len(u64 uiov, u64 count, u64 max, u64 *total)
{
	struct ipcchan_iovec __user *iov = u64_to_user_ptr(uiov);
	struct ipcchan_iovec v;
	u64 i, sum = 0;

	if (count > IPCCHAN_IOV_MAX)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		if (copy_from_user(&v, &iov[i], sizeof(v)))
			return -EFAULT;
		if (v.len > max || sum + v.len > max)
			return -EMSGSIZE;
		sum += v.len;
	}
	*total = sum;
	return 0;
}

/* Build the message of one send (plain or vectored). */
static struct ipcchan_msg *ipcchan_msg_from_user(struct ipcchan_ep *ep,
						 u64 flags, u64 buf, u64 len,
						 u32 prio)
{
	u64 max = ep->tx->msg_size_max, total = len;
	struct ipcchan_msg *msg;
	int ret;

	if (prio >= IPCCHAN_PRIO_MAX)
		return ERR_PTR(-EINVAL);
	if (flags & IPCCHAN_SEND_IOV) {
		ret = ipcchan_iov_len(buf, len, max, &total);
		if (ret)
			return ERR_PTR(ret);
	} else if (len > max) {
		return ERR_PTR(-EMSGSIZE);
	}
	msg = ipcchan_msg_new(ep, total, prio);
	if (IS_ERR(msg))
		return msg;
	if (flags & IPCCHAN_SEND_IOV)
		ret = ipcchan_msg_fill_iov(msg, buf, len, max);
	else
		ret = copy_from_user(msg->data, u64_to_user_ptr(buf), len) ?
		      -EFAULT : 0;
	if (ret) {
		ipcchan_msg_free(msg);
		return ERR_PTR(ret);
	}
	return msg;
}

/* Build the message of a send with IPCCHAN_SEND_SLOT: it carries the slot. */
static struct ipcchan_msg *ipcchan_msg_of_slot(struct ipcchan_ep *ep,
					       const struct ipcchan_send *s)
{
	struct ipcchan_msg *msg;
	int ret;

	if (s->buf || s->prio >= IPCCHAN_PRIO_MAX)
		return ERR_PTR(-EINVAL);
	if (!ep->region || !ep->region->nr_slots)
		return ERR_PTR(-ENODEV);
	msg = ipcchan_msg_new(ep, 0, s->prio);
	if (IS_ERR(msg))
		return msg;
	ret = ipcchan_slot_msg_new(ep, s->slot, s->len, msg);
	if (ret) {
		ipcchan_msg_free(msg);
		return ERR_PTR(ret);
	}
	return msg;
}

/* Flags and fields of a send that must agree with each other. */
static int ipcchan_send_check(const struct ipcchan_send *s)
{
	if (s->flags & ~(IPCCHAN_XFER_FLAGS | IPCCHAN_SEND_IOV |
			 IPCCHAN_SEND_SLOT))
		return -EINVAL;
	if ((s->flags & IPCCHAN_SEND_IOV) && (s->flags & IPCCHAN_SEND_SLOT))
		return -EINVAL;
	if (s->slot && !(s->flags & IPCCHAN_SEND_SLOT))
		return -EINVAL;
	if (!ipcchan_mem_is_zero(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	return 0;
}

static long ipcchan_ioctl_send(struct file *file, void __user *arg,
			       size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_deadline dl;
	struct ipcchan_msg *msg;
	struct ipcchan_send s;
	int ret;

	ret = ipcchan_copy_struct_in(&s, sizeof(s), arg, usize);
	if (ret)
		return ret;
	ret = ipcchan_send_check(&s);
	if (ret)
		return ret;
	ret = ipcchan_deadline_init(&dl, s.flags, s.timeout_ns, file);
	if (ret)
		return ret;
	if (!ep->tx)
		return -EBADF;
	if (ipcchan_chan_broken(ep->tx))
		return -EPIPE;

	if (s.flags & IPCCHAN_SEND_SLOT)
		msg = ipcchan_msg_of_slot(ep, &s);
	else
		msg = ipcchan_msg_from_user(ep, s.flags, s.buf, s.len, s.prio);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	ret = ipcchan_chan_enqueue(ep->tx, msg, &dl);
	if (ret && msg->region)
		ipcchan_slot_unsend(ep, msg);
	else if (ret)
		ipcchan_msg_free(msg);
	return ret;
}

/* Fill the receive result from @msg (or end of channel, @msg NULL). */
static void ipcchan_recv_fill(struct ipcchan_recv *r, struct ipcchan_msg *msg)
{
	r->len = 0;
	r->prio = 0;
	r->seq = 0;
	r->pid = 0;
	r->uid = 0;
	r->gid = 0;
	r->timestamp_ns = 0;
	/* Without RECV_SLOT, @slot reads 0, as the reserved field it was. */
	r->slot = (r->flags & IPCCHAN_RECV_SLOT) ? IPCCHAN_SLOT_NONE : 0;
	if (!msg)
		return;
	if (msg->region && (r->flags & IPCCHAN_RECV_SLOT))
		r->slot = msg->slot;
	r->len = msg->len;
	r->prio = msg->prio;
	r->seq = msg->seq;
	if (r->flags & IPCCHAN_RECV_CREDS) {
		struct user_namespace *ns = current_user_ns();

		r->pid = pid_vnr(msg->pid);
		r->uid = from_kuid_munged(ns, msg->uid);
		r->gid = from_kgid_munged(ns, msg->gid);
		r->timestamp_ns = msg->timestamp_ns;
	}
}

/*
 * Deliver @msg's payload to @buf: a copy, from the message or from its
 * slot; nothing for a slot message received with IPCCHAN_TAKE_SLOT.
 */
static int ipcchan_recv_payload(struct ipcchan_msg *msg, u64 buf,
				unsigned int how)
{
	void __user *ubuf = u64_to_user_ptr(buf);

	if (!msg->region)
		return copy_to_user(ubuf, msg->data, msg->len) ? -EFAULT : 0;
	if (how & IPCCHAN_TAKE_SLOT)
		return 0;
	return ipcchan_slot_copy_out(msg, ubuf);
}

/*
 * Receive one message into @buf (@space bytes), as @how says
 * (IPCCHAN_TAKE_*). Returns 0 with *@msgp set (the caller owns a
 * reference), 0 with *@msgp NULL at end of channel, or an error;
 * -EMSGSIZE sets *@len.
 */
static int ipcchan_recv_one(struct ipcchan_chan *chan,
			    struct ipcchan_deadline *dl, u64 buf, u64 space,
			    unsigned int how, struct ipcchan_msg **msgp,
			    u64 *len)
{
	struct ipcchan_msg *msg = NULL;
	int ret;

	*msgp = NULL;
again:
	ret = ipcchan_chan_take(chan, dl, space, how, &msg, len);
	if (ret == 1)
		return 0;
	if (ret)
		return ret;
	ret = ipcchan_recv_payload(msg, buf, how);
	if (ret) {
		if (how & IPCCHAN_TAKE_PEEK)
			ipcchan_msg_put(msg);
		else
			ipcchan_chan_untake(chan, msg);
		return ret;
	}
	/*
	 * A peek pins the message, not its slot: if another receiver took
	 * the slot while we copied, the bytes may be someone else's. That
	 * message is gone from the queue; peek at what is first now.
	 */
	if ((how & IPCCHAN_TAKE_PEEK) && msg->region &&
	    !ipcchan_slot_msg_current(msg)) {
		ipcchan_msg_put(msg);
		goto again;
	}
	*msgp = msg;
	return 0;
}

/*
 * The receiver has the message: account for it (or drop a peek's ref).
 * With IPCCHAN_TAKE_SLOT, @ep now holds a slot message's slot.
 */
static void ipcchan_recv_done(struct ipcchan_ep *ep, struct ipcchan_msg *msg,
			      unsigned int how)
{
	if (how & IPCCHAN_TAKE_PEEK) {
		ipcchan_msg_put(msg);
		return;
	}
	if (msg->region && (how & IPCCHAN_TAKE_SLOT))
		ipcchan_slot_receive(ep, msg);
	ipcchan_chan_took(ep->rx, msg);
}

static long ipcchan_ioctl_recv(struct file *file, void __user *arg,
			       size_t usize)
{
	struct ipcchan_recv __user *ur = arg;
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_deadline dl;
	struct ipcchan_msg *msg;
	struct ipcchan_recv r;
	unsigned int how = 0;
	u64 len;
	int ret;

	ret = ipcchan_copy_struct_in(&r, sizeof(r), arg, usize);
	if (ret)
		return ret;
	if ((r.flags & ~(IPCCHAN_XFER_FLAGS | IPCCHAN_RECV_PEEK |
			 IPCCHAN_RECV_CREDS | IPCCHAN_RECV_SLOT)) || r.pad ||
	    r.reserved)
		return -EINVAL;
	if ((r.flags & IPCCHAN_RECV_PEEK) && (r.flags & IPCCHAN_RECV_SLOT))
		return -EINVAL;
	ret = ipcchan_deadline_init(&dl, r.flags, r.timeout_ns, file);
	if (ret)
		return ret;
	if (!ep->rx)
		return -EBADF;

	if (r.flags & IPCCHAN_RECV_PEEK)
		how |= IPCCHAN_TAKE_PEEK;
	if (r.flags & IPCCHAN_RECV_SLOT)
		how |= IPCCHAN_TAKE_SLOT;
	ret = ipcchan_recv_one(ep->rx, &dl, r.buf, r.len, how, &msg, &len);
	if (ret == -EMSGSIZE)
		return put_user(len, &ur->len) ? -EFAULT : -EMSGSIZE;
	if (ret)
		return ret;
	ipcchan_recv_fill(&r, msg);
	if (ipcchan_copy_struct_out(arg, usize, &r, sizeof(r))) {
		/* The payload was delivered; keep the message queued. */
		if (msg && !(how & IPCCHAN_TAKE_PEEK))
			ipcchan_chan_untake(ep->rx, msg);
		else if (msg)
			ipcchan_msg_put(msg);
		return -EFAULT;
	}
	if (msg)
		ipcchan_recv_done(ep, msg, how);
	return min_t(u64, r.len, INT_MAX);
}

/* Copy in and check a batch, and turn its flags into a deadline. */
static int ipcchan_batch_begin(struct file *file, void __user *arg,
			       size_t usize, struct ipcchan_batch *b,
			       struct ipcchan_deadline *dl)
{
	int ret = ipcchan_copy_struct_in(b, sizeof(*b), arg, usize);

	if (ret)
		return ret;
	if ((b->flags & ~IPCCHAN_XFER_FLAGS) ||
	    !ipcchan_mem_is_zero(b->reserved, sizeof(b->reserved)) ||
	    !b->count || b->count > IPCCHAN_BATCH_MAX)
		return -EINVAL;
	return ipcchan_deadline_init(dl, b->flags, b->timeout_ns, file);
}

/*
 * The result of a batch. Once messages moved, the count is the result even
 * if @done cannot be written: an error then would make the caller resend
 * or believe lost what it was given.
 */
static long ipcchan_batch_out(struct ipcchan_batch __user *ub, u32 done,
			      int first_err)
{
	if (!done && first_err)
		return first_err;
	if (put_user(done, &ub->done) && !done)
		return -EFAULT;
	return done;
}

static long ipcchan_ioctl_send_batch(struct file *file, void __user *arg,
				     size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_msghdr __user *uh;
	struct ipcchan_deadline dl;
	struct ipcchan_batch b;
	struct ipcchan_msghdr h;
	struct ipcchan_msg *msg;
	int ret;
	u32 i;

	ret = ipcchan_batch_begin(file, arg, usize, &b, &dl);
	if (ret)
		return ret;
	if (!ep->tx)
		return -EBADF;
	if (ipcchan_chan_broken(ep->tx))
		return -EPIPE;

	uh = u64_to_user_ptr(b.msgs);
	for (i = 0; i < b.count; i++) {
		if (copy_from_user(&h, &uh[i], sizeof(h))) {
			ret = -EFAULT;
			break;
		}
		if (h.pad) {
			ret = -EINVAL;
			break;
		}
		msg = ipcchan_msg_from_user(ep, 0, h.buf, h.len, h.prio);
		if (IS_ERR(msg)) {
			ret = PTR_ERR(msg);
			break;
		}
		/* Only the first message may sleep. */
		if (i == 1)
			dl.nonblock = true;
		ret = ipcchan_chan_enqueue(ep->tx, msg, &dl);
		if (ret) {
			ipcchan_msg_free(msg);
			break;
		}
	}
	return ipcchan_batch_out(arg, i, ret);
}

static long ipcchan_ioctl_recv_batch(struct file *file, void __user *arg,
				     size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_msghdr __user *uh;
	struct ipcchan_deadline dl;
	struct ipcchan_batch b;
	struct ipcchan_msghdr h;
	struct ipcchan_msg *msg;
	u64 len;
	int ret;
	u32 i;

	ret = ipcchan_batch_begin(file, arg, usize, &b, &dl);
	if (ret)
		return ret;
	if (!ep->rx)
		return -EBADF;

	uh = u64_to_user_ptr(b.msgs);
	for (i = 0; i < b.count; i++) {
		if (copy_from_user(&h, &uh[i], sizeof(h))) {
			ret = -EFAULT;
			break;
		}
		if (i == 1)
			dl.nonblock = true;
		ret = ipcchan_recv_one(ep->rx, &dl, h.buf, h.len, 0, &msg,
				       &len);
		if (ret == -EMSGSIZE && i == 0 && put_user(len, &uh[i].len))
			ret = -EFAULT;
		if (ret || !msg)
			break;
		h.len = msg->len;
		h.prio = msg->prio;
		h.pad = 0;
		h.seq = msg->seq;
		if (copy_to_user(&uh[i], &h, sizeof(h))) {
			ipcchan_chan_untake(ep->rx, msg);
			ret = -EFAULT;
			break;
		}
		ipcchan_recv_done(ep, msg, 0);
	}
	return ipcchan_batch_out(arg, i, ret);
}

static long ipcchan_ioctl_stats(struct file *file, void __user *arg,
				size_t usize)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	struct ipcchan_chan *chan;
	struct ipcchan_stats st;
	u64 flags;
	int ret;

	ret = ipcchan_copy_struct_in(&st, sizeof(st), arg, usize);
	if (ret)
		return ret;
	if ((st.flags & ~IPCCHAN_STATS_TX) ||
	    !ipcchan_mem_is_zero(st.reserved, sizeof(st.reserved)))
		return -EINVAL;
	chan = ((st.flags & IPCCHAN_STATS_TX) || !ep->rx) ? ep->tx : ep->rx;
	if (!chan)
		return -EBADF;
	flags = st.flags;
	memset(&st, 0, sizeof(st));
	st.flags = flags;
	ipcchan_chan_stats(chan, &st);
	return ipcchan_copy_struct_out(arg, usize, &st, sizeof(st));
}

static const struct ipcchan_ioctl_desc ipcchan_ep_ioctls[] = {
	{ IPCCHAN_IOC_SEND, IPCCHAN_SEND_SIZE_VER0, ipcchan_ioctl_send },
	{ IPCCHAN_IOC_RECV, IPCCHAN_RECV_SIZE_VER0, ipcchan_ioctl_recv },
	{ IPCCHAN_IOC_SEND_BATCH, IPCCHAN_BATCH_SIZE_VER0,
	  ipcchan_ioctl_send_batch },
	{ IPCCHAN_IOC_RECV_BATCH, IPCCHAN_BATCH_SIZE_VER0,
	  ipcchan_ioctl_recv_batch },
	{ IPCCHAN_IOC_STATS, IPCCHAN_STATS_SIZE_VER0, ipcchan_ioctl_stats },
	{ IPCCHAN_IOC_NOTIFY, IPCCHAN_NOTIFY_SIZE_VER0, ipcchan_ioctl_notify },
	{ IPCCHAN_IOC_SLOT_LOAN, IPCCHAN_SLOT_LOAN_SIZE_VER0,
	  ipcchan_ioctl_slot_loan },
	{ IPCCHAN_IOC_SLOT_RELEASE, IPCCHAN_SLOT_RELEASE_SIZE_VER0,
	  ipcchan_ioctl_slot_release },
	{ IPCCHAN_IOC_SEM, IPCCHAN_SEM_SIZE_VER0, ipcchan_ioctl_sem },
	{ IPCCHAN_IOC_REGION_INFO, IPCCHAN_REGION_INFO_SIZE_VER0,
	  ipcchan_ioctl_region_info },
};

static long ipcchan_ep_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	return ipcchan_ioctl_dispatch(ipcchan_ep_ioctls,
				      ARRAY_SIZE(ipcchan_ep_ioctls),
				      file, cmd, arg);
}

/*
 * EPOLLIN: a message is queued. EPOLLHUP: no sender can ever come (read
 * what is queued, then end of channel). EPOLLOUT: one more message fits.
 * EPOLLERR: no receiver can ever come (send fails with -EPIPE).
 */
static __poll_t ipcchan_ep_poll(struct file *file, poll_table *pt)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);
	__poll_t mask = 0;

	if (ep->rx)
		poll_wait(file, &ep->rx->recv_wait, pt);
	if (ep->tx)
		poll_wait(file, &ep->tx->send_wait, pt);

	if (ep->rx) {
		spin_lock(&ep->rx->lock);
		if (!RB_EMPTY_ROOT(&ep->rx->queue.rb_root))
			mask |= EPOLLIN | EPOLLRDNORM;
		if (ipcchan_chan_hup_locked(ep->rx))
			mask |= EPOLLHUP;
		spin_unlock(&ep->rx->lock);
	}
	if (ep->tx) {
		spin_lock(&ep->tx->lock);
		if (ipcchan_chan_broken_locked(ep->tx))
			mask |= EPOLLERR;
		else if (ipcchan_chan_can_send_locked(ep->tx))
			mask |= EPOLLOUT | EPOLLWRNORM;
		spin_unlock(&ep->tx->lock);
	}
	return mask;
}

static void ipcchan_fdinfo_chan(struct seq_file *m, const char *dir,
				struct ipcchan_chan *chan)
{
	struct ipcchan_stats st;

	ipcchan_chan_stats(chan, &st);
	seq_printf(m, "ipcchan-%s:\tqueued_msgs=%llu queued_bytes=%llu sent=%llu received=%llu senders=%u receivers=%u msg_size_max=%llu queue_msgs=%llu queue_bytes=%llu\n",
		   dir, st.queued_msgs, st.queued_bytes, st.sent, st.received,
		   st.senders, st.receivers, st.msg_size_max, st.queue_msgs,
		   st.queue_bytes);
	if (chan->name) {
		seq_printf(m, "ipcchan-%s-name:\t", dir);
		seq_escape(m, chan->name, IPCCHAN_NAME_ESCAPE);
		seq_putc(m, '\n');
	}
}

static void ipcchan_ep_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);

	if (ep->rx)
		ipcchan_fdinfo_chan(m, "rx", ep->rx);
	if (ep->tx)
		ipcchan_fdinfo_chan(m, "tx", ep->tx);
	ipcchan_region_show_fdinfo(m, ep);
}

static int ipcchan_ep_mmap(struct file *file, struct vm_area_struct *vma)
{
	return ipcchan_region_mmap(ipcchan_ep_of(file), vma);
}

/* A close by a process drops the notification it made through this file. */
static int ipcchan_ep_flush(struct file *file, fl_owner_t id)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);

	if (ep->rx)
		ipcchan_notify_drop_file(ep->rx, file, task_tgid(current));
	return 0;
}

static int ipcchan_ep_release(struct inode *inode, struct file *file)
{
	struct ipcchan_ep *ep = ipcchan_ep_of(file);

	if (ep->rx) {
		ipcchan_notify_drop_file(ep->rx, file, NULL);
		ipcchan_chan_detach(ep->rx, false);
	}
	if (ep->tx)
		ipcchan_chan_detach(ep->tx, true);
	ipcchan_region_release_ep(ep);
	ipcchan_user_put(ep->user);
	kfree(ep);
	return 0;
}

static const struct file_operations ipcchan_ep_fops = {
	.owner		= THIS_MODULE,
	.flush		= ipcchan_ep_flush,
	.release	= ipcchan_ep_release,
	.fasync		= ipcchan_notify_fasync,
	.poll		= ipcchan_ep_poll,
	.mmap		= ipcchan_ep_mmap,
	.unlocked_ioctl	= ipcchan_ep_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.show_fdinfo	= ipcchan_ep_show_fdinfo,
};

/**
 * ipcchan_ep_file() - make an endpoint file over @tx and/or @rx
 * @tx:       channel it sends to, or NULL
 * @rx:       channel it receives from, or NULL
 * @user:     accounting record for the bytes it sends (a reference is taken)
 * @nonblock: O_NONBLOCK on the file
 *
 * Context: process context.
 * Return: the file, or an ERR_PTR.
 */
struct file *ipcchan_ep_file(struct ipcchan_chan *tx, struct ipcchan_chan *rx,
			     struct ipcchan_user *user, bool nonblock)
{
	struct ipcchan_ep *ep;
	struct file *file;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return ERR_PTR(-ENOMEM);
	file = anon_inode_getfile("[ipcchan]", &ipcchan_ep_fops, ep,
				  O_RDWR | (nonblock ? O_NONBLOCK : 0));
	if (IS_ERR(file)) {
		kfree(ep);
		return file;
	}
	refcount_inc(&user->ref);
	ep->user = user;
	/* Both channels of a duplex endpoint share one region. */
	ep->region = tx ? tx->region : rx->region;
	if (ep->region)
		ipcchan_region_get(ep->region);
	if (tx) {
		ipcchan_chan_attach(tx, true);
		ep->tx = tx;
	}
	if (rx) {
		ipcchan_chan_attach(rx, false);
		ep->rx = rx;
	}
	return file;
}

/**
 * ipcchan_reserve_fds() - reserve descriptors for new files, all or none
 * @n:       how many
 * @cloexec: O_CLOEXEC on the descriptors
 * @fds:     out: the descriptor numbers (not yet installed)
 *
 * On success the caller copies @fds to userspace and then calls
 * ipcchan_commit_fds() or, if that copy failed, ipcchan_abort_fds().
 *
 * Return: 0 or a negative errno (nothing reserved).
 */
int ipcchan_reserve_fds(int n, bool cloexec, int *fds)
{
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = get_unused_fd_flags(cloexec ? O_CLOEXEC : 0);
		if (fds[i] < 0) {
			int err = fds[i];

			while (--i >= 0)
				put_unused_fd(fds[i]);
			return err;
		}
	}
	return 0;
}

void ipcchan_commit_fds(struct file **files, const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fd_install(fds[i], files[i]);
}

void ipcchan_abort_fds(struct file **files, const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		put_unused_fd(fds[i]);
		fput(files[i]);
	}
}

static void ipcchan_put_files(struct file **files, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!IS_ERR_OR_NULL(files[i]))
			fput(files[i]);
}

/*
 * Make the endpoint files of IPCCHAN_IOC_CREATE: pipe-like over @a, or, with
 * @b, socketpair-like (files[0] sends to @b and receives from @a).
 */
static int ipcchan_create_files(struct ipcchan_chan *a, struct ipcchan_chan *b,
				struct ipcchan_user *user, bool nonblock,
				struct file **files)
{
	files[0] = ipcchan_ep_file(b, a, user, nonblock);
	if (IS_ERR(files[0]))
		return PTR_ERR(files[0]);
	files[1] = b ? ipcchan_ep_file(a, b, user, nonblock) :
		       ipcchan_ep_file(a, NULL, user, nonblock);
	if (IS_ERR(files[1])) {
		fput(files[0]);
		return PTR_ERR(files[1]);
	}
	return 0;
}

/**
 * ipcchan_ioctl_create() - IPCCHAN_IOC_CREATE handler (control fd)
 * @file:  the control file; its credentials own the channel
 * @arg:   user pointer to struct ipcchan_create
 * @usize: the caller's size of the struct
 *
 * Return: 0 or a negative errno; no fd is installed on failure.
 */
long ipcchan_ioctl_create(struct file *file, void __user *arg, size_t usize)
{
	struct ipcchan_chan *a = NULL, *b = NULL;
	struct ipcchan_region_attr ra;
	struct ipcchan_region *region;
	struct ipcchan_user *user;
	struct file *files[2] = { NULL, NULL };
	struct ipcchan_create c;
	int fds[2];
	int ret;

	ret = ipcchan_copy_struct_in(&c, sizeof(c), arg, usize);
	if (ret)
		return ret;
	if ((c.flags & ~(IPCCHAN_FD_CLOEXEC | IPCCHAN_FD_NONBLOCK |
			 IPCCHAN_CREATE_DUPLEX)) ||
	    !ipcchan_mem_is_zero(c.reserved, sizeof(c.reserved)))
		return -EINVAL;
	ret = ipcchan_attr_resolve(&c.msg_size_max, &c.queue_msgs,
				   &c.queue_bytes);
	if (ret)
		return ret;

	user = ipcchan_user_get(file->f_cred->uid);
	if (!user)
		return -ENOMEM;
	ra.size = c.region_size;
	ra.slot_size = c.slot_size;
	ra.nr_sems = c.nr_sems;
	region = ipcchan_region_new(user, &ra);
	if (IS_ERR(region)) {
		ret = PTR_ERR(region);
		region = NULL;
		goto out;
	}
	a = ipcchan_chan_new(user, c.msg_size_max, c.queue_msgs, c.queue_bytes,
			     region);
	if (IS_ERR(a)) {
		ret = PTR_ERR(a);
		a = NULL;
		goto out;
	}
	if (c.flags & IPCCHAN_CREATE_DUPLEX) {
		b = ipcchan_chan_new(user, c.msg_size_max, c.queue_msgs,
				     c.queue_bytes, region);
		if (IS_ERR(b)) {
			ret = PTR_ERR(b);
			b = NULL;
			goto out;
		}
	}
	ret = ipcchan_create_files(a, b, user, c.flags & IPCCHAN_FD_NONBLOCK,
				   files);
	if (ret)
		goto out;
	ret = ipcchan_reserve_fds(2, c.flags & IPCCHAN_FD_CLOEXEC, fds);
	if (ret) {
		ipcchan_put_files(files, 2);
		goto out;
	}
	c.fds[0] = fds[0];
	c.fds[1] = fds[1];
	if (ipcchan_copy_struct_out(arg, usize, &c, sizeof(c))) {
		ipcchan_abort_fds(files, fds, 2);
		ret = -EFAULT;
		goto out;
	}
	ipcchan_commit_fds(files, fds, 2);
out:
	/* The endpoints hold their own references now. */
	if (b)
		ipcchan_chan_put(b);
	if (a)
		ipcchan_chan_put(a);
	ipcchan_region_put(region);
	ipcchan_user_put(user);
	return ret;
}
