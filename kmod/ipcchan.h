/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal declarations shared by the files of the ipcchan module.
 *
 * Files and what each owns:
 *   main.c   module init/exit, the /dev/ipcchan misc device, control fops
 *   ioctl.c  table-driven ioctl dispatch (type, direction and size checks)
 *   uabi.c   size-versioned struct copy between user and kernel
 *   limits.c module parameters (limits) and the system-wide counters
 *   query.c  IPCCHAN_IOC_QUERY
 *   user.c   per-user accounting (channels, queued bytes)
 *   wait.c   deadlines and the sleep/wake protocol
 *   chan.c   the channel: queue, waiters, hangup (owns chan->lock)
 *   endpoint.c endpoint files, send/receive/batch/stats, IPCCHAN_IOC_CREATE
 *   region.c shared regions: pages, mmap, lifetime, REGION_INFO (owns
 *            region->lock)
 *   slot.c   zero-copy slots: loan, send, receive, release, reclaim
 *   sem.c    semaphores with undo
 *   names.c  named channels per IPC namespace (owns ipcchan_names_lock)
 *   notify.c signal notification and fasync
 */
#ifndef _IPCCHAN_INTERNAL_H
#define _IPCCHAN_INTERNAL_H

#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/ipcchan.h>

struct ipc_namespace;
struct pid;
struct seq_file;
struct vm_area_struct;

#define IPCCHAN_MODULE_VERSION_NR \
	((IPCCHAN_VERSION_MAJOR << 16) | (IPCCHAN_VERSION_MINOR << 8) | \
	 IPCCHAN_VERSION_PATCH)

/* Features this build of the module implements. */
#define IPCCHAN_FEATURES \
	(IPCCHAN_FEAT_QUERY | IPCCHAN_FEAT_CHANNELS | IPCCHAN_FEAT_NAMED | \
	 IPCCHAN_FEAT_NOTIFY | IPCCHAN_FEAT_SHARED)

/* limits.c */

/**
 * struct ipcchan_limits - administrator-tunable limits
 *
 * Each field is a module parameter, writable through sysfs at any time and
 * bounded to [1, its hard maximum] by limits.c. Readers take a snapshot with
 * ipcchan_limits_read(); no lock protects the fields, each is read once.
 */
struct ipcchan_limits {
	u64 max_msg_size;
	u64 max_queue_msgs;
	u64 max_queue_bytes;
	u64 max_channels;
	u64 max_user_channels;
	u64 max_user_bytes;
	u64 max_region_size;
	u64 max_user_region_bytes;
};

void ipcchan_limits_read(struct ipcchan_limits *lim);
umode_t ipcchan_dev_mode(void);
u64 ipcchan_nr_channels(void);
int ipcchan_channels_charge(u64 limit);
void ipcchan_channels_uncharge(void);
bool ipcchan_counter_charge(atomic64_t *counter, u64 n, u64 limit);

/* uabi.c */
int ipcchan_copy_struct_in(void *dst, size_t ksize,
			   const void __user *src, size_t usize);
int ipcchan_copy_struct_out(void __user *dst, size_t usize,
			    const void *src, size_t ksize);
bool ipcchan_mem_is_zero(const void *p, size_t len);

/* ioctl.c */

/**
 * struct ipcchan_ioctl_desc - one ioctl command of one kind of file
 * @cmd:      the full command as published in the uapi header; its type,
 *            number and direction must match, its size is the kernel's
 *            size of the struct.
 * @min_size: first published size of the struct; smaller is -EINVAL.
 * @fn:       handler; @arg is the user pointer, @usize the caller's size
 *            from _IOC_SIZE(), already checked against @min_size and
 *            against PAGE_SIZE.
 */
struct ipcchan_ioctl_desc {
	unsigned int cmd;
	size_t min_size;
	long (*fn)(struct file *file, void __user *arg, size_t usize);
};

long ipcchan_ioctl_dispatch(const struct ipcchan_ioctl_desc *table,
			    size_t n, struct file *file, unsigned int cmd,
			    unsigned long arg);

