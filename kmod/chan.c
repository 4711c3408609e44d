// SPDX-License-Identifier: GPL-2.0
/*
 * The channel: a bounded priority queue of messages, its waiters and its
 * hangup state.
 *
 * Locking
 * -------
 * chan->lock (spinlock) protects every field marked "(lock)" in struct
 * ipcchan_chan: the queue, the counters, the endpoint counts and @linked.
 * Nothing sleeps and no user memory is touched under it: payloads are
 * copied from userspace into a message before the lock is taken, and to
 * userspace after the message has been taken off the queue (it still
 * counts against the capacity until the copy succeeded, and goes back to
 * its place, same priority and sequence number, if the copy faults: a
 * receive that fails loses nothing).
 *
 * Lock order: ipcchan_names_lock (names.c, a mutex) -> chan->lock ->
 * the wait queue locks (taken by wake_up and prepare_to_wait).
 *
 * Sleeping and waking
 * -------------------
 * The protocol is the one written at the top of wait.c, with chan->lock as
 * the lock: sleepers use ipcchan_wait_locked(), wakers change the state
 * and wake under chan->lock, and may skip a wake-up nobody waits for.
 * Receivers sleep on @recv_wait (woken by every queued message, as
 * edge-triggered epoll needs, and by hangup); senders on @send_wait (woken
 * when space is freed and by hangup). Hangup wakes every sleeper of the
 * side it concerns.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>

#include "ipcchan.h"

/* Queue order: priority high to low, then sequence (arrival) low to high. */
static bool ipcchan_msg_before(struct rb_node *a, const struct rb_node *b)
{
	const struct ipcchan_msg *ma = rb_entry(a, struct ipcchan_msg, node);
	const struct ipcchan_msg *mb = rb_entry(b, struct ipcchan_msg, node);

	if (ma->prio != mb->prio)
		return ma->prio > mb->prio;
	return ma->seq < mb->seq;
}

/**
 * ipcchan_attr_resolve() - apply defaults and limits to creation attributes
 * @msg_size_max: in/out
 * @queue_msgs:   in/out
 * @queue_bytes:  in/out
 *
 * Return: 0 or -EINVAL (see "Channel attributes" in the uapi header).
 */
int ipcchan_attr_resolve(u32 *msg_size_max, u32 *queue_msgs, u64 *queue_bytes)
{
	struct ipcchan_limits lim;

	ipcchan_limits_read(&lim);
	if (!*msg_size_max)
		*msg_size_max = min_t(u64, IPCCHAN_DEFAULT_MSG_SIZE,
				      lim.max_msg_size);
	if (!*queue_msgs)
		*queue_msgs = min_t(u64, IPCCHAN_DEFAULT_QUEUE_MSGS,
				    lim.max_queue_msgs);
	if (!*queue_bytes)
		*queue_bytes = min_t(u64, (u64)*queue_msgs * *msg_size_max,
				     lim.max_queue_bytes);
	if (*msg_size_max > lim.max_msg_size ||
	    *queue_msgs > lim.max_queue_msgs ||
	    *queue_bytes > lim.max_queue_bytes ||
	    *queue_bytes < *msg_size_max)
		return -EINVAL;
	return 0;
}

/**
 * ipcchan_chan_new() - allocate a channel charged to @owner
 * @owner:        user to charge the channel to (a reference is taken)
 * @msg_size_max: resolved attribute
 * @queue_msgs:   resolved attribute
 * @queue_bytes:  resolved attribute
 * @region:       its shared region, or NULL (a reference is taken)
 *
 * Context: process context, may sleep.
 * Return: a channel with one reference, or ERR_PTR(-EMFILE, -ENFILE,
 * -ENOMEM).
 */
struct ipcchan_chan *ipcchan_chan_new(struct ipcchan_user *owner,
				      u32 msg_size_max, u32 queue_msgs,
				      u64 queue_bytes,
				      struct ipcchan_region *region)
{
	struct ipcchan_limits lim;
	struct ipcchan_chan *chan;
	int ret;

	ipcchan_limits_read(&lim);
	ret = ipcchan_channels_charge(lim.max_channels);
	if (ret)
		return ERR_PTR(ret);
	ret = ipcchan_user_charge_channel(owner, lim.max_user_channels);
	if (ret)
		goto out_uncharge_global;
	ret = -ENOMEM;
	chan = kzalloc(sizeof(*chan), GFP_KERNEL_ACCOUNT);
	if (!chan)
		goto out_uncharge_user;