/* query.c */
long ipcchan_ioctl_query(struct file *file, void __user *arg, size_t usize);

/* user.c */

/**
 * struct ipcchan_user - what one user (real uid) has charged
 * @node:     in the users table (protected by ipcchan_users_lock)
 * @uid:      the user
 * @ref:      references: channels owned, endpoints, queued messages
 * @channels: channels charged now
 * @bytes:    queued message bytes charged now
 * @region_bytes: shared region bytes charged now
 */
struct ipcchan_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;
	atomic64_t channels;
	atomic64_t bytes;
	atomic64_t region_bytes;
};

struct ipcchan_user *ipcchan_user_get(kuid_t uid);
void ipcchan_user_put(struct ipcchan_user *u);
int ipcchan_user_charge_channel(struct ipcchan_user *u, u64 limit);
void ipcchan_user_uncharge_channel(struct ipcchan_user *u);
int ipcchan_user_charge_bytes(struct ipcchan_user *u, u64 bytes, u64 limit);
void ipcchan_user_uncharge_bytes(struct ipcchan_user *u, u64 bytes);
int ipcchan_user_charge_region(struct ipcchan_user *u, u64 bytes, u64 limit);
void ipcchan_user_uncharge_region(struct ipcchan_user *u, u64 bytes);
void ipcchan_user_usage(kuid_t uid, u64 *channels, u64 *bytes,
			u64 *region_bytes);

/* wait.c */

/**
 * struct ipcchan_deadline - how long a blocking call may sleep
 * @nonblock: never sleep
 * @timed:    sleep until @expires at most
 * @clock:    CLOCK_MONOTONIC or CLOCK_REALTIME
 * @expires:  absolute deadline on @clock
 */
struct ipcchan_deadline {
	bool nonblock;
	bool timed;
	clockid_t clock;
	ktime_t expires;
};

int ipcchan_deadline_init(struct ipcchan_deadline *dl, u64 flags,
			  u64 timeout_ns, struct file *file);
int ipcchan_wait_locked(spinlock_t *lock, wait_queue_head_t *wq,
			struct ipcchan_deadline *dl, u32 *waiters);

/* chan.c */

struct ipcchan_region;

/**
 * struct ipcchan_msg - one queued message
 * @node:         in the channel's queue (chan->lock), or cleared
 * @gone:         on a private list once dropped from the queue
 * @ref:          1 while queued or being received, +1 per peek in progress
 * @slot:         a slot message: its slot in @region (fixed)
 * @seq:          sequence number in the channel, from 1 (chan->lock)
 * @prio:         priority
 * @slot_gen:     a slot message: the slot's generation when it was sent
 * @len:          payload bytes (of a slot message: in its slot)
 * @region:       a slot message: the region of its slot (the channel's,
 *                which outlives the message), else NULL
 * @dropped:      discarded unreceived (chan->lock; read once freed)
 * @pid:          sending process (thread group), referenced
 * @uid:          sender's effective uid
 * @gid:          sender's effective gid
 * @timestamp_ns: CLOCK_MONOTONIC at send
 * @user:         user charged for @len bytes, referenced
 * @data:         payload
 */
struct ipcchan_msg {
	struct rb_node node;
	struct list_head gone;
	refcount_t ref;
	u32 slot;
	u64 seq;
	u32 prio;
	bool dropped;
	u64 slot_gen;
	u64 len;
	struct ipcchan_region *region;
	struct pid *pid;
	kuid_t uid;
	kgid_t gid;
	u64 timestamp_ns;
	struct ipcchan_user *user;
	u8 data[];
};

/*
 * Payload bytes a message holds in the kernel: its length, or 0 for a slot
 * message (its payload is in the region). What it counts against the
 * channel's queue_bytes.
 */
static inline u64 ipcchan_msg_bytes(const struct ipcchan_msg *msg)
{
	return msg->region ? 0 : msg->len;
}

/* What a message holding @bytes payload bytes charges to its user. */
static inline u64 ipcchan_msg_charge(u64 bytes)
{
	static_assert(sizeof(struct ipcchan_msg) <= IPCCHAN_MSG_OVERHEAD);
	return bytes + IPCCHAN_MSG_OVERHEAD;
}

/**
 * struct ipcchan_chan - a channel (see chan.c for the locking rules)
 * @ref:          endpoints' attachments, the name link, transient users
 * @lock:         protects the fields marked (lock)
 * @queue:        (lock) messages by priority, then sequence
 * @next_seq:     (lock) last sequence number given
 * @nr_msgs:      (lock) messages queued or being received
 * @nr_bytes:     (lock) their payload bytes
 * @peak_msgs:    (lock) most @nr_msgs ever
 * @sent:         (lock) messages ever queued
 * @received:     (lock) messages ever received
 * @dropped:      (lock) messages discarded unreceived
 * @senders:      (lock) endpoints that send here
 * @receivers:    (lock) endpoints that receive from here
 * @waiting_senders:   (lock) tasks sleeping in send
 * @waiting_receivers: (lock) tasks sleeping in receive
 * @linked:       (lock) the name is in the table: peers may still come
 * @recv_wait:    receivers and pollers for input
 * @send_wait:    senders and pollers for output
 * @msg_size_max: attribute, fixed
 * @queue_msgs:   attribute, fixed
 * @queue_bytes:  attribute, fixed
 * @owner:        user charged for the channel
 * @name:         name, or NULL if anonymous; fixed once set
 * @name_node:    in the names table (ipcchan_names_lock)
 * @ns:           IPC namespace of the name while linked, referenced
 *                (ipcchan_names_lock)
 * @uid:          owner's effective uid (named)
 * @gid:          owner's effective gid (named)
 * @mode:         permission bits (named)
 * @notifiers:    (lock) IPCCHAN_IOC_NOTIFY registrations (notify.c)
 * @fasync:       O_ASYNC receivers (fasync_helper's own locking)
 * @region:       shared pages, slots and semaphores, or NULL; referenced,
 *                fixed
 */
struct ipcchan_chan {
	struct kref ref;
	spinlock_t lock;	/* see the locking rules in chan.c */
	struct rb_root_cached queue;
	u64 next_seq;
	u64 nr_msgs;
	u64 nr_bytes;
	u64 peak_msgs;
	u64 sent;
	u64 received;
	u64 dropped;
	u32 senders;
	u32 receivers;
	u32 waiting_senders;
	u32 waiting_receivers;
	bool linked;
	wait_queue_head_t recv_wait;
	wait_queue_head_t send_wait;
	u32 msg_size_max;
	u32 queue_msgs;
	u64 queue_bytes;
	struct ipcchan_user *owner;
	char *name;
	struct hlist_node name_node;
	struct ipc_namespace *ns;
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	struct list_head notifiers;
	struct fasync_struct *fasync;
	struct ipcchan_region *region;
};

int ipcchan_attr_resolve(u32 *msg_size_max, u32 *queue_msgs, u64 *queue_bytes);
struct ipcchan_chan *ipcchan_chan_new(struct ipcchan_user *owner,
				      u32 msg_size_max, u32 queue_msgs,
				      u64 queue_bytes,
				      struct ipcchan_region *region);
void ipcchan_chan_get(struct ipcchan_chan *chan);
void ipcchan_chan_put(struct ipcchan_chan *chan);
void ipcchan_chan_attach(struct ipcchan_chan *chan, bool send);
void ipcchan_chan_detach(struct ipcchan_chan *chan, bool send);
void ipcchan_chan_unlinked(struct ipcchan_chan *chan);
bool ipcchan_chan_hup_locked(const struct ipcchan_chan *chan);
bool ipcchan_chan_broken_locked(const struct ipcchan_chan *chan);
bool ipcchan_chan_broken(const struct ipcchan_chan *chan);
bool ipcchan_chan_can_send_locked(const struct ipcchan_chan *chan);
int ipcchan_chan_enqueue(struct ipcchan_chan *chan, struct ipcchan_msg *msg,
			 struct ipcchan_deadline *dl);