	kref_init(&chan->ref);
	spin_lock_init(&chan->lock);
	chan->queue = RB_ROOT_CACHED;
	init_waitqueue_head(&chan->recv_wait);
	init_waitqueue_head(&chan->send_wait);
	INIT_LIST_HEAD(&chan->notifiers);
	chan->msg_size_max = msg_size_max;
	chan->queue_msgs = queue_msgs;
	chan->queue_bytes = queue_bytes;
	refcount_inc(&owner->ref);
	chan->owner = owner;
	if (region)
		ipcchan_region_get(region);
	chan->region = region;
	return chan;

out_uncharge_user:
	ipcchan_user_uncharge_channel(owner);
out_uncharge_global:
	ipcchan_channels_uncharge();
	return ERR_PTR(ret);
}

/**
 * ipcchan_msg_free() - free a message and return what it charged
 * @msg: a message on no queue
 */
void ipcchan_msg_free(struct ipcchan_msg *msg)
{
	if (msg->region)
		ipcchan_slot_msg_gone(msg);
	if (msg->user) {
		u64 charge = ipcchan_msg_charge(ipcchan_msg_bytes(msg));

		ipcchan_user_uncharge_bytes(msg->user, charge);
		ipcchan_user_put(msg->user);
	}
	put_pid(msg->pid);
	kvfree(msg);
}

static void ipcchan_chan_release(struct kref *ref)
{
	struct ipcchan_chan *chan = container_of(ref, struct ipcchan_chan, ref);
	struct rb_node *node;

	/* Registrations go with their files, which hold the channel. */
	WARN_ON_ONCE(!list_empty(&chan->notifiers));
	while ((node = rb_first_cached(&chan->queue))) {
		struct ipcchan_msg *msg = rb_entry(node, struct ipcchan_msg,
						   node);

		rb_erase_cached(node, &chan->queue);
		msg->dropped = true;
		ipcchan_msg_free(msg);
	}
	ipcchan_region_put(chan->region);
	ipcchan_user_uncharge_channel(chan->owner);
	ipcchan_user_put(chan->owner);
	ipcchan_channels_uncharge();
	kfree(chan->name);
	kfree(chan);
}

void ipcchan_chan_get(struct ipcchan_chan *chan)
{
	kref_get(&chan->ref);
}

/**
 * ipcchan_chan_put() - drop a channel reference
 * @chan: the channel; freed, with every queued message, on the last put
 *
 * Context: process context.
 */
void ipcchan_chan_put(struct ipcchan_chan *chan)
{
	kref_put(&chan->ref, ipcchan_chan_release);
}

/* Receivers can never get another message: no sender, none can come. */
bool ipcchan_chan_hup_locked(const struct ipcchan_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return !chan->senders && !chan->linked;
}

/**
 * ipcchan_chan_broken() - unlocked early check for ipcchan_chan_broken_locked()
 * @chan: the channel
 *
 * Lets a send fail with -EPIPE before it copies and charges a payload. A
 * broken channel never mends, so a true answer is final; a false one is
 * checked again under the lock when the message is queued.
 */
bool ipcchan_chan_broken(const struct ipcchan_chan *chan)
{
	/* Racy by design: see above; the locked check decides. */
	return data_race(!chan->receivers && !chan->linked);
}

/* Senders can never be received from: no receiver, none can come. */
bool ipcchan_chan_broken_locked(const struct ipcchan_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return !chan->receivers && !chan->linked;
}

static void ipcchan_wake_locked(wait_queue_head_t *wq)
{
	/*
	 * Safe without a barrier: sleepers enqueue under chan->lock, which we
	 * hold, and pollers enqueue before they take it (see the top of file).
	 */
	if (waitqueue_active(wq))
		wake_up_all(wq);
}

/*
 * No receiver can ever take what is queued: discard it now (counted as
 * dropped) rather than hold its memory and charges until the last sender
 * goes. The messages are put on @gone, freed by the caller after unlocking
 * (kvfree() may sleep).
 */
static void ipcchan_chan_purge_locked(struct ipcchan_chan *chan,
				      struct list_head *gone)
{
	struct rb_node *node;

	lockdep_assert_held(&chan->lock);
	while ((node = rb_first_cached(&chan->queue))) {
		struct ipcchan_msg *msg = rb_entry(node, struct ipcchan_msg,
						   node);

		rb_erase_cached(node, &chan->queue);
		chan->nr_msgs--;
		chan->nr_bytes -= ipcchan_msg_bytes(msg);
		chan->dropped++;
		msg->dropped = true;
		list_add_tail(&msg->gone, gone);
	}
}

static void ipcchan_msg_free_list(struct list_head *gone)
{
	struct ipcchan_msg *msg, *tmp;

	list_for_each_entry_safe(msg, tmp, gone, gone)
		ipcchan_msg_put(msg);
}