int ipcchan_chan_take(struct ipcchan_chan *chan, struct ipcchan_deadline *dl,
		      u64 space, unsigned int how, struct ipcchan_msg **msgp,
		      u64 *len);
/* ipcchan_chan_take() @how bits. */
#define IPCCHAN_TAKE_PEEK	BIT(0)	/* leave it queued, take a reference */
#define IPCCHAN_TAKE_SLOT	BIT(1)	/* a slot message needs no @space */
void ipcchan_chan_took(struct ipcchan_chan *chan, struct ipcchan_msg *msg);
void ipcchan_chan_untake(struct ipcchan_chan *chan, struct ipcchan_msg *msg);
void ipcchan_chan_stats(struct ipcchan_chan *chan, struct ipcchan_stats *st);
void ipcchan_msg_free(struct ipcchan_msg *msg);
void ipcchan_msg_put(struct ipcchan_msg *msg);

/* endpoint.c */

/**
 * struct ipcchan_ep - an endpoint file's state
 * @tx:       channel it sends to (attached as a sender), or NULL; fixed
 * @rx:       channel it receives from (attached as a receiver), or NULL;
 *            fixed
 * @user:     user charged for the bytes it sends; fixed
 * @region:   the region of its channel(s), referenced, or NULL; fixed
 * @nr_held:  (region->lock) slots this endpoint holds
 * @undo:     (region->lock) per semaphore, the units to give back (or take
 *            away, if negative) at release; NULL until the first
 *            IPCCHAN_SEM_UNDO operation, then fixed
 */
struct ipcchan_ep {
	struct ipcchan_chan *tx;
	struct ipcchan_chan *rx;
	struct ipcchan_user *user;
	struct ipcchan_region *region;
	u32 nr_held;
	s64 *undo;
};

struct file *ipcchan_ep_file(struct ipcchan_chan *tx, struct ipcchan_chan *rx,
			     struct ipcchan_user *user, bool nonblock);
int ipcchan_reserve_fds(int n, bool cloexec, int *fds);
void ipcchan_commit_fds(struct file **files, const int *fds, int n);
void ipcchan_abort_fds(struct file **files, const int *fds, int n);
long ipcchan_ioctl_create(struct file *file, void __user *arg, size_t usize);

/* region.c */

/* States of a zero-copy slot (struct ipcchan_slot.state). */
enum ipcchan_slot_state {
	IPCCHAN_SLOT_FREE,
	IPCCHAN_SLOT_HELD,
	IPCCHAN_SLOT_IN_FLIGHT,
};

/**
 * struct ipcchan_slot - the kernel's record of one zero-copy slot
 * @holder: (region->lock) the endpoint holding it when HELD, else NULL
 * @state:  (region->lock) enum ipcchan_slot_state
 * @gen:    (region->lock) incremented each time the slot is sent; tells the
 *          message carrying it now from an older message that carried it
 *          and is still referenced by a peek in progress (64 bits: never
 *          wraps while such a reference lives)
 */
struct ipcchan_slot {
	struct ipcchan_ep *holder;
	u32 state;
	u64 gen;
};

/**
 * struct ipcchan_semaphore - one counting semaphore
 * @value:   (region->lock) 0..IPCCHAN_SEM_VALUE_MAX
 * @waiters: (region->lock) tasks sleeping in a wait
 * @wait:    where they sleep; woken by posts and undo
 */
struct ipcchan_semaphore {
	u32 value;
	u32 waiters;
	wait_queue_head_t wait;
};

/**
 * struct ipcchan_region - shared pages, slots and semaphores of a channel
 * (or duplex pair); see region.c for the locking rules
 * @ref:          channels and endpoints using it
 * @lock:         protects the fields marked (lock), the slots and the
 *                semaphores
 * @owner:        user charged for @size bytes, referenced
 * @shmem:        the pages: an unlinked shmem file of @size bytes, or NULL
 *                when @size is 0; mappings reference it themselves
 * @size:         bytes, fixed
 * @slot_size:    bytes per slot, 0 without slots; fixed
 * @nr_slots:     slots, fixed
 * @slots:        per slot record
 * @free:         (lock) stack of free slot numbers, @nr_free deep
 * @nr_free:      (lock) free slots
 * @nr_in_flight: (lock) slots queued or being received
 * @waiting_loaners: (lock) tasks sleeping in a loan
 * @loans:        (lock) slots ever loaned
 * @reclaimed:    (lock) slots ever returned to the pool by the kernel
 * @slot_wait:    loaners sleep here, woken when a slot is freed
 * @nr_sems:      semaphores, fixed
 * @sems:         the semaphores
 */