/* Receivers or the name went away: wake whoever can see a hangup now. */
static void ipcchan_chan_hangup_locked(struct ipcchan_chan *chan,
				       struct list_head *gone)
{
	if (ipcchan_chan_hup_locked(chan))
		ipcchan_wake_locked(&chan->recv_wait);
	if (ipcchan_chan_broken_locked(chan)) {
		ipcchan_chan_purge_locked(chan, gone);
		ipcchan_wake_locked(&chan->send_wait);
	}
}

/**
 * ipcchan_chan_attach() - count an endpoint that sends to or receives from
 * @chan: the channel
 * @send: the endpoint sends to @chan (else it receives)
 */
void ipcchan_chan_attach(struct ipcchan_chan *chan, bool send)
{
	ipcchan_chan_get(chan);
	spin_lock(&chan->lock);
	if (send)
		chan->senders++;
	else
		chan->receivers++;
	spin_unlock(&chan->lock);
}

/**
 * ipcchan_chan_detach() - an endpoint goes away; maybe hang the channel up
 * @chan: the channel
 * @send: as given to ipcchan_chan_attach()
 *
 * When the last sender (receiver) of a channel that can gain no other goes,
 * every receiver (sender) sleeping or polling is woken to see the hangup;
 * when no receiver can come any more, what is queued is dropped. Drops the
 * endpoint's channel reference.
 */
void ipcchan_chan_detach(struct ipcchan_chan *chan, bool send)
{
	LIST_HEAD(gone);

	spin_lock(&chan->lock);
	if (send)
		chan->senders--;
	else
		chan->receivers--;
	ipcchan_chan_hangup_locked(chan, &gone);
	spin_unlock(&chan->lock);
	ipcchan_msg_free_list(&gone);
	ipcchan_chan_put(chan);
}

/* A name was unlinked: the channel may now be hung up on either side. */
void ipcchan_chan_unlinked(struct ipcchan_chan *chan)
{
	LIST_HEAD(gone);

	spin_lock(&chan->lock);
	chan->linked = false;
	ipcchan_chan_hangup_locked(chan, &gone);
	spin_unlock(&chan->lock);
	ipcchan_msg_free_list(&gone);
}

/* Room for a message of @len bytes now? */
static bool ipcchan_chan_room_locked(const struct ipcchan_chan *chan, u64 len)
{
	return chan->nr_msgs < chan->queue_msgs &&
	       chan->nr_bytes + len <= chan->queue_bytes;
}

/**
 * ipcchan_chan_can_send_locked() - is there room for any message at all?
 * @chan: the channel, locked
 *
 * Used by poll: EPOLLOUT means one more message (of at least one byte)
 * fits now.
 */
bool ipcchan_chan_can_send_locked(const struct ipcchan_chan *chan)
{
	return ipcchan_chan_room_locked(chan, 1);
}

/**
 * ipcchan_chan_enqueue() - queue @msg, sleeping for room as @dl allows
 * @chan: the channel
 * @msg:  a filled message; on success the channel owns it
 * @dl:   the call's deadline
 *
 * Return: 0, -EPIPE, or an error of ipcchan_wait_locked().
 */
int ipcchan_chan_enqueue(struct ipcchan_chan *chan, struct ipcchan_msg *msg,
			 struct ipcchan_deadline *dl)
{
	bool was_empty;
	LIST_HEAD(gone);
	int ret = 0;

	spin_lock(&chan->lock);
	for (;;) {
		if (ipcchan_chan_broken_locked(chan)) {
			ret = -EPIPE;
			goto out_unlock;
		}
		if (ipcchan_chan_room_locked(chan, ipcchan_msg_bytes(msg)))
			break;
		ret = ipcchan_wait_locked(&chan->lock, &chan->send_wait, dl,
					  &chan->waiting_senders);
		if (ret)
			goto out_unlock;
	}
	was_empty = RB_EMPTY_ROOT(&chan->queue.rb_root);
	msg->seq = ++chan->next_seq;
	rb_add_cached(&msg->node, &chan->queue, ipcchan_msg_before);
	chan->nr_msgs++;
	chan->nr_bytes += ipcchan_msg_bytes(msg);
	chan->sent++;
	if (chan->nr_msgs > chan->peak_msgs)
		chan->peak_msgs = chan->nr_msgs;
	ipcchan_wake_locked(&chan->recv_wait);
	ipcchan_notify_locked(chan, was_empty, &gone);
out_unlock:
	spin_unlock(&chan->lock);
	ipcchan_notify_free_list(&gone);
	return ret;
}

/**
 * ipcchan_chan_take() - take the first message off the queue
 * @chan:  the channel
 * @dl:    the call's deadline
 * @space: the caller's buffer size; a longer message is left queued
 *         (except a slot message, with IPCCHAN_TAKE_SLOT)
 * @how:   IPCCHAN_TAKE_PEEK: take a reference instead of taking the message
 *         off the queue; IPCCHAN_TAKE_SLOT: see @space
 * @msgp:  out: the message (taken off the queue but still counted against
 *         the capacity: finish with ipcchan_chan_took() or
 *         ipcchan_chan_untake(); with @peek, a reference to drop with
 *         ipcchan_msg_put())
 * @len:   out: the first message's length (also on -EMSGSIZE)
 *
 * Return: 0, 1 at hangup with an empty queue (no message), -EMSGSIZE, or
 * an error of ipcchan_wait_locked().
 */
int ipcchan_chan_take(struct ipcchan_chan *chan, struct ipcchan_deadline *dl,
		      u64 space, unsigned int how, struct ipcchan_msg **msgp,
		      u64 *len)
{
	struct ipcchan_msg *msg;
	struct rb_node *node;
	int ret;

	spin_lock(&chan->lock);
	for (;;) {
		node = rb_first_cached(&chan->queue);
		if (node)
			break;
		/*
		 * A message another receiver is copying out still counts: its
		 * copy may fault and put it back. End of channel only when
		 * nothing is left at all.
		 */
		if (ipcchan_chan_hup_locked(chan) && !chan->nr_msgs) {
			ret = 1;
			goto out_unlock;
		}
		ret = ipcchan_wait_locked(&chan->lock, &chan->recv_wait, dl,
					  &chan->waiting_receivers);
		if (ret)
			goto out_unlock;
	}
	msg = rb_entry(node, struct ipcchan_msg, node);
	*len = msg->len;
	if (msg->len > space && !(msg->region && (how & IPCCHAN_TAKE_SLOT))) {
		ret = -EMSGSIZE;
		goto out_unlock;
	}
	if (how & IPCCHAN_TAKE_PEEK) {
		refcount_inc(&msg->ref);
	} else {
		rb_erase_cached(node, &chan->queue);
		RB_CLEAR_NODE(node);
	}
	*msgp = msg;
	ret = 0;
out_unlock:
	spin_unlock(&chan->lock);
	return ret;
}

/* The message taken by ipcchan_chan_take() reached the receiver. */
void ipcchan_chan_took(struct ipcchan_chan *chan, struct ipcchan_msg *msg)
{
	spin_lock(&chan->lock);
	chan->nr_msgs--;
	chan->nr_bytes -= ipcchan_msg_bytes(msg);
	chan->received++;
	ipcchan_wake_locked(&chan->send_wait);
	/* Receivers waiting for the last in-flight message see the end now. */
	if (!chan->nr_msgs && ipcchan_chan_hup_locked(chan))
		ipcchan_wake_locked(&chan->recv_wait);
	spin_unlock(&chan->lock);
	ipcchan_msg_put(msg);
}

/* The copy to the receiver faulted: put the message back where it was. */
void ipcchan_chan_untake(struct ipcchan_chan *chan, struct ipcchan_msg *msg)
{
	spin_lock(&chan->lock);
	rb_add_cached(&msg->node, &chan->queue, ipcchan_msg_before);
	ipcchan_wake_locked(&chan->recv_wait);
	spin_unlock(&chan->lock);
}

/**
 * ipcchan_msg_put() - drop a reference to a message
 * @msg: freed on the last reference (it is on no queue then)
 */
void ipcchan_msg_put(struct ipcchan_msg *msg)
{
	if (refcount_dec_and_test(&msg->ref))
		ipcchan_msg_free(msg);
}

/**
 * ipcchan_chan_stats() - snapshot of a channel's state
 * @chan: the channel
 * @st:   filled (flags and reserved left alone)
 */
void ipcchan_chan_stats(struct ipcchan_chan *chan, struct ipcchan_stats *st)
{
	spin_lock(&chan->lock);
	st->msg_size_max = chan->msg_size_max;
	st->queue_msgs = chan->queue_msgs;
	st->queue_bytes = chan->queue_bytes;
	st->queued_msgs = chan->nr_msgs;
	st->queued_bytes = chan->nr_bytes;
	st->peak_msgs = chan->peak_msgs;
	st->sent = chan->sent;
	st->received = chan->received;
	st->dropped = chan->dropped;
	st->senders = chan->senders;
	st->receivers = chan->receivers;
	st->waiting_senders = chan->waiting_senders;
	st->waiting_receivers = chan->waiting_receivers;
	spin_unlock(&chan->lock);
}