struct ipcchan_region {
	refcount_t ref;
	spinlock_t lock;	/* see the locking rules in region.c */
	struct ipcchan_user *owner;
	struct file *shmem;
	u64 size;
	u32 slot_size;
	u32 nr_slots;
	struct ipcchan_slot *slots;
	u32 *free;
	u32 nr_free;
	u32 nr_in_flight;
	u32 waiting_loaners;
	u64 loans;
	u64 reclaimed;
	wait_queue_head_t slot_wait;
	u32 nr_sems;
	struct ipcchan_semaphore *sems;
};

/* Attributes of a region, as given at creation. */
struct ipcchan_region_attr {
	u64 size;
	u32 slot_size;
	u32 nr_sems;
};

struct ipcchan_region *ipcchan_region_new(struct ipcchan_user *owner,
					  const struct ipcchan_region_attr *a);
void ipcchan_region_get(struct ipcchan_region *r);
void ipcchan_region_put(struct ipcchan_region *r);
int ipcchan_region_mmap(struct ipcchan_ep *ep, struct vm_area_struct *vma);
long ipcchan_ioctl_region_info(struct file *file, void __user *arg,
			       size_t usize);
void ipcchan_region_show_fdinfo(struct seq_file *m, struct ipcchan_ep *ep);
void ipcchan_region_release_ep(struct ipcchan_ep *ep);

/* slot.c */
long ipcchan_ioctl_slot_loan(struct file *file, void __user *arg,
			     size_t usize);
long ipcchan_ioctl_slot_release(struct file *file, void __user *arg,
				size_t usize);
int ipcchan_slot_msg_new(struct ipcchan_ep *ep, u32 slot, u64 len,
			 struct ipcchan_msg *msg);
void ipcchan_slot_unsend(struct ipcchan_ep *ep, struct ipcchan_msg *msg);
void ipcchan_slot_receive(struct ipcchan_ep *ep, struct ipcchan_msg *msg);
void ipcchan_slot_msg_gone(struct ipcchan_msg *msg);
bool ipcchan_slot_msg_current(struct ipcchan_msg *msg);
int ipcchan_slot_copy_out(struct ipcchan_msg *msg, void __user *buf);
void ipcchan_slots_reclaim_locked(struct ipcchan_region *r,
				  struct ipcchan_ep *ep);

/* sem.c */
long ipcchan_ioctl_sem(struct file *file, void __user *arg, size_t usize);
void ipcchan_sems_undo_locked(struct ipcchan_region *r, struct ipcchan_ep *ep);

/* names.c */
long ipcchan_ioctl_open(struct file *ctl, void __user *arg, size_t usize);
long ipcchan_ioctl_unlink(struct file *ctl, void __user *arg, size_t usize);
/* Bytes of a name printed as \ooo in /proc/ipcchan and fdinfo. */
#define IPCCHAN_NAME_ESCAPE	" \t\n\\"

int ipcchan_names_init(void);
void ipcchan_names_exit(void);

/* notify.c */
long ipcchan_ioctl_notify(struct file *file, void __user *arg, size_t usize);
void ipcchan_notify_locked(struct ipcchan_chan *chan, bool was_empty,
			   struct list_head *gone);
void ipcchan_notify_free_list(struct list_head *gone);
void ipcchan_notify_drop_file(struct ipcchan_chan *chan, struct file *file,
			      struct pid *owner);
int ipcchan_notify_fasync(int fd, struct file *file, int on);

#endif /* _IPCCHAN_INTERNAL_H */
