// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection over every ioctl path (and the file operations around
 * them): for each path, fail the 1st, 2nd, ... fault point of one call,
 * one fault per call, until the call runs through with no fault left to
 * inject.
 *
 * Mechanism: /proc/thread-self/fail-nth. Writing n arms the calling
 * thread: the n-th fault point it then reaches fails, once; reading it
 * back gives 0 if that happened. Every fault point of the kernel counts
 * (the module's own allocations, the VFS's around them, user copies,
 * kmemleak's and KASAN's bookkeeping), so the loop also covers how the
 * module unwinds when a helper it calls fails. Three kinds of fault point
 * take part, configured in debugfs by this program and restored by its
 * last test:
 *   failslab         ignore-gfp-wait=N (GFP_KERNEL slab allocations are
 *                    eligible; by default only atomic ones are)
 *   fail_page_alloc  ignore-gfp-wait=N, min-order=0 (GFP_KERNEL and
 *                    order-0 page allocations are eligible);
 *                    ignore-gfp-highmem=N during the shared-page tests
 *                    (a region's shmem pages), Y otherwise
 *   fail_usercopy    copy_{from,to}_user, strncpy_from_user, iov_iter
 * and verbose=0 on the three (a forced failure would print a stack trace
 * the harness counts as a kernel problem); probability stays 0, so nothing
 * fails outside the armed call. Each attribute's "times" is set high and
 * read around every injection: the one that went down says which kind of
 * fault point failed.
 *
 * For each injected fault that makes the call fail, the oracle is:
 *   - the errno is one the uapi header (or for fcntl, poll, epoll_ctl,
 *     open and read: the man page or the generic helper) documents for it:
 *     ENOMEM for allocations, EFAULT for user copies;
 *   - the call's "nothing happened on failure" holds: no descriptor
 *     installed (counted in /proc/self/fd), QUERY's nr_channels,
 *     user_channels and user_bytes unchanged, nothing queued, received,
 *     registered or linked (per path, below);
 *   - the channel still works: a message of the highest priority sent to
 *     the main channel comes back at once, intact, after every attempt;
 *   - no message already queued is lost, duplicated or reordered: the main
 *     channel's queue is modelled (id, priority, length, contents) and
 *     checked against stats (sent == received + queued + dropped, and each
 *     counter against the model) after every attempt, and message by
 *     message when it is drained at the end of each test;
 *   - no kernel complaint in /dev/kmsg during the test.
 * A fault can also be absorbed (kmemleak falls back to its pool, kvmalloc
 * to vmalloc, a slab to a smaller order): then the call succeeded and its
 * result is checked as for any success. The harness scans kmemleak after
 * rmmod, after this program (which closes everything) has finished.
 *
 * Kernels without CONFIG_FAULT_INJECTION (the Debian cloud kernels) have
 * no fail-nth file: every path then runs once, with the same checks on its
 * result, and the summary says that no fault was injected. The last test
 * prints the summary line "# fault-injection: ..." that vm/check-kernels.sh
 * requires (with at least one fault) from every kernel built with fault
 * injection.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "chan.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug/"
#define TIMES_HIGH	"1000000000"
/* No path has anywhere near this many fault points: a loop that gets here is stuck. */
#define NTH_MAX		3000

/* The main channel: room for whatever the paths leave queued. */
#define MAIN_QUEUE	512
#define MAIN_MSG_SIZE	1024
#define MODEL_MAX	MAIN_QUEUE
#define BUF_LEN		MAIN_MSG_SIZE
#define PROBE_LEN	48
#define PROBE_PRIO	(IPCCHAN_PRIO_MAX - 1)
#define PROBE_ID	0x70000000u
#define BATCH		4
/* Above KMALLOC_MAX_CACHE_SIZE: a page allocation, then kvmalloc's vmalloc fallback. */
#define LARGE_LEN	(60 * 1024)
#define OTHER_UID	4242

/*
 * Shared pages: a region of SHM_SLOTS slots of two pages each; a slot
 * message of SHM_LEN bytes crosses a page boundary of its slot.
 */
#define SHM_SLOT	8192
#define SHM_SLOTS	8
#define SHM_REGION	(SHM_SLOT * SHM_SLOTS)
#define SHM_SEMS	3
#define SHM_LEN		6000
#define SHM_PRIO	5
#define SHM_BG_ID	0x60000000u
#define SHM_PEND_MAX	2

enum { K_SLAB, K_PAGE, K_COPY, NKIND };
static const char *const kind_name[NKIND] = {
	"failslab", "fail_page_alloc", "fail_usercopy",
};

static const struct {
	const char *file;
	const char *val;
} knob[] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/verbose", "0" },
	{ "failslab/times", TIMES_HIGH },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/ignore-gfp-highmem", "Y" },
	{ "fail_page_alloc/verbose", "0" },
	{ "fail_page_alloc/times", TIMES_HIGH },
	{ "fail_usercopy/verbose", "0" },
	{ "fail_usercopy/times", TIMES_HIGH },
};
#define NKNOB	ARRAY_SIZE(knob)

/* Shared by every test process (MAP_SHARED, made before the harness forks). */
static struct summary {
	int inject;			/* fail-nth exists */
	int configured;			/* the knobs are set; old[] holds the originals */
	char old[NKNOB][32];
	unsigned int paths;		/* paths that ran to the end */
	unsigned int paths_faulted;	/* ... with at least one fault point */
	unsigned long faults;		/* faults injected = distinct (path, n) points */
	unsigned long failed;		/* ... that made the call fail */
	unsigned long partial;		/* ... that stopped a batch short */
	unsigned long absorbed;		/* ... after which the call still succeeded */
	unsigned long kind[NKIND];
	unsigned long enomem, efault;
	unsigned int ioctls;		/* paths that are an ioctl command */
	unsigned long calls;		/* calls made under the loop, faulted or not */
	unsigned long long ns;
} *sum;

static pid_t main_pid;

static int file_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int file_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * Set the knobs (once for the whole program), keeping the old values.
 * Returns 0 or -errno; *what names the file that failed.
 */
static int knobs_set(const char **what)
{
	static const char *const dirs[] = {
		"failslab", "fail_page_alloc", "fail_usercopy",
	};
	char path[256], val[32];
	unsigned int i;
	int ret;

	if (sum->configured)
		return 0;
	/* A non-zero probability would inject faults outside the armed calls. */
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s/probability", dirs[i]);
		*what = dirs[i];
		ret = file_read(path, val, sizeof(val));
		if (ret)
			return ret;
		if (strcmp(val, "0"))
			return -EBUSY;
	}
	for (i = 0; i < NKNOB; i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s", knob[i].file);
		*what = knob[i].file;
		ret = file_read(path, sum->old[i], sizeof(sum->old[i]));
		if (ret)
			return ret;
	}
	sum->configured = 1;
	for (i = 0; i < NKNOB; i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s", knob[i].file);
		*what = knob[i].file;
		ret = file_write(path, knob[i].val);
		if (ret)
			return ret;
	}
	return 0;
}

static int knobs_restore(void)
{
	char path[256];
	unsigned int i;
	int ret = 0;

	if (!sum || !sum->configured)
		return 0;
	for (i = 0; i < NKNOB; i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s", knob[i].file);
		if (file_write(path, sum->old[i]))
			ret = -EIO;
	}
	sum->configured = 0;
	return ret;
}

static void __attribute__((constructor)) summary_init(void)
{
	sum = mmap(NULL, sizeof(*sum), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sum == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(sum, 0, sizeof(*sum));
	sum->inject = access(FAIL_NTH, F_OK) == 0;
	main_pid = getpid();
}

/* The last test restores the knobs; this covers a run that skipped it. */
static void __attribute__((destructor)) summary_fini(void)
{
	if (getpid() == main_pid)
		knobs_restore();
}

/* ---- arming fail-nth --------------------------------------------------- */

/*
 * User pages (shmem's, for a region) are __GFP_HIGHMEM allocations, which
 * fail_page_alloc skips unless ignore-gfp-highmem=N. The shared-page tests
 * set that for their own duration (vmalloc's pages are __GFP_HIGHMEM too,
 * and vmalloc warns when they fail: the other tests keep the default).
 */
static int highmem_faults(int on)
{
	if (!sum->inject)
		return 0;
	return file_write(DEBUGFS "fail_page_alloc/ignore-gfp-highmem",
			  on ? "N" : "Y");
}

static int fi_arm(int nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth, buf, len, 0) == len ? 0 : -errno;
}

/*
 * After the call: returns 1 if the armed fault was injected, 0 if the call
 * ended before reaching it, or -errno; fail-nth is 0 again either way.
 * Reading and clearing the file are fault points themselves while it is
 * still armed: a read that finds 1 left takes that fault (EFAULT) and
 * leaves 0, as may the write of "0"; both are then done.
 */
static int fi_disarm(int nth)
{
	char buf[16];
	ssize_t r;
	int injected, i;

	r = pread(nth, buf, sizeof(buf) - 1, 0);
	if (r < 0) {
		if (errno != EFAULT)
			return -errno;
		injected = 0;
	} else {
		buf[r] = '\0';
		injected = strtoul(buf, NULL, 10) == 0;
	}
	for (i = 0; i < 3; i++) {
		if (pwrite(nth, "0", 1, 0) == 1)
			break;
		if (errno != EFAULT)
			return -errno;
	}
	r = pread(nth, buf, sizeof(buf) - 1, 0);
	if (r <= 0)
		return r < 0 ? -errno : -EIO;
	buf[r] = '\0';
	if (strtoul(buf, NULL, 10) != 0)
		return -EBUSY;
	return injected;
}

/* Each attribute's "times": debugfs attributes cannot be pread, so open each time. */
static int times_read(long long *t)
{
	char path[128], buf[32];
	int k, ret;

	for (k = 0; k < NKIND; k++) {
		snprintf(path, sizeof(path), DEBUGFS "%s/times", kind_name[k]);
		ret = file_read(path, buf, sizeof(buf));
		if (ret)
			return ret;
		t[k] = strtoll(buf, NULL, 10);
	}
	return 0;
}

/* ---- the main channel's model ----------------------------------------- */

struct mmsg {
	__u32 id;
	__u32 prio;
	__u32 len;
};

static __u32 msg_len(__u32 id)
{
	return 24 + (id * 37) % 400;
}

static __u32 msg_prio(__u32 id)
{
	return id % 5;
}

static void payload_fill(void *buf, __u32 id, size_t len)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(id * 131 + i * 7 + 1);
	if (len >= sizeof(id))
		memcpy(p, &id, sizeof(id));
}

static int payload_ok(const void *buf, __u32 id, size_t len)
{
	static unsigned char want[LARGE_LEN];

	payload_fill(want, id, len);
	return !memcmp(buf, want, len);
}

static __u32 payload_id(const void *buf)
{
	__u32 id;

	memcpy(&id, buf, sizeof(id));
	return id;
}

/* ---- the fixture ------------------------------------------------------ */

struct snap {
	__u64 nr_channels;
	__u64 user_channels;
	__u64 user_bytes;
	__u64 user_region_bytes;
	__u64 model_bytes;
	int nfd;
};

struct path_rec {
	unsigned int points;
	unsigned int failed, partial, absorbed;
	unsigned int kind[NKIND];
	unsigned int enomem, efault;
};

FIXTURE(fault) {
	int ctl;
	int rx, tx;		/* the main channel */
	int arx, atx;		/* an empty channel: notify, fasync, poll */
	int nth;		/* /proc/thread-self/fail-nth, or -1 */
	int kmsg;
	struct ipcchan_query q_start;
	int nfd_start;

	struct mmsg model[MODEL_MAX];	/* in receive order */
	int nmodel;
	__u64 model_bytes;	/* what the model's messages charge */
	__u32 next_id;
	__u64 sent, received;	/* the main channel's counters, expected */
	__u32 probes;

	/* the loop: expected change since the path started */
	struct snap s_path, s1;
	long d_channels, d_bytes, d_region;
	int d_fds;
	int injected;

	/* per-path state */
	int cctl;		/* control fd the path uses */
	int uctl;		/* control fd opened as OTHER_UID */
	__u64 cflags;
	const char *name;
	int hold, fd2, fd3, fd4, epfd;
	int exists;
	__u32 cur_id;
	__u64 seq_head;
	__u64 lsent;
	int nq;			/* messages queued on an extra channel */
	struct ipcchan_create cr;
	struct ipcchan_open op;
	struct ipcchan_unlink ul;
	struct ipcchan_send sd;
	struct ipcchan_recv rv;
	struct ipcchan_batch bt;
	struct ipcchan_stats st;
	struct ipcchan_notify nt;
	struct ipcchan_query q;
	struct ipcchan_iovec iov[3];
	struct ipcchan_msghdr hdr[BATCH];
	struct pollfd pfd[3];
	struct epoll_event ev;
	int flags;
	unsigned char sbuf[BATCH][BUF_LEN];
	unsigned char rbuf[BATCH][BUF_LEN];
	char text[16384];
	struct path_rec rec;

	/* Shared pages: fd2 receives, fd3 sends, on a channel with a region. */
	unsigned char *map;	/* fd3's mapping of the whole region */
	void *map2;		/* the mapping an mmap path made */
	int nmaps;		/* region mappings in /proc/self/maps, expected */
	int held_tx, held_rx;	/* slots fd3 / fd2 hold (0 or 1) */
	__u32 tslot;		/* the slot fd3 holds */
	__u32 bg_slot;		/* the background slot message's slot */
	struct {
		__u32 slot, id;
		int zero;	/* its pages were punched: reads as zeros */
	} pend[SHM_PEND_MAX];	/* the path's slot messages queued, in order */
	int npend;
	__u64 sh_sent, sh_received, sh_probes;
	__u32 semv[SHM_SEMS];	/* the semaphores' values, expected */
	__u32 sem_before;
	__u64 reclaimed_before;
	int zero;		/* the path's slot messages have punched pages */
	int highmem;		/* highmem_faults() is on */
	struct ipcchan_slot_loan ln;
	struct ipcchan_slot_release rl;
	struct ipcchan_sem sm;
	struct ipcchan_region_info ri;
};

typedef FIXTURE_DATA(fault) fix_t;

struct fpath {
	const char *name;
	/* State for one attempt, made without injection. */
	void (*prepare)(struct __test_metadata *_metadata, fix_t *self);
	/* The one system call under injection: its result or -errno. */
	long (*call)(fix_t *self);
	/* Check the outcome and undo what the call did. */
	void (*after)(struct __test_metadata *_metadata, fix_t *self,
		      long ret);
	/* The result without a fault: 0 for any success, else -errno. */
	long natural;
	/* What a fault may make the call fail with (0-terminated). */
	int errs[3];
	/* An -EFAULT may leave a channel (OPEN's documented exception). */
	int efault_keeps;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int count_fds(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n++;
	closedir(d);
	return n;
}

static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Kernel messages logged since kmsg_open() that report a problem. */
static int kmsg_scan(int fd)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "refcount_t", "general protection",
		"KASAN", "UBSAN", "possible circular locking",
		"inconsistent lock state", "possible recursive locking",
		"lock held when returning", "blocked for more than",
		"list_add corruption", "list_del corruption", "Call Trace",
		"kmemleak", "vmalloc error", "page allocation failure",
	};
	char buf[2048];
	int found = 0;
	unsigned int i;
	ssize_t n;

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		buf[n] = '\0';
		for (i = 0; i < ARRAY_SIZE(bad); i++)
			if (strstr(buf, bad[i]))
				break;
		if (i < ARRAY_SIZE(bad) && found++ < 40)
			printf("# kmsg: %s", buf);
	}
	return found;
}

static void snap_take(struct __test_metadata *_metadata, fix_t *self,
		      struct snap *s)
{
	struct ipcchan_query q;

	ASSERT_EQ(0, chan_query(self->ctl, &q));
	s->nr_channels = q.nr_channels;
	s->user_channels = q.user_channels;
	s->user_bytes = q.user_bytes;
	s->user_region_bytes = q.user_region_bytes;
	s->model_bytes = self->model_bytes;
	s->nfd = count_fds();
	ASSERT_LE(0, s->nfd);
}

/* Query and descriptors are where @s plus what the path says it holds. */
static void snap_check(struct __test_metadata *_metadata, fix_t *self,
		       const struct snap *s, const char *what)
{
	struct snap now;

	snap_take(_metadata, self, &now);
	ASSERT_EQ(s->nfd + self->d_fds, now.nfd)
		TH_LOG("%s: descriptors", what);
	ASSERT_EQ(s->nr_channels + self->d_channels, now.nr_channels)
		TH_LOG("%s: nr_channels", what);
	ASSERT_EQ(s->user_channels + self->d_channels, now.user_channels)
		TH_LOG("%s: user_channels", what);
	ASSERT_EQ(s->user_bytes - s->model_bytes + self->model_bytes +
		  self->d_bytes, now.user_bytes)
		TH_LOG("%s: user_bytes", what);
	ASSERT_EQ(s->user_region_bytes + self->d_region, now.user_region_bytes)
		TH_LOG("%s: user_region_bytes", what);
}

/* The failed call changed nothing at all since just before it. */
static void snap_same(struct __test_metadata *_metadata, fix_t *self,
		      const char *what)
{
	struct snap now;

	snap_take(_metadata, self, &now);
	ASSERT_EQ(self->s1.nfd, now.nfd)
		TH_LOG("%s: a failed call installed a descriptor", what);
	ASSERT_EQ(self->s1.nr_channels, now.nr_channels)
		TH_LOG("%s: a failed call changed nr_channels", what);
	ASSERT_EQ(self->s1.user_channels, now.user_channels)
		TH_LOG("%s: a failed call changed user_channels", what);
	ASSERT_EQ(self->s1.user_bytes, now.user_bytes)
		TH_LOG("%s: a failed call changed user_bytes", what);
	ASSERT_EQ(self->s1.user_region_bytes, now.user_region_bytes)
		TH_LOG("%s: a failed call changed user_region_bytes", what);
}

static void model_add(fix_t *self, __u32 id)
{
	struct mmsg m = { id, msg_prio(id), msg_len(id) };
	int i = self->nmodel;

	/* After every message of the same or a higher priority. */
	while (i > 0 && self->model[i - 1].prio < m.prio) {
		self->model[i] = self->model[i - 1];
		i--;
	}
	self->model[i] = m;
	self->nmodel++;
	self->model_bytes += m.len + IPCCHAN_MSG_OVERHEAD;
	self->sent++;
}

static void model_pop(fix_t *self, int n)
{
	int i;

	for (i = 0; i < n; i++)
		self->model_bytes -= self->model[i].len + IPCCHAN_MSG_OVERHEAD;
	memmove(self->model, self->model + n,
		(self->nmodel - n) * sizeof(self->model[0]));
	self->nmodel -= n;
	self->received += n;
}

/* Queue one more modelled message on the main channel, no injection. */
static void main_send(struct __test_metadata *_metadata, fix_t *self)
{
	__u32 id = self->next_id++;

	payload_fill(self->sbuf[0], id, msg_len(id));
	ASSERT_EQ(0, chan_send(self->tx, self->sbuf[0], msg_len(id),
			       msg_prio(id), IPCCHAN_NONBLOCK));
	model_add(self, id);
}

/* A received message is the model's message @i (content, length, prio). */
static void model_match(struct __test_metadata *_metadata, fix_t *self,
			int i, const void *buf, __u64 len, __u32 prio)
{
	const struct mmsg *m = &self->model[i];

	ASSERT_LT(i, self->nmodel);
	ASSERT_LE(sizeof(__u32), len);
	ASSERT_EQ(m->id, payload_id(buf))
		TH_LOG("message %d of the queue: got id %u, want %u (lost, duplicated or reordered)",
		       i, payload_id(buf), m->id);
	ASSERT_EQ(m->len, len);
	ASSERT_EQ(m->prio, prio);
	ASSERT_TRUE(payload_ok(buf, m->id, len));
}

/*
 * The main channel is consistent with the model and works: stats agree,
 * and a message of the highest priority comes back at once, intact.
 */
static void main_check(struct __test_metadata *_metadata, fix_t *self)
{
	unsigned char out[PROBE_LEN], in[BUF_LEN];
	struct ipcchan_stats st;
	struct ipcchan_recv r;

	ASSERT_EQ(0, chan_stats(self->rx, 0, &st));
	ASSERT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	ASSERT_EQ((__u64)self->nmodel, st.queued_msgs);
	ASSERT_EQ(self->sent, st.sent);
	ASSERT_EQ(self->received, st.received);
	ASSERT_EQ(0, st.dropped);
	ASSERT_EQ(1, st.senders);
	ASSERT_EQ(1, st.receivers);

	payload_fill(out, PROBE_ID + self->probes, sizeof(out));
	ASSERT_EQ(0, chan_send(self->tx, out, sizeof(out), PROBE_PRIO,
			       IPCCHAN_NONBLOCK));
	ASSERT_EQ((long)sizeof(out), chan_recv(self->rx, in, sizeof(in),
					       IPCCHAN_NONBLOCK, &r));
	ASSERT_EQ(0, memcmp(in, out, sizeof(out)));
	ASSERT_EQ(PROBE_PRIO, r.prio);
	self->probes++;
	self->sent++;
	self->received++;
}

/* One message from @sfd arrives at @rfd, intact. */
static void round_trip(struct __test_metadata *_metadata, int sfd, int rfd,
		       __u32 id, __u32 prio)
{
	unsigned char out[64], in[128];
	struct ipcchan_recv r;

	payload_fill(out, id, sizeof(out));
	ASSERT_EQ(0, chan_send(sfd, out, sizeof(out), prio, IPCCHAN_NONBLOCK));
	ASSERT_EQ((long)sizeof(out), chan_recv(rfd, in, sizeof(in),
					       IPCCHAN_NONBLOCK, &r));
	ASSERT_EQ(0, memcmp(in, out, sizeof(out)));
	ASSERT_EQ(prio, r.prio);
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigaddset(&set, SIGRTMIN + 2);
	sigaddset(&set, SIGRTMIN + 3);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Touch stack the calls below may use, so no page fault meets fail-nth. */
static void __attribute__((noinline)) stack_touch(void)
{
	volatile char pad[128 * 1024];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 512)
		pad[i] = 0;
}

FIXTURE_SETUP(fault)
{
	const char *what = "";
	int fds[2], ret;

	self->ctl = self->rx = self->tx = self->arx = self->atx = -1;
	self->nth = self->kmsg = self->uctl = -1;
	self->hold = self->fd2 = self->fd3 = self->fd4 = self->epfd = -1;
	self->next_id = 1;
	self->kmsg = kmsg_open();
	block_signals();
	/* Resident memory: a page fault in an armed window would take the fault. */
	mlockall(MCL_CURRENT | MCL_FUTURE);
	stack_touch();

	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl);
	self->cctl = self->ctl;
	ASSERT_EQ(0, chan_query(self->ctl, &self->q_start));
	self->nfd_start = count_fds();
	ASSERT_EQ(0, chan_create(self->ctl, 0, MAIN_MSG_SIZE, MAIN_QUEUE, 0,
				 fds));
	self->rx = fds[0];
	self->tx = fds[1];
	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	self->arx = fds[0];
	self->atx = fds[1];

	if (!sum->inject)
		return;
	ret = knobs_set(&what);
	ASSERT_EQ(0, ret)
		TH_LOG("fault injection knob %s: %s (debugfs mounted on %s?)",
		       what, ret == -EBUSY ? "probability is not 0" :
		       strerror(-ret), DEBUGFS);
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);
}

FIXTURE_TEARDOWN(fault)
{
	unsigned char buf[BUF_LEN];
	struct ipcchan_recv r;
	struct ipcchan_query q;
	int i = 0;
	long n;

	/* An ASSERT that ended the test leaves this set: no stale log below. */
	_metadata->trigger = 0;
	/* Every message still queued, in order, exactly once. */
	if (self->rx >= 0) {
		while ((n = chan_recv(self->rx, buf, sizeof(buf),
				      IPCCHAN_NONBLOCK, &r)) >= 0) {
			EXPECT_LT(i, self->nmodel)
				TH_LOG("message id %u was never sent (or twice)",
				       payload_id(buf));
			if (i < self->nmodel) {
				EXPECT_EQ(self->model[i].id, payload_id(buf))
					TH_LOG("drain: message %d", i);
				EXPECT_EQ(self->model[i].len, (__u64)n);
				EXPECT_EQ(self->model[i].prio, r.prio);
				EXPECT_TRUE(payload_ok(buf, self->model[i].id, n));
			}
			i++;
		}
		EXPECT_EQ(-EAGAIN, n);
		EXPECT_EQ(self->nmodel, i) TH_LOG("messages lost");
	}
	if (self->name && self->ctl >= 0)
		chan_unlink(self->ctl, self->name);
	if (self->map)
		munmap(self->map, SHM_REGION);
	if (self->highmem) {
		EXPECT_EQ(0, highmem_faults(0));
	}
	close_fd(&self->hold);
	close_fd(&self->fd2);
	close_fd(&self->fd3);
	close_fd(&self->fd4);
	close_fd(&self->epfd);
	close_fd(&self->uctl);
	close_fd(&self->rx);
	close_fd(&self->tx);
	close_fd(&self->arx);
	close_fd(&self->atx);
	close_fd(&self->nth);
	if (self->ctl >= 0) {
		/* Nothing the test made outlives it. */
		EXPECT_EQ(0, chan_query(self->ctl, &q));
		EXPECT_EQ(self->q_start.nr_channels, q.nr_channels);
		EXPECT_EQ(self->q_start.user_channels, q.user_channels);
		EXPECT_EQ(self->q_start.user_bytes, q.user_bytes);
		EXPECT_EQ(self->q_start.user_region_bytes, q.user_region_bytes);
		EXPECT_EQ(self->nfd_start, count_fds());
		close_fd(&self->ctl);
	}
	EXPECT_EQ(0, kmsg_scan(self->kmsg))
		TH_LOG("the kernel logged a problem during this test");
	close_fd(&self->kmsg);
}

static int fault_kind(struct __test_metadata *_metadata, const long long *t0)
{
	long long t1[NKIND];
	int k, kind = -1;

	ASSERT_EQ(0, times_read(t1));
	for (k = 0; k < NKIND; k++) {
		if (t0[k] == t1[k])
			continue;
		EXPECT_EQ(t0[k] - 1, t1[k]);
		EXPECT_EQ(-1, kind) TH_LOG("two kinds of fault in one call");
		kind = k;
	}
	return kind;
}

static int err_allowed(const struct fpath *p, long ret)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p->errs) && p->errs[i]; i++)
		if (ret == -p->errs[i])
			return 1;
	return 0;
}

/*
 * The loop: n = 1, 2, ...: arm fail-nth with n, make the call, learn
 * whether the fault was injected, check, undo; until a call runs with no
 * fault injected. Without fail-nth, one call, with the same checks.
 */
static void run_path(struct __test_metadata *_metadata, fix_t *self,
		     const struct fpath *p)
{
	struct path_rec *rec = &self->rec;
	long long t0[NKIND];
	unsigned int n;
	__u64 start = now_ns(CLOCK_MONOTONIC);
	int k;

	memset(rec, 0, sizeof(*rec));
	self->d_channels = self->d_bytes = self->d_region = 0;
	self->d_fds = 0;
	snap_take(_metadata, self, &self->s_path);
	for (n = 1;; n++) {
		int injected = 0, kind = -1;
		long ret;

		if (p->prepare)
			p->prepare(_metadata, self);
		snap_take(_metadata, self, &self->s1);
		if (sum->inject) {
			ASSERT_EQ(0, times_read(t0));
			ASSERT_EQ(0, fi_arm(self->nth, n));
		}
		ret = p->call(self);
		if (sum->inject) {
			injected = fi_disarm(self->nth);
			ASSERT_LE(0, injected) TH_LOG("fail-nth: %s",
						      strerror(-injected));
			if (injected)
				kind = fault_kind(_metadata, t0);
		}
		self->injected = injected;
		sum->calls++;

		if (injected) {
			rec->points++;
			if (kind >= 0)
				rec->kind[kind]++;
			if (ret < 0 && ret != p->natural) {
				ASSERT_TRUE(err_allowed(p, ret))
					TH_LOG("%s: fault %u (%s) made the call fail with %s, which is not documented for it",
					       p->name, n,
					       kind >= 0 ? kind_name[kind] : "?",
					       strerror(-ret));
				rec->failed++;
				if (ret == -ENOMEM)
					rec->enomem++;
				if (ret == -EFAULT)
					rec->efault++;
			} else {
				/* Counted as failed by after() if it stopped short. */
				rec->absorbed++;
			}
		} else if (p->natural) {
			ASSERT_EQ(p->natural, ret)
				TH_LOG("%s: without a fault", p->name);
		} else {
			ASSERT_LE(0, ret) TH_LOG("%s: without a fault: %s",
						 p->name, strerror(-ret));
		}
		if (ret < 0 && !(p->efault_keeps && ret == -EFAULT))
			snap_same(_metadata, self, p->name);
		p->after(_metadata, self, ret);
		snap_check(_metadata, self, &self->s_path, p->name);
		main_check(_metadata, self);
		if (!injected)
			break;
		ASSERT_LT(n, NTH_MAX) TH_LOG("%s: fail-nth never ran out", p->name);
	}

	sum->paths++;
	/* ioctl paths are named by their command, in capitals. */
	if (isupper((unsigned char)p->name[0]))
		sum->ioctls++;
	if (rec->points)
		sum->paths_faulted++;
	sum->faults += rec->points;
	sum->failed += rec->failed;
	sum->partial += rec->partial;
	sum->absorbed += rec->absorbed;
	for (k = 0; k < NKIND; k++)
		sum->kind[k] += rec->kind[k];
	sum->enomem += rec->enomem;
	sum->efault += rec->efault;
	sum->ns += now_ns(CLOCK_MONOTONIC) - start;
	if (sum->inject)
		printf("# %s: %u fault points (failslab %u, fail_page_alloc %u, fail_usercopy %u): %u failed the call (ENOMEM %u, EFAULT %u), %u stopped a batch short, %u absorbed; %.2f s\n",
		       p->name, rec->points, rec->kind[K_SLAB],
		       rec->kind[K_PAGE], rec->kind[K_COPY], rec->failed,
		       rec->enomem, rec->efault, rec->partial, rec->absorbed,
		       (now_ns(CLOCK_MONOTONIC) - start) / 1e9);
	else
		printf("# %s: ran once without injection (no fail-nth), every check applied\n",
		       p->name);
	fflush(stdout);
}

/* A batch that moved fewer than asked because of a fault stopped short. */
static void batch_short(fix_t *self)
{
	if (self->injected && self->rec.absorbed) {
		self->rec.absorbed--;
		self->rec.partial++;
	}
}

/* ---- QUERY ------------------------------------------------------------ */

static void prep_query(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->q, 0, sizeof(self->q));
}

static long call_query(fix_t *self)
{
	return chan_ioctl(self->ctl, IPCCHAN_IOC_QUERY, &self->q);
}

static void after_query(struct __test_metadata *_metadata, fix_t *self,
			long ret)
{
	if (ret < 0)
		return;
	ASSERT_EQ(0, ret);
	ASSERT_EQ(IPCCHAN_ABI_VERSION, self->q.abi_version);
	ASSERT_EQ(self->s1.nr_channels, self->q.nr_channels);
	ASSERT_EQ(self->s1.user_channels, self->q.user_channels);
	ASSERT_EQ(self->s1.user_bytes, self->q.user_bytes);
}

static const struct fpath path_query = {
	.name = "QUERY",
	.prepare = prep_query,
	.call = call_query,
	.after = after_query,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, query, 300)
{
	run_path(_metadata, self, &path_query);
}

/* ---- CREATE ----------------------------------------------------------- */

static void prep_create(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->cr, 0, sizeof(self->cr));
	self->cr.flags = self->cflags;
	self->cr.fds[0] = self->cr.fds[1] = -1;
}

static long call_create(fix_t *self)
{
	return chan_ioctl(self->cctl, IPCCHAN_IOC_CREATE, &self->cr);
}

static void other_user_usage(struct __test_metadata *_metadata, fix_t *self,
			     __u64 channels)
{
	struct ipcchan_query q;

	if (self->uctl < 0)
		return;
	ASSERT_EQ(0, chan_query(self->uctl, &q));
	ASSERT_EQ(channels, q.user_channels);
	ASSERT_EQ(0, q.user_bytes);
}

static void after_create(struct __test_metadata *_metadata, fix_t *self,
			 long ret)
{
	int duplex = !!(self->cflags & IPCCHAN_CREATE_DUPLEX);
	int other = self->uctl >= 0;
	int *fds = self->cr.fds;
	struct ipcchan_query q;

	if (ret < 0) {
		/* No descriptor installed, none written back. */
		ASSERT_EQ(-1, fds[0]);
		ASSERT_EQ(-1, fds[1]);
		other_user_usage(_metadata, self, 0);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_LE(0, fds[0]);
	ASSERT_LE(0, fds[1]);
	ASSERT_EQ(IPCCHAN_DEFAULT_MSG_SIZE, self->cr.msg_size_max);
	ASSERT_EQ(IPCCHAN_DEFAULT_QUEUE_MSGS, self->cr.queue_msgs);
	/* One or two channels, charged to the control fd's opener. */
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	ASSERT_EQ(self->s1.nr_channels + 1 + duplex, q.nr_channels);
	ASSERT_EQ(self->s1.user_channels + (other ? 0 : 1 + duplex),
		  q.user_channels);
	ASSERT_EQ(self->s1.nfd + 2, count_fds());
	other_user_usage(_metadata, self, 1 + duplex);
	round_trip(_metadata, fds[1], fds[0], 11, 3);
	if (duplex)
		round_trip(_metadata, fds[0], fds[1], 12, 4);
	close(fds[0]);
	close(fds[1]);
	other_user_usage(_metadata, self, 0);
}

static const struct fpath path_create = {
	.name = "CREATE",
	.prepare = prep_create,
	.call = call_create,
	.after = after_create,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_create_duplex = {
	.name = "CREATE DUPLEX",
	.prepare = prep_create,
	.call = call_create,
	.after = after_create,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_create_new_user = {
	.name = "CREATE (first channel of its user)",
	.prepare = prep_create,
	.call = call_create,
	.after = after_create,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, create, 300)
{
	self->cflags = IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_create);
}

TEST_F_TIMEOUT(fault, create_duplex, 300)
{
	self->cflags = IPCCHAN_FD_CLOEXEC | IPCCHAN_CREATE_DUPLEX;
	run_path(_metadata, self, &path_create_duplex);
}

/*
 * A control fd opened as another uid: the first channel of a user also
 * allocates the user's accounting record. The path is walked from /dev,
 * opened as root: the guest's / may not be searchable by others.
 */
static int ctl_open_as(uid_t uid)
{
	int dev, fd;

	dev = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	if (setresuid(uid, uid, 0)) {
		close(dev);
		return -errno;
	}
	fd = openat(dev, IPCCHAN_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(dev);
	if (setresuid(0, 0, 0))
		return -errno;
	return fd;
}

TEST_F_TIMEOUT(fault, create_new_user, 300)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("needs root (setresuid)");
	self->uctl = ctl_open_as(OTHER_UID);
	ASSERT_LE(0, self->uctl);
	other_user_usage(_metadata, self, 0);
	self->cctl = self->uctl;
	self->cflags = IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_create_new_user);
}

/* ---- OPEN, UNLINK ----------------------------------------------------- */

static void prep_open(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->op, 0, sizeof(self->op));
	self->op.flags = self->cflags;
	self->op.name = ptr64(self->name);
	self->op.mode = 0600;
	self->op.fd = -1;
	self->op.created = 0xdead;
}

static long call_open(fix_t *self)
{
	return chan_ioctl(self->cctl, IPCCHAN_IOC_OPEN, &self->op);
}

/* Stats of the named channel through an endpoint of it. */
static void named_stats(struct __test_metadata *_metadata, int fd,
			__u32 senders, __u32 receivers, __u64 queued)
{
	struct ipcchan_stats st;

	ASSERT_EQ(0, chan_stats(fd, 0, &st));
	ASSERT_EQ(senders, st.senders);
	ASSERT_EQ(receivers, st.receivers);
	ASSERT_EQ(queued, st.queued_msgs);
	ASSERT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
}

/* OPEN that creates: on failure no name, unless the write-back failed. */
static void after_open_create(struct __test_metadata *_metadata, fix_t *self,
			      long ret)
{
	int fd;

	if (ret < 0) {
		ASSERT_EQ(-1, self->op.fd);
		fd = chan_open(self->ctl, self->name,
			       IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0);
		if (fd >= 0) {
			/* Only a failed write-back leaves the channel. */
			ASSERT_EQ(-EFAULT, ret)
				TH_LOG("a failed OPEN|CREATE (%s) left its channel",
				       strerror(-ret));
			named_stats(_metadata, fd, 1, 1, 0);
			close(fd);
			ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
		} else {
			ASSERT_EQ(-ENOENT, fd);
		}
		other_user_usage(_metadata, self, 0);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, self->op.created);
	ASSERT_LE(0, self->op.fd);
	ASSERT_EQ(IPCCHAN_DEFAULT_MSG_SIZE, self->op.msg_size_max);
	named_stats(_metadata, self->op.fd, 1, 1, 0);
	other_user_usage(_metadata, self, 1);
	round_trip(_metadata, self->op.fd, self->op.fd, 21, 2);
	close(self->op.fd);
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	other_user_usage(_metadata, self, 0);
}

static const struct fpath path_open_create = {
	.name = "OPEN CREATE",
	.prepare = prep_open,
	.call = call_open,
	.after = after_open_create,
	.errs = { ENOMEM, EFAULT },
	.efault_keeps = 1,
};

static const struct fpath path_open_create_new_user = {
	.name = "OPEN CREATE (first channel of its user)",
	.prepare = prep_open,
	.call = call_open,
	.after = after_open_create,
	.errs = { ENOMEM, EFAULT },
	.efault_keeps = 1,
};

/* Names listed in /proc/ipcchan (this IPC namespace), or -errno. */
static int names_listed(void)
{
	char buf[4096] = "";
	int fd, n = 0;
	char *p;

	fd = open("/proc/ipcchan", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		n = -errno;
	close(fd);
	/* One line per name after the header. */
	for (p = strchr(buf, '\n'); n >= 0 && p && p[1]; p = strchr(p + 1, '\n'))
		n++;
	return n;
}

/*
 * Run with no name in the namespace, so that the name table's
 * per-namespace record is allocated too.
 */
TEST_F_TIMEOUT(fault, open_create, 300)
{
	ASSERT_EQ(0, names_listed())
		TH_LOG("names left in the namespace (by an earlier test?)");
	self->name = "fi-open-create";
	self->cflags = IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND |
		       IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_open_create);
}

TEST_F_TIMEOUT(fault, open_create_new_user, 300)
{
	ASSERT_EQ(0, geteuid()) TH_LOG("needs root (setresuid)");
	ASSERT_EQ(0, names_listed())
		TH_LOG("names left in the namespace (by an earlier test?)");
	self->uctl = ctl_open_as(OTHER_UID);
	ASSERT_LE(0, self->uctl);
	self->cctl = self->uctl;
	self->name = "fi-open-create-user";
	self->cflags = IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND |
		       IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_open_create_new_user);
}

/* A named channel held open with one message queued. */
static void named_hold(struct __test_metadata *_metadata, fix_t *self,
		       const char *name, int nmsgs)
{
	int i;

	self->name = name;
	self->hold = chan_open(self->ctl, name, IPCCHAN_OPEN_CREATE |
			       IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0600);
	ASSERT_LE(0, self->hold);
	for (i = 0; i < nmsgs; i++) {
		ASSERT_EQ(0, chan_send_str(self->hold, "held", 0,
					   IPCCHAN_NONBLOCK));
	}
	self->nq = nmsgs;
}

static void named_release(struct __test_metadata *_metadata, fix_t *self)
{
	close_fd(&self->hold);
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
	self->name = NULL;
}

static void after_open_existing(struct __test_metadata *_metadata,
				fix_t *self, long ret)
{
	if (ret < 0) {
		ASSERT_EQ(-1, self->op.fd);
		/* No endpoint was counted. */
		named_stats(_metadata, self->hold, 1, 1, self->nq);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, self->op.created);
	ASSERT_LE(0, self->op.fd);
	named_stats(_metadata, self->hold, 2, 2, self->nq);
	/* Above the held message's priority: it comes first. */
	round_trip(_metadata, self->op.fd, self->op.fd, 31, 9);
	close(self->op.fd);
	named_stats(_metadata, self->hold, 1, 1, self->nq);
}

static const struct fpath path_open_existing = {
	.name = "OPEN existing",
	.prepare = prep_open,
	.call = call_open,
	.after = after_open_existing,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, open_existing, 300)
{
	named_hold(_metadata, self, "fi-open-existing", 1);
	self->cflags = IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV |
		       IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_open_existing);
	named_release(_metadata, self);
}

static void after_open_excl(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	ASSERT_GT(0, ret);
	ASSERT_EQ(-1, self->op.fd);
	named_stats(_metadata, self->hold, 1, 1, self->nq);
}

static const struct fpath path_open_excl = {
	.name = "OPEN CREATE|EXCL (exists)",
	.prepare = prep_open,
	.call = call_open,
	.after = after_open_excl,
	.natural = -EEXIST,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, open_excl, 300)
{
	named_hold(_metadata, self, "fi-open-excl", 1);
	self->cflags = IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_EXCL |
		       IPCCHAN_OPEN_SEND | IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_open_excl);
	named_release(_metadata, self);
}

static void prep_unlink(struct __test_metadata *_metadata, fix_t *self)
{
	int fd;

	if (!self->exists) {
		fd = chan_open(self->ctl, self->name, IPCCHAN_OPEN_CREATE |
			       IPCCHAN_OPEN_RECV, 0600);
		ASSERT_LE(0, fd);
		close(fd);
		self->exists = 1;
		self->d_channels++;
	}
	memset(&self->ul, 0, sizeof(self->ul));
	self->ul.name = ptr64(self->name);
}

static long call_unlink(fix_t *self)
{
	return chan_ioctl(self->ctl, IPCCHAN_IOC_UNLINK, &self->ul);
}

static void after_unlink(struct __test_metadata *_metadata, fix_t *self,
			 long ret)
{
	int fd = chan_open(self->ctl, self->name, IPCCHAN_OPEN_RECV, 0);

	if (ret < 0) {
		/* Still linked. */
		ASSERT_LE(0, fd);
		close(fd);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(-ENOENT, fd);
	self->exists = 0;
	self->d_channels--;
}

static const struct fpath path_unlink = {
	.name = "UNLINK",
	.prepare = prep_unlink,
	.call = call_unlink,
	.after = after_unlink,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, unlink, 300)
{
	self->name = "fi-unlink";
	run_path(_metadata, self, &path_unlink);
	self->name = NULL;
}

/* ---- SEND ------------------------------------------------------------- */

static void prep_send(struct __test_metadata *_metadata, fix_t *self)
{
	__u32 id = self->next_id++;
	__u32 len = msg_len(id);

	(void)_metadata;
	self->cur_id = id;
	payload_fill(self->sbuf[0], id, len);
	memset(&self->sd, 0, sizeof(self->sd));
	self->sd.flags = self->cflags;
	self->sd.prio = msg_prio(id);
	if (self->cflags & IPCCHAN_SEND_IOV) {
		self->iov[0].base = ptr64(self->sbuf[0]);
		self->iov[0].len = 5;
		self->iov[1].base = ptr64(self->sbuf[0] + 5);
		self->iov[1].len = 0;
		self->iov[2].base = ptr64(self->sbuf[0] + 5);
		self->iov[2].len = len - 5;
		self->sd.buf = ptr64(self->iov);
		self->sd.len = 3;
	} else {
		self->sd.buf = ptr64(self->sbuf[0]);
		self->sd.len = len;
	}
	if (self->cflags & IPCCHAN_TIMEOUT)
		self->sd.timeout_ns = 10 * NSEC_PER_SEC;
}

static long call_send(fix_t *self)
{
	return chan_ioctl(self->tx, IPCCHAN_IOC_SEND, &self->sd);
}

static void after_send(struct __test_metadata *_metadata, fix_t *self,
		       long ret)
{
	/* Failed: nothing queued (main_check: sent and queued unchanged). */
	if (ret < 0)
		return;
	ASSERT_EQ(0, ret);
	model_add(self, self->cur_id);
}

static const struct fpath path_send = {
	.name = "SEND",
	.prepare = prep_send,
	.call = call_send,
	.after = after_send,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_send_iov = {
	.name = "SEND IOV",
	.prepare = prep_send,
	.call = call_send,
	.after = after_send,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_send_timeout = {
	.name = "SEND TIMEOUT (room)",
	.prepare = prep_send,
	.call = call_send,
	.after = after_send,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, send, 300)
{
	main_send(_metadata, self);
	self->cflags = 0;
	run_path(_metadata, self, &path_send);
}

TEST_F_TIMEOUT(fault, send_iov, 300)
{
	main_send(_metadata, self);
	self->cflags = IPCCHAN_SEND_IOV;
	run_path(_metadata, self, &path_send_iov);
}

TEST_F_TIMEOUT(fault, send_timeout, 300)
{
	main_send(_metadata, self);
	self->cflags = IPCCHAN_TIMEOUT;
	run_path(_metadata, self, &path_send_timeout);
}

/* A full queue: the send sleeps until its deadline, then -ETIMEDOUT. */
static void prep_send_full(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->sd, 0, sizeof(self->sd));
	self->sd.flags = IPCCHAN_TIMEOUT;
	self->sd.timeout_ns = 2 * NSEC_PER_MSEC;
	self->sd.buf = ptr64(self->sbuf[1]);
	self->sd.len = 32;
	payload_fill(self->sbuf[1], 999, 32);
}

static long call_send_full(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SEND, &self->sd);
}

static void after_send_full(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	struct ipcchan_stats st;

	ASSERT_GT(0, ret);
	ASSERT_EQ(0, chan_stats(self->fd2, 0, &st));
	ASSERT_EQ(1, st.queued_msgs);
	ASSERT_EQ(1, st.sent);
	ASSERT_EQ(0, st.waiting_senders);
}

static const struct fpath path_send_full = {
	.name = "SEND TIMEOUT (full: sleeps, -ETIMEDOUT)",
	.prepare = prep_send_full,
	.call = call_send_full,
	.after = after_send_full,
	.natural = -ETIMEDOUT,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, send_timeout_full, 300)
{
	unsigned char buf[64];
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 64, 1, 0, fds));
	self->fd2 = fds[0];
	self->fd3 = fds[1];
	payload_fill(buf, 77, 20);
	ASSERT_EQ(0, chan_send(self->fd3, buf, 20, 1, IPCCHAN_NONBLOCK));
	run_path(_metadata, self, &path_send_full);
	/* The message that filled the queue is still the one there. */
	ASSERT_EQ(20, chan_recv(self->fd2, buf, sizeof(buf), IPCCHAN_NONBLOCK,
				NULL));
	ASSERT_TRUE(payload_ok(buf, 77, 20));
	close_fd(&self->fd2);
	close_fd(&self->fd3);
}

/*
 * A message larger than the largest kmalloc cache: kvmalloc's page
 * allocation, and its vmalloc fallback when that fails.
 */
static unsigned char large_out[LARGE_LEN], large_in[LARGE_LEN + 64];

static void prep_send_large(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	self->cur_id = self->next_id++;
	payload_fill(large_out, self->cur_id, LARGE_LEN);
	memset(&self->sd, 0, sizeof(self->sd));
	self->sd.buf = ptr64(large_out);
	self->sd.len = LARGE_LEN;
	self->sd.prio = 1;
}

static long call_send_large(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SEND, &self->sd);
}

static void after_send_large(struct __test_metadata *_metadata, fix_t *self,
			     long ret)
{
	struct ipcchan_stats st;

	if (ret >= 0) {
		ASSERT_EQ(0, ret);
		self->lsent++;
	}
	ASSERT_EQ(0, chan_stats(self->fd2, 0, &st));
	ASSERT_EQ(self->lsent, st.sent);
	ASSERT_EQ(ret < 0 ? 0 : 1, st.queued_msgs);
	if (ret < 0)
		return;
	ASSERT_EQ(LARGE_LEN, chan_recv(self->fd2, large_in, sizeof(large_in),
				       IPCCHAN_NONBLOCK, NULL));
	ASSERT_TRUE(payload_ok(large_in, self->cur_id, LARGE_LEN));
}

static const struct fpath path_send_large = {
	.name = "SEND (60 KiB: page allocation, vmalloc fallback)",
	.prepare = prep_send_large,
	.call = call_send_large,
	.after = after_send_large,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, send_large, 300)
{
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, 0, 64 * 1024, 2, 0, fds));
	self->fd2 = fds[0];
	self->fd3 = fds[1];
	run_path(_metadata, self, &path_send_large);
	close_fd(&self->fd2);
	close_fd(&self->fd3);
}

/* ---- RECV ------------------------------------------------------------- */

static void peek_head(struct __test_metadata *_metadata, fix_t *self,
		      __u64 *seq)
{
	unsigned char buf[BUF_LEN];
	struct ipcchan_recv r;
	long n;

	n = chan_recv(self->rx, buf, sizeof(buf),
		      IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &r);
	ASSERT_LE(0, n);
	model_match(_metadata, self, 0, buf, n, r.prio);
	*seq = r.seq;
}

static void prep_recv(struct __test_metadata *_metadata, fix_t *self)
{
	if (!self->nmodel)
		main_send(_metadata, self);
	peek_head(_metadata, self, &self->seq_head);
	memset(&self->rv, 0, sizeof(self->rv));
	memset(self->rbuf[0], 0, BUF_LEN);
	self->rv.flags = self->cflags;
	self->rv.buf = ptr64(self->rbuf[0]);
	self->rv.len = BUF_LEN;
}

static long call_recv(fix_t *self)
{
	return chan_ioctl(self->rx, IPCCHAN_IOC_RECV, &self->rv);
}

static void after_recv(struct __test_metadata *_metadata, fix_t *self,
		       long ret)
{
	__u64 seq;

	if (ret < 0) {
		/* The message stays queued, in its place. */
		peek_head(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
		return;
	}
	ASSERT_EQ((long)self->model[0].len, ret);
	ASSERT_EQ((__u64)ret, self->rv.len);
	ASSERT_EQ(self->seq_head, self->rv.seq);
	model_match(_metadata, self, 0, self->rbuf[0], ret, self->rv.prio);
	if (self->cflags & IPCCHAN_RECV_CREDS) {
		ASSERT_EQ((__u32)getpid(), self->rv.pid);
		ASSERT_EQ(geteuid(), self->rv.uid);
		ASSERT_EQ(getegid(), self->rv.gid);
		ASSERT_NE(0, self->rv.timestamp_ns);
		ASSERT_GE(now_ns(CLOCK_MONOTONIC), self->rv.timestamp_ns);
	} else {
		ASSERT_EQ(0, self->rv.pid);
		ASSERT_EQ(0, self->rv.timestamp_ns);
	}
	if (self->cflags & IPCCHAN_RECV_PEEK) {
		peek_head(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
	} else {
		model_pop(self, 1);
	}
}

static const struct fpath path_recv = {
	.name = "RECV",
	.prepare = prep_recv,
	.call = call_recv,
	.after = after_recv,
	.errs = { EFAULT },
};

static const struct fpath path_recv_peek = {
	.name = "RECV PEEK",
	.prepare = prep_recv,
	.call = call_recv,
	.after = after_recv,
	.errs = { EFAULT },
};

static const struct fpath path_recv_creds = {
	.name = "RECV CREDS",
	.prepare = prep_recv,
	.call = call_recv,
	.after = after_recv,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, recv, 300)
{
	int i;

	for (i = 0; i < 4; i++)
		main_send(_metadata, self);
	self->cflags = 0;
	run_path(_metadata, self, &path_recv);
}

TEST_F_TIMEOUT(fault, recv_peek, 300)
{
	int i;

	for (i = 0; i < 4; i++)
		main_send(_metadata, self);
	self->cflags = IPCCHAN_RECV_PEEK;
	run_path(_metadata, self, &path_recv_peek);
}

TEST_F_TIMEOUT(fault, recv_creds, 300)
{
	int i;

	for (i = 0; i < 4; i++)
		main_send(_metadata, self);
	self->cflags = IPCCHAN_RECV_CREDS;
	run_path(_metadata, self, &path_recv_creds);
}

/* ---- SEND_BATCH, RECV_BATCH ------------------------------------------- */

static void prep_send_batch(struct __test_metadata *_metadata, fix_t *self)
{
	int i;

	(void)_metadata;
	self->cur_id = self->next_id;
	self->next_id += BATCH;
	memset(self->hdr, 0, sizeof(self->hdr));
	for (i = 0; i < BATCH; i++) {
		__u32 id = self->cur_id + i;

		payload_fill(self->sbuf[i], id, msg_len(id));
		self->hdr[i].buf = ptr64(self->sbuf[i]);
		self->hdr[i].len = msg_len(id);
		self->hdr[i].prio = msg_prio(id);
	}
	memset(&self->bt, 0, sizeof(self->bt));
	self->bt.msgs = ptr64(self->hdr);
	self->bt.count = BATCH;
	self->bt.done = 0xdead;
}

static long call_send_batch(fix_t *self)
{
	return chan_ioctl(self->tx, IPCCHAN_IOC_SEND_BATCH, &self->bt);
}

static void after_send_batch(struct __test_metadata *_metadata, fix_t *self,
			     long ret)
{
	int i;

	if (ret < 0)
		return;
	ASSERT_EQ((__u32)ret, self->bt.done);
	ASSERT_GE(BATCH, ret);
	if (!self->injected) {
		ASSERT_EQ(BATCH, ret);
	}
	/* Exactly the first ret messages went, in order. */
	for (i = 0; i < ret; i++)
		model_add(self, self->cur_id + i);
	if (ret < BATCH)
		batch_short(self);
}

static const struct fpath path_send_batch = {
	.name = "SEND_BATCH",
	.prepare = prep_send_batch,
	.call = call_send_batch,
	.after = after_send_batch,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, send_batch, 300)
{
	main_send(_metadata, self);
	run_path(_metadata, self, &path_send_batch);
}

static void prep_recv_batch(struct __test_metadata *_metadata, fix_t *self)
{
	int i;

	while (self->nmodel < BATCH + 1)
		main_send(_metadata, self);
	peek_head(_metadata, self, &self->seq_head);
	memset(self->hdr, 0, sizeof(self->hdr));
	for (i = 0; i < BATCH; i++) {
		memset(self->rbuf[i], 0, BUF_LEN);
		self->hdr[i].buf = ptr64(self->rbuf[i]);
		self->hdr[i].len = BUF_LEN;
	}
	memset(&self->bt, 0, sizeof(self->bt));
	self->bt.msgs = ptr64(self->hdr);
	self->bt.count = BATCH;
	self->bt.done = 0xdead;
}

static long call_recv_batch(fix_t *self)
{
	return chan_ioctl(self->rx, IPCCHAN_IOC_RECV_BATCH, &self->bt);
}

static void after_recv_batch(struct __test_metadata *_metadata, fix_t *self,
			     long ret)
{
	__u64 seq;
	int i;

	if (ret < 0) {
		peek_head(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
		return;
	}
	ASSERT_EQ((__u32)ret, self->bt.done);
	ASSERT_GE(BATCH, ret);
	if (!self->injected) {
		ASSERT_EQ(BATCH, ret);
	}
	ASSERT_EQ(self->seq_head, self->hdr[0].seq);
	for (i = 0; i < ret; i++)
		model_match(_metadata, self, i, self->rbuf[i],
			    self->hdr[i].len, self->hdr[i].prio);
	model_pop(self, ret);
	if (ret < BATCH)
		batch_short(self);
}

static const struct fpath path_recv_batch = {
	.name = "RECV_BATCH",
	.prepare = prep_recv_batch,
	.call = call_recv_batch,
	.after = after_recv_batch,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, recv_batch, 300)
{
	run_path(_metadata, self, &path_recv_batch);
}

/* ---- STATS ------------------------------------------------------------ */

static void prep_stats(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->st, 0, sizeof(self->st));
}

static long call_stats(fix_t *self)
{
	return chan_ioctl(self->rx, IPCCHAN_IOC_STATS, &self->st);
}

static void after_stats(struct __test_metadata *_metadata, fix_t *self,
			long ret)
{
	if (ret < 0)
		return;
	ASSERT_EQ(0, ret);
	ASSERT_EQ((__u64)self->nmodel, self->st.queued_msgs);
	ASSERT_EQ(self->sent, self->st.sent);
	ASSERT_EQ(self->received, self->st.received);
	ASSERT_EQ(MAIN_QUEUE, self->st.queue_msgs);
}

static const struct fpath path_stats = {
	.name = "STATS",
	.prepare = prep_stats,
	.call = call_stats,
	.after = after_stats,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, stats, 300)
{
	main_send(_metadata, self);
	run_path(_metadata, self, &path_stats);
}

/* ---- NOTIFY, fasync --------------------------------------------------- */

#define SIG_A	(SIGRTMIN + 1)
#define SIG_B	(SIGRTMIN + 2)
#define SIG_IO	(SIGRTMIN + 3)

static int sig_take(int sig, siginfo_t *si)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(si, 0, sizeof(*si));
	return sigtimedwait(&set, si, &zero) == sig;
}

/*
 * A message lands on the empty auxiliary channel: which of SIG_A, SIG_B,
 * SIG_IO did it raise (bit 0, 1, 2)? The message is then taken again.
 */
static int fire(struct __test_metadata *_metadata, fix_t *self,
		siginfo_t *si)
{
	unsigned char buf[64];
	siginfo_t tmp;
	int mask = 0;

	ASSERT_EQ(0, chan_send_str(self->atx, "ping", 0, IPCCHAN_NONBLOCK));
	if (sig_take(SIG_A, si))
		mask |= 1;
	if (sig_take(SIG_B, mask ? &tmp : si))
		mask |= 2;
	if (sig_take(SIG_IO, mask ? &tmp : si))
		mask |= 4;
	EXPECT_EQ(4, chan_recv(self->arx, buf, sizeof(buf), IPCCHAN_NONBLOCK,
			       NULL));
	return mask;
}

static void notify_set(struct __test_metadata *_metadata, fix_t *self,
		       int sig, __u64 value)
{
	chan_notify(self->arx, IPCCHAN_NOTIFY_REMOVE, 0, 0);
	ASSERT_EQ(0, chan_notify(self->arx, 0, sig, value));
}

static void expect_sig(struct __test_metadata *_metadata, fix_t *self,
		       int bit, __u64 value)
{
	siginfo_t si;

	ASSERT_EQ(bit, fire(_metadata, self, &si));
	if (!bit)
		return;
	ASSERT_EQ(SI_MESGQ, si.si_code);
	ASSERT_EQ(value, (__u64)(uintptr_t)si.si_value.sival_ptr);
	ASSERT_EQ(getpid(), si.si_pid);
}

static void prep_notify(struct __test_metadata *_metadata, fix_t *self)
{
	if (self->exists)
		notify_set(_metadata, self, SIG_A, 0xa);
	memset(&self->nt, 0, sizeof(self->nt));
	self->nt.flags = self->cflags;
	if (!(self->cflags & IPCCHAN_NOTIFY_REMOVE)) {
		self->nt.signo = self->exists ? SIG_B : SIG_A;
		self->nt.value = self->exists ? 0xb : 0x1111;
	}
}

static long call_notify(fix_t *self)
{
	return chan_ioctl(self->arx, IPCCHAN_IOC_NOTIFY, &self->nt);
}

/* self->exists: a registration (SIG_A, 0xa) is there before the call. */
static void after_notify(struct __test_metadata *_metadata, fix_t *self,
			 long ret)
{
	int remove = !!(self->cflags & IPCCHAN_NOTIFY_REMOVE);

	if (ret < 0) {
		/* What was registered before still is, and only that. */
		if (self->exists)
			expect_sig(_metadata, self, 1, 0xa);
		else
			expect_sig(_metadata, self, 0, 0);
	} else if (remove) {
		ASSERT_EQ(0, ret);
		expect_sig(_metadata, self, 0, 0);
		ASSERT_EQ(-ENOENT, chan_notify(self->arx, IPCCHAN_NOTIFY_REMOVE,
					       0, 0));
		return;
	} else {
		ASSERT_EQ(0, ret);
		if (self->exists)
			expect_sig(_metadata, self, 2, 0xb);
		else
			expect_sig(_metadata, self, 1, 0x1111);
	}
	chan_notify(self->arx, IPCCHAN_NOTIFY_REMOVE, 0, 0);
	ASSERT_EQ(-ENOENT, chan_notify(self->arx, IPCCHAN_NOTIFY_REMOVE, 0, 0));
}

static const struct fpath path_notify = {
	.name = "NOTIFY register",
	.prepare = prep_notify,
	.call = call_notify,
	.after = after_notify,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_notify_replace = {
	.name = "NOTIFY replace",
	.prepare = prep_notify,
	.call = call_notify,
	.after = after_notify,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_notify_remove = {
	.name = "NOTIFY REMOVE",
	.prepare = prep_notify,
	.call = call_notify,
	.after = after_notify,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, notify, 300)
{
	self->exists = 0;
	self->cflags = 0;
	run_path(_metadata, self, &path_notify);
}

TEST_F_TIMEOUT(fault, notify_replace, 300)
{
	self->exists = 1;
	self->cflags = 0;
	run_path(_metadata, self, &path_notify_replace);
}

TEST_F_TIMEOUT(fault, notify_remove, 300)
{
	self->exists = 1;
	self->cflags = IPCCHAN_NOTIFY_REMOVE;
	run_path(_metadata, self, &path_notify_remove);
}

static void prep_fasync(struct __test_metadata *_metadata, fix_t *self)
{
	self->flags = fcntl(self->arx, F_GETFL);
	ASSERT_LE(0, self->flags);
	self->flags &= ~O_ASYNC;
	ASSERT_EQ(0, fcntl(self->arx, F_SETFL, self->flags));
}

static long call_fasync(fix_t *self)
{
	return fcntl(self->arx, F_SETFL, self->flags | O_ASYNC) < 0 ? -errno : 0;
}

static void after_fasync(struct __test_metadata *_metadata, fix_t *self,
			 long ret)
{
	siginfo_t si;
	int fl = fcntl(self->arx, F_GETFL);

	ASSERT_LE(0, fl);
	if (ret < 0) {
		ASSERT_EQ(0, fl & O_ASYNC);
		ASSERT_EQ(0, fire(_metadata, self, &si));
		return;
	}
	ASSERT_EQ(O_ASYNC, fl & O_ASYNC);
	ASSERT_EQ(4, fire(_metadata, self, &si));
	ASSERT_EQ(POLL_IN, si.si_code);
	ASSERT_EQ(self->arx, si.si_fd);
	ASSERT_EQ(0, fcntl(self->arx, F_SETFL, self->flags));
	ASSERT_EQ(0, fire(_metadata, self, &si));
}

/* fcntl(2) does not list it, but fasync_helper() fails with ENOMEM. */
static const struct fpath path_fasync = {
	.name = "fasync (F_SETFL O_ASYNC)",
	.prepare = prep_fasync,
	.call = call_fasync,
	.after = after_fasync,
	.errs = { ENOMEM },
};

TEST_F_TIMEOUT(fault, fasync, 300)
{
	ASSERT_EQ(0, fcntl(self->arx, F_SETOWN, getpid()));
	ASSERT_EQ(0, fcntl(self->arx, F_SETSIG, SIG_IO));
	run_path(_metadata, self, &path_fasync);
}

/* ---- poll, epoll ------------------------------------------------------ */

static void prep_poll(struct __test_metadata *_metadata, fix_t *self)
{
	if (!self->nmodel)
		main_send(_metadata, self);
	memset(self->pfd, 0, sizeof(self->pfd));
	self->pfd[0].fd = self->rx;
	self->pfd[0].events = POLLIN;
	self->pfd[1].fd = self->tx;
	self->pfd[1].events = POLLOUT;
	self->pfd[2].fd = self->arx;
	self->pfd[2].events = POLLIN;
}

static long call_poll(fix_t *self)
{
	int r = poll(self->pfd, 3, 0);

	return r < 0 ? -errno : r;
}

static void after_poll(struct __test_metadata *_metadata, fix_t *self,
		       long ret)
{
	if (ret < 0)
		return;
	ASSERT_EQ(2, ret);
	ASSERT_EQ(POLLIN, self->pfd[0].revents);
	ASSERT_EQ(POLLOUT, self->pfd[1].revents);
	ASSERT_EQ(0, self->pfd[2].revents);
}

static const struct fpath path_poll = {
	.name = "poll",
	.prepare = prep_poll,
	.call = call_poll,
	.after = after_poll,
	.errs = { EFAULT, ENOMEM },
};

TEST_F_TIMEOUT(fault, poll, 300)
{
	run_path(_metadata, self, &path_poll);
}

static void prep_epoll(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->ev, 0, sizeof(self->ev));
	self->ev.events = EPOLLIN | EPOLLOUT;
	self->ev.data.fd = self->fd2;
}

static long call_epoll(fix_t *self)
{
	return epoll_ctl(self->epfd, EPOLL_CTL_ADD, self->fd2, &self->ev) ?
	       -errno : 0;
}

/* fd2/fd3: a duplex pair; fd2 sits on two wait queues when watched. */
static void after_epoll(struct __test_metadata *_metadata, fix_t *self,
			long ret)
{
	struct epoll_event ev[2];

	if (ret < 0) {
		ASSERT_EQ(0, epoll_wait(self->epfd, ev, 2, 0));
		ASSERT_EQ(-1, epoll_ctl(self->epfd, EPOLL_CTL_DEL, self->fd2,
					NULL));
		ASSERT_EQ(ENOENT, errno);
		/* Wake both of fd2's wait queues: nothing stale is on them. */
		round_trip(_metadata, self->fd3, self->fd2, 41, 1);
		round_trip(_metadata, self->fd2, self->fd3, 42, 1);
		ASSERT_EQ(0, epoll_wait(self->epfd, ev, 2, 0));
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, epoll_wait(self->epfd, ev, 2, 0));
	ASSERT_EQ(EPOLLOUT, ev[0].events);
	ASSERT_EQ(0, chan_send_str(self->fd3, "in", 0, IPCCHAN_NONBLOCK));
	ASSERT_EQ(1, epoll_wait(self->epfd, ev, 2, 0));
	ASSERT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	ASSERT_EQ(self->fd2, ev[0].data.fd);
	ASSERT_EQ(2, chan_recv(self->fd2, self->rbuf[0], BUF_LEN,
			       IPCCHAN_NONBLOCK, NULL));
	ASSERT_EQ(0, epoll_ctl(self->epfd, EPOLL_CTL_DEL, self->fd2, NULL));
}

static const struct fpath path_epoll = {
	.name = "epoll_ctl ADD",
	.prepare = prep_epoll,
	.call = call_epoll,
	.after = after_epoll,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, epoll, 300)
{
	int fds[2];

	ASSERT_EQ(0, chan_create(self->ctl, IPCCHAN_CREATE_DUPLEX, 0, 0, 0,
				 fds));
	self->fd2 = fds[0];
	self->fd3 = fds[1];
	self->epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, self->epfd);
	run_path(_metadata, self, &path_epoll);
	close_fd(&self->epfd);
	close_fd(&self->fd2);
	close_fd(&self->fd3);
}

/* ---- fdinfo, /proc/ipcchan -------------------------------------------- */

static void prep_fdinfo(struct __test_metadata *_metadata, fix_t *self)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->rx);
	self->fd4 = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->fd4);
	self->d_fds++;
	memset(self->text, 0, sizeof(self->text));
}

static long call_fdinfo(fix_t *self)
{
	ssize_t n = pread(self->fd4, self->text, sizeof(self->text) - 1, 0);

	return n < 0 ? -errno : n;
}

static void after_fdinfo(struct __test_metadata *_metadata, fix_t *self,
			 long ret)
{
	unsigned long long queued, sent;
	const char *p;

	close_fd(&self->fd4);
	self->d_fds--;
	if (ret < 0)
		return;
	p = strstr(self->text, "ipcchan-rx:\t");
	ASSERT_NE(NULL, p) TH_LOG("fdinfo: %s", self->text);
	ASSERT_EQ(2, sscanf(p, "ipcchan-rx:\tqueued_msgs=%llu queued_bytes=%*u sent=%llu",
			    &queued, &sent));
	ASSERT_EQ((unsigned long long)self->nmodel, queued);
	ASSERT_EQ(self->sent, sent);
	ASSERT_EQ(NULL, strstr(self->text, "ipcchan-tx:"));
}

static const struct fpath path_fdinfo = {
	.name = "read /proc/self/fdinfo",
	.prepare = prep_fdinfo,
	.call = call_fdinfo,
	.after = after_fdinfo,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, fdinfo, 300)
{
	main_send(_metadata, self);
	main_send(_metadata, self);
	run_path(_metadata, self, &path_fdinfo);
}

#define PROC_PATH	"/proc/ipcchan"

static long call_proc_open(fix_t *self)
{
	self->fd4 = open(PROC_PATH, O_RDONLY | O_CLOEXEC);
	return self->fd4 < 0 ? -errno : 0;
}

static void after_proc_open(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	if (ret < 0)
		return;
	ASSERT_LE(0, self->fd4);
	ASSERT_LT(0, read(self->fd4, self->text, sizeof(self->text)));
	close_fd(&self->fd4);
}

static const struct fpath path_proc_open = {
	.name = "open /proc/ipcchan",
	.call = call_proc_open,
	.after = after_proc_open,
	/* EFAULT: getname() copies the path with strncpy_from_user(). */
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, proc_open, 300)
{
	run_path(_metadata, self, &path_proc_open);
}

static void prep_proc_read(struct __test_metadata *_metadata, fix_t *self)
{
	self->fd4 = open(PROC_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->fd4);
	self->d_fds++;
	memset(self->text, 0, sizeof(self->text));
}

static long call_proc_read(fix_t *self)
{
	ssize_t n = read(self->fd4, self->text, sizeof(self->text) - 1);

	return n < 0 ? -errno : n;
}

static void after_proc_read(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	unsigned int mode, senders, receivers;
	unsigned long long queued, sent;
	char line[64];
	const char *p;

	close_fd(&self->fd4);
	self->d_fds--;
	if (ret < 0)
		return;
	ASSERT_EQ(0, strncmp(self->text, "name mode uid gid ", 18));
	snprintf(line, sizeof(line), "\n%s ", self->name);
	p = strstr(self->text, line);
	ASSERT_NE(NULL, p) TH_LOG("/proc/ipcchan: %s", self->text);
	ASSERT_EQ(5, sscanf(p + strlen(line),
			    "%o %*u %*u %*u %*u %*u %llu %*u %llu %*u %u %u",
			    &mode, &queued, &sent, &senders, &receivers));
	ASSERT_EQ(0600, mode);
	ASSERT_EQ((unsigned long long)self->nq, queued);
	ASSERT_EQ((unsigned long long)self->nq, sent);
	ASSERT_EQ(1, senders);
	ASSERT_EQ(1, receivers);
}

static const struct fpath path_proc_read = {
	.name = "read /proc/ipcchan",
	.prepare = prep_proc_read,
	.call = call_proc_read,
	.after = after_proc_read,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, proc_read, 300)
{
	named_hold(_metadata, self, "fi-proc-read", 2);
	run_path(_metadata, self, &path_proc_read);
	named_release(_metadata, self);
}

/* ---- close with messages queued --------------------------------------- */

#define CLOSE_MSGS	3

static void prep_close(struct __test_metadata *_metadata, fix_t *self)
{
	int fds[2], i;

	ASSERT_EQ(0, chan_create(self->ctl, 0, 0, 0, 0, fds));
	self->fd2 = fds[0];
	self->fd3 = fds[1];
	for (i = 0; i < CLOSE_MSGS; i++) {
		payload_fill(self->sbuf[i], 500 + i, 40);
		ASSERT_EQ(0, chan_send(self->fd3, self->sbuf[i], 40, 0,
				       IPCCHAN_NONBLOCK));
	}
	self->d_channels++;
	self->d_fds += 2;
	self->d_bytes += CLOSE_MSGS * (40 + IPCCHAN_MSG_OVERHEAD);
}

static long call_close_rx(fix_t *self)
{
	return close(self->fd2) ? -errno : 0;
}

/* The last receiver went: what was queued is dropped, counted, uncharged. */
static void after_close_rx(struct __test_metadata *_metadata, fix_t *self,
			   long ret)
{
	struct ipcchan_stats st;

	ASSERT_EQ(0, ret);
	self->fd2 = -1;
	self->d_fds--;
	self->d_bytes -= CLOSE_MSGS * (40 + IPCCHAN_MSG_OVERHEAD);
	ASSERT_EQ(0, chan_stats(self->fd3, IPCCHAN_STATS_TX, &st));
	ASSERT_EQ(0, st.receivers);
	ASSERT_EQ(0, st.queued_msgs);
	ASSERT_EQ(CLOSE_MSGS, st.sent);
	ASSERT_EQ(CLOSE_MSGS, st.dropped);
	ASSERT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	ASSERT_EQ(-EPIPE, chan_send_str(self->fd3, "x", 0, IPCCHAN_NONBLOCK));
	snap_check(_metadata, self, &self->s_path, "close: dropped messages uncharged");
	close_fd(&self->fd3);
	self->d_fds--;
	self->d_channels--;
}

static const struct fpath path_close_rx = {
	.name = "close (last receiver, messages queued)",
	.prepare = prep_close,
	.call = call_close_rx,
	.after = after_close_rx,
	.errs = { 0 },
};

TEST_F_TIMEOUT(fault, close_receiver, 300)
{
	run_path(_metadata, self, &path_close_rx);
}

static long call_close_tx(fix_t *self)
{
	return close(self->fd3) ? -errno : 0;
}

/* The last sender went: the receiver still gets every message, then EOF. */
static void after_close_tx(struct __test_metadata *_metadata, fix_t *self,
			   long ret)
{
	unsigned char buf[64];
	struct ipcchan_stats st;
	struct ipcchan_recv r;
	int i;

	ASSERT_EQ(0, ret);
	self->fd3 = -1;
	self->d_fds--;
	ASSERT_EQ(0, chan_stats(self->fd2, 0, &st));
	ASSERT_EQ(0, st.senders);
	ASSERT_EQ(CLOSE_MSGS, st.queued_msgs);
	ASSERT_EQ(0, st.dropped);
	for (i = 0; i < CLOSE_MSGS; i++) {
		ASSERT_EQ(40, chan_recv(self->fd2, buf, sizeof(buf),
					IPCCHAN_NONBLOCK, &r));
		ASSERT_TRUE(payload_ok(buf, 500 + i, 40));
		ASSERT_EQ((__u64)i + 1, r.seq);
	}
	self->d_bytes -= CLOSE_MSGS * (40 + IPCCHAN_MSG_OVERHEAD);
	ASSERT_EQ(0, chan_recv(self->fd2, buf, sizeof(buf), IPCCHAN_NONBLOCK,
			       &r));
	ASSERT_EQ(0, r.seq);
	close_fd(&self->fd2);
	self->d_fds--;
	self->d_channels--;
}

static const struct fpath path_close_tx = {
	.name = "close (last sender, messages queued)",
	.prepare = prep_close,
	.call = call_close_tx,
	.after = after_close_tx,
	.errs = { 0 },
};

TEST_F_TIMEOUT(fault, close_sender, 300)
{
	run_path(_metadata, self, &path_close_tx);
}

/* ---- shared pages: region, slots, semaphores --------------------------- */

static unsigned char shm_buf[SHM_PEND_MAX][SHM_SLOT];

static void shm_attrs_create(struct ipcchan_create *c)
{
	c->region_size = SHM_REGION;
	c->slot_size = SHM_SLOT;
	c->nr_sems = SHM_SEMS;
}

static int shm_create(int ctl, __u64 flags, int fds[2])
{
	struct ipcchan_create c;
	long r;

	memset(&c, 0, sizeof(c));
	c.flags = flags | IPCCHAN_FD_CLOEXEC;
	c.fds[0] = c.fds[1] = -1;
	shm_attrs_create(&c);
	r = chan_ioctl(ctl, IPCCHAN_IOC_CREATE, &c);
	if (r < 0)
		return r;
	fds[0] = c.fds[0];
	fds[1] = c.fds[1];
	return 0;
}

/* A named channel with the shared-page attributes: the endpoint or -errno. */
static int shm_named_open(int ctl, const char *name, __u64 flags)
{
	struct ipcchan_open o;
	long r;

	memset(&o, 0, sizeof(o));
	o.flags = flags | IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV |
		  IPCCHAN_FD_CLOEXEC;
	o.name = ptr64(name);
	o.mode = 0600;
	o.fd = -1;
	o.region_size = SHM_REGION;
	o.slot_size = SHM_SLOT;
	o.nr_sems = SHM_SEMS;
	r = chan_ioctl(ctl, IPCCHAN_IOC_OPEN, &o);
	return r < 0 ? r : o.fd;
}

static int region_info(int fd, struct ipcchan_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	return chan_ioctl(fd, IPCCHAN_IOC_REGION_INFO, ri);
}

static int slot_loan(int fd, __u32 *slot)
{
	struct ipcchan_slot_loan l;
	long r;

	memset(&l, 0, sizeof(l));
	l.flags = IPCCHAN_NONBLOCK;
	r = chan_ioctl(fd, IPCCHAN_IOC_SLOT_LOAN, &l);
	if (r < 0)
		return r;
	*slot = l.slot;
	return 0;
}

static int slot_send(int fd, __u32 slot, __u64 len, __u32 prio)
{
	struct ipcchan_send s;

	memset(&s, 0, sizeof(s));
	s.flags = IPCCHAN_SEND_SLOT | IPCCHAN_NONBLOCK;
	s.slot = slot;
	s.len = len;
	s.prio = prio;
	return chan_ioctl(fd, IPCCHAN_IOC_SEND, &s);
}

/* Receive with RECV_SLOT: the length, *slot set; or -errno. */
static long slot_recv(int fd, __u32 *slot, struct ipcchan_recv *r)
{
	long n;

	memset(r, 0, sizeof(*r));
	r->flags = IPCCHAN_RECV_SLOT | IPCCHAN_NONBLOCK;
	n = chan_ioctl(fd, IPCCHAN_IOC_RECV, r);
	if (n >= 0)
		*slot = r->slot;
	return n;
}

static int slot_release(int fd, __u32 slot)
{
	struct ipcchan_slot_release rel;

	memset(&rel, 0, sizeof(rel));
	rel.slot = slot;
	return chan_ioctl(fd, IPCCHAN_IOC_SLOT_RELEASE, &rel);
}

/* A semaphore's value, or -errno. */
static long sem_op(int fd, __u32 op, __u32 index, __u32 count, __u64 flags)
{
	struct ipcchan_sem s;
	long r;

	memset(&s, 0, sizeof(s));
	s.op = op;
	s.index = index;
	s.count = count;
	s.flags = flags;
	r = chan_ioctl(fd, IPCCHAN_IOC_SEM, &s);
	return r < 0 ? r : (long)s.value;
}

static long sem_value(int fd, __u32 index)
{
	return sem_op(fd, IPCCHAN_SEM_GETVALUE, index, 0, 0);
}

/* Mappings of a region (its shmem file is "ipcchan") in /proc/self/maps. */
static int maps_count(void)
{
	char line[512];
	FILE *f;
	int n = 0;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/ipcchan (deleted)"))
			n++;
	fclose(f);
	return n;
}

static unsigned char *slot_ptr(fix_t *self, __u32 slot)
{
	return self->map + (size_t)slot * SHM_SLOT;
}

static int zero_ok(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The slot accounting an endpoint reports: the invariant and the counts. */
static void slots_expect(struct __test_metadata *_metadata, int fd,
			 __u64 in_flight, __u64 held, __u64 held_here,
			 const char *who)
{
	struct ipcchan_region_info ri;

	ASSERT_EQ(0, region_info(fd, &ri));
	ASSERT_EQ(ri.nr_slots, ri.slots_free + ri.slots_held +
		  ri.slots_in_flight) TH_LOG("%s: slot accounting", who);
	ASSERT_EQ(in_flight, ri.slots_in_flight) TH_LOG("%s: in flight", who);
	ASSERT_EQ(held, ri.slots_held) TH_LOG("%s: held", who);
	ASSERT_EQ(held_here, ri.slots_held_here) TH_LOG("%s: held here", who);
}

/* A slot goes from @sfd to @rfd through a mapping of @sfd: loan, write, send, receive, release. */
static void shm_round_trip(struct __test_metadata *_metadata, int sfd,
			   int rfd, __u32 id)
{
	struct ipcchan_recv r;
	unsigned char *m;
	__u32 slot, rslot;

	m = mmap(NULL, SHM_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, slot_loan(sfd, &slot));
	payload_fill(m + (size_t)slot * SHM_SLOT, id, SHM_LEN);
	ASSERT_EQ(0, slot_send(sfd, slot, SHM_LEN, 1));
	ASSERT_EQ(SHM_LEN, slot_recv(rfd, &rslot, &r));
	ASSERT_EQ(slot, rslot);
	ASSERT_TRUE(payload_ok(m + (size_t)slot * SHM_SLOT, id, SHM_LEN));
	ASSERT_EQ(0, slot_release(rfd, slot));
	ASSERT_EQ(0, munmap(m, SHM_REGION));
	slots_expect(_metadata, rfd, 0, 0, 0, "after a round trip");
}

/*
 * A fresh channel (or pair) with a region is what was asked for and works:
 * its attributes, all slots free, semaphores at 0; the sender maps it,
 * loans a slot, writes it, sends it; the receiver takes the slot, the
 * bytes are there, it releases the slot.
 */
static void shm_fresh_usable(struct __test_metadata *_metadata, int sfd,
			     int rfd, __u32 id)
{
	struct ipcchan_region_info ri;
	int i;

	ASSERT_EQ(0, region_info(rfd, &ri));
	ASSERT_EQ(SHM_REGION, ri.region_size);
	ASSERT_EQ(SHM_SLOT, ri.slot_size);
	ASSERT_EQ(SHM_SLOTS, ri.nr_slots);
	ASSERT_EQ(SHM_SEMS, ri.nr_sems);
	ASSERT_EQ(SHM_SLOTS, ri.slots_free);
	ASSERT_EQ(0, ri.slots_held);
	ASSERT_EQ(0, ri.slots_in_flight);
	for (i = 0; i < SHM_SEMS; i++) {
		ASSERT_EQ(0, sem_value(rfd, i));
	}
	shm_round_trip(_metadata, sfd, rfd, id);
	ASSERT_EQ(1, sem_op(sfd, IPCCHAN_SEM_POST, 0, 1, 0));
	ASSERT_EQ(0, sem_op(rfd, IPCCHAN_SEM_WAIT, 0, 0, IPCCHAN_NONBLOCK));
}

/*
 * The shared-page channel is consistent with the model and works: stats,
 * slot accounting (fd3 and fd2 each hold what the model says, the
 * background slot and the path's queued ones are in flight, nothing was
 * reclaimed), semaphore values; then a slot round trip above everything
 * queued, and a new read-only mapping of the receiver that sees the
 * background slot's bytes.
 */
static void shm_check(struct __test_metadata *_metadata, fix_t *self)
{
	struct ipcchan_region_info ri;
	struct ipcchan_stats st;
	struct ipcchan_recv r;
	__u32 slot, rslot, id;
	unsigned char *m;
	int i;

	ASSERT_EQ(0, chan_stats(self->fd2, 0, &st));
	ASSERT_EQ(st.sent, st.received + st.queued_msgs + st.dropped);
	ASSERT_EQ((__u64)2 + self->npend, st.queued_msgs);
	ASSERT_EQ(self->sh_sent, st.sent);
	ASSERT_EQ(self->sh_received, st.received);
	ASSERT_EQ(0, st.dropped);
	slots_expect(_metadata, self->fd3, 1 + self->npend,
		     self->held_tx + self->held_rx, self->held_tx, "sender");
	slots_expect(_metadata, self->fd2, 1 + self->npend,
		     self->held_tx + self->held_rx, self->held_rx, "receiver");
	ASSERT_EQ(0, region_info(self->fd2, &ri));
	ASSERT_EQ(0, ri.slots_reclaimed);
	for (i = 0; i < SHM_SEMS; i++) {
		ASSERT_EQ(self->semv[i], sem_value(self->fd3, i))
			TH_LOG("semaphore %d", i);
	}

	id = PROBE_ID + self->sh_probes++;
	ASSERT_EQ(0, slot_loan(self->fd3, &slot));
	payload_fill(slot_ptr(self, slot), id, SHM_LEN);
	ASSERT_EQ(0, slot_send(self->fd3, slot, SHM_LEN, PROBE_PRIO));
	ASSERT_EQ(SHM_LEN, slot_recv(self->fd2, &rslot, &r));
	ASSERT_EQ(slot, rslot);
	ASSERT_EQ(PROBE_PRIO, r.prio);
	ASSERT_TRUE(payload_ok(slot_ptr(self, slot), id, SHM_LEN));
	ASSERT_EQ(0, slot_release(self->fd2, slot));
	self->sh_sent++;
	self->sh_received++;

	m = mmap(NULL, SHM_REGION, PROT_READ, MAP_SHARED, self->fd2, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_TRUE(payload_ok(m + (size_t)self->bg_slot * SHM_SLOT,
			       SHM_BG_ID + 1, SHM_LEN));
	ASSERT_EQ(0, munmap(m, SHM_REGION));
	ASSERT_EQ(self->nmaps, maps_count());
}

/*
 * fd2/fd3: a channel with a region, slots and semaphores; fd3 maps it.
 * Queued through the whole test, below everything a path sends: an
 * ordinary message and a slot message.
 */
static void shm_setup(struct __test_metadata *_metadata, fix_t *self)
{
	int fds[2];
	__u32 slot;

	ASSERT_EQ(0, highmem_faults(1));
	self->highmem = 1;
	ASSERT_EQ(0, shm_create(self->ctl, 0, fds));
	self->fd2 = fds[0];
	self->fd3 = fds[1];
	self->map = mmap(NULL, SHM_REGION, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd3, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	payload_fill(self->sbuf[0], SHM_BG_ID, 100);
	ASSERT_EQ(0, chan_send(self->fd3, self->sbuf[0], 100, 0,
			       IPCCHAN_NONBLOCK));
	ASSERT_EQ(0, slot_loan(self->fd3, &slot));
	payload_fill(slot_ptr(self, slot), SHM_BG_ID + 1, SHM_LEN);
	ASSERT_EQ(0, slot_send(self->fd3, slot, SHM_LEN, 0));
	self->bg_slot = slot;
	self->sh_sent = 2;
	self->nmaps = maps_count();
	ASSERT_EQ(1, self->nmaps) TH_LOG("the region's mapping is not listed");
	shm_check(_metadata, self);
}

static int pend_ok(fix_t *self, int i, const unsigned char *buf)
{
	return self->pend[i].zero ? zero_ok(buf, SHM_LEN) :
	       payload_ok(buf, self->pend[i].id, SHM_LEN);
}

static void pend_pop(fix_t *self, int n)
{
	memmove(self->pend, self->pend + n,
		(self->npend - n) * sizeof(self->pend[0]));
	self->npend -= n;
	self->sh_received += n;
	self->d_bytes -= n * IPCCHAN_MSG_OVERHEAD;
}

/* Queue one more slot message of the path (id, contents, or punched). */
static void pend_queue(struct __test_metadata *_metadata, fix_t *self)
{
	int i = self->npend;

	ASSERT_GT(SHM_PEND_MAX, i);
	ASSERT_EQ(0, slot_loan(self->fd3, &self->pend[i].slot));
	self->pend[i].id = self->next_id++;
	self->pend[i].zero = self->zero;
	if (!self->zero)
		payload_fill(slot_ptr(self, self->pend[i].slot),
			     self->pend[i].id, SHM_LEN);
	ASSERT_EQ(0, slot_send(self->fd3, self->pend[i].slot, SHM_LEN,
			       SHM_PRIO));
	self->npend++;
	self->sh_sent++;
	self->d_bytes += IPCCHAN_MSG_OVERHEAD;
}

/* The head of fd2's queue is pend[0], intact (peeked); its seq. */
static void pend_peek(struct __test_metadata *_metadata, fix_t *self,
		      __u64 *seq)
{
	struct ipcchan_recv r;

	ASSERT_LT(0, self->npend);
	ASSERT_EQ(SHM_LEN, chan_recv(self->fd2, shm_buf[0], SHM_SLOT,
				     IPCCHAN_NONBLOCK | IPCCHAN_RECV_PEEK, &r));
	ASSERT_EQ(SHM_PRIO, r.prio);
	ASSERT_TRUE(pend_ok(self, 0, shm_buf[0]));
	*seq = r.seq;
}

/* Punch the pages of the queued slots: a copy-out must allocate them. */
static void pend_punch(struct __test_metadata *_metadata, fix_t *self)
{
	int i;

	for (i = 0; self->zero && i < self->npend; i++) {
		ASSERT_EQ(0, madvise(slot_ptr(self, self->pend[i].slot),
				     SHM_SLOT, MADV_REMOVE));
	}
}

/* Take pend[0] with RECV_SLOT, check it, release it. */
static void pend_take(struct __test_metadata *_metadata, fix_t *self)
{
	struct ipcchan_recv r;
	__u32 slot;

	ASSERT_EQ(SHM_LEN, slot_recv(self->fd2, &slot, &r));
	ASSERT_EQ(self->pend[0].slot, slot);
	ASSERT_TRUE(pend_ok(self, 0, slot_ptr(self, slot)));
	ASSERT_EQ(0, slot_release(self->fd2, slot));
	pend_pop(self, 1);
}

/* End of a shared-page test: everything queued comes out, in order, intact. */
static void shm_finish(struct __test_metadata *_metadata, fix_t *self)
{
	struct ipcchan_region_info ri;
	struct ipcchan_recv r;
	__u32 slot;

	while (self->npend)
		pend_take(_metadata, self);
	if (self->held_tx) {
		ASSERT_EQ(0, slot_release(self->fd3, self->tslot));
	}
	self->held_tx = 0;
	ASSERT_EQ(100, chan_recv(self->fd2, shm_buf[0], SHM_SLOT,
				 IPCCHAN_NONBLOCK, &r));
	ASSERT_TRUE(payload_ok(shm_buf[0], SHM_BG_ID, 100));
	ASSERT_EQ(SHM_LEN, slot_recv(self->fd2, &slot, &r));
	ASSERT_EQ(self->bg_slot, slot);
	ASSERT_TRUE(payload_ok(slot_ptr(self, slot), SHM_BG_ID + 1, SHM_LEN));
	ASSERT_EQ(0, slot_release(self->fd2, slot));
	ASSERT_EQ(-EAGAIN, chan_recv(self->fd2, shm_buf[0], SHM_SLOT,
				     IPCCHAN_NONBLOCK, &r));
	ASSERT_EQ(0, region_info(self->fd2, &ri));
	ASSERT_EQ(SHM_SLOTS, ri.slots_free);
	ASSERT_EQ(0, ri.slots_reclaimed);
	ASSERT_EQ(0, munmap(self->map, SHM_REGION));
	self->map = NULL;
	close_fd(&self->fd2);
	close_fd(&self->fd3);
}

/* ---- CREATE, OPEN CREATE with a region -------------------------------- */

static void prep_create_shm(struct __test_metadata *_metadata, fix_t *self)
{
	prep_create(_metadata, self);
	shm_attrs_create(&self->cr);
}

/* Nothing created, charged or installed on failure (snap_same); else one region. */
static void after_create_shm(struct __test_metadata *_metadata, fix_t *self,
			     long ret)
{
	int duplex = !!(self->cflags & IPCCHAN_CREATE_DUPLEX);
	int *fds = self->cr.fds;
	struct ipcchan_query q;

	if (ret < 0) {
		ASSERT_EQ(-1, fds[0]);
		ASSERT_EQ(-1, fds[1]);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(SHM_REGION, self->cr.region_size);
	ASSERT_EQ(SHM_SLOT, self->cr.slot_size);
	ASSERT_EQ(SHM_SEMS, self->cr.nr_sems);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	ASSERT_EQ(self->s1.nr_channels + 1 + duplex, q.nr_channels);
	/* One region, also for a duplex pair. */
	ASSERT_EQ(self->s1.user_region_bytes + SHM_REGION, q.user_region_bytes);
	ASSERT_EQ(self->s1.nfd + 2, count_fds());
	shm_fresh_usable(_metadata, fds[1], fds[0], 13);
	if (duplex)
		shm_fresh_usable(_metadata, fds[0], fds[1], 14);
	close(fds[0]);
	close(fds[1]);
}

static const struct fpath path_create_shm = {
	.name = "CREATE (region, slots, semaphores)",
	.prepare = prep_create_shm,
	.call = call_create,
	.after = after_create_shm,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_create_duplex_shm = {
	.name = "CREATE DUPLEX (region, slots, semaphores)",
	.prepare = prep_create_shm,
	.call = call_create,
	.after = after_create_shm,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, create_shm, 300)
{
	self->cflags = IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_create_shm);
}

TEST_F_TIMEOUT(fault, create_duplex_shm, 300)
{
	self->cflags = IPCCHAN_FD_CLOEXEC | IPCCHAN_CREATE_DUPLEX;
	run_path(_metadata, self, &path_create_duplex_shm);
}

static void prep_open_shm(struct __test_metadata *_metadata, fix_t *self)
{
	prep_open(_metadata, self);
	self->op.region_size = SHM_REGION;
	self->op.slot_size = SHM_SLOT;
	self->op.nr_sems = SHM_SEMS;
}

static void after_open_create_shm(struct __test_metadata *_metadata,
				  fix_t *self, long ret)
{
	struct ipcchan_region_info ri;
	struct ipcchan_query q;
	int fd;

	if (ret < 0) {
		ASSERT_EQ(-1, self->op.fd);
		fd = chan_open(self->ctl, self->name,
			       IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0);
		if (fd < 0) {
			ASSERT_EQ(-ENOENT, fd);
			return;
		}
		/* Only a failed write-back leaves the channel: with its region. */
		ASSERT_EQ(-EFAULT, ret)
			TH_LOG("a failed OPEN|CREATE (%s) left its channel",
			       strerror(-ret));
		ASSERT_EQ(0, region_info(fd, &ri));
		ASSERT_EQ(SHM_REGION, ri.region_size);
		ASSERT_EQ(0, chan_query(self->ctl, &q));
		ASSERT_EQ(self->s1.user_region_bytes + SHM_REGION,
			  q.user_region_bytes);
		close(fd);
		ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, self->op.created);
	ASSERT_LE(0, self->op.fd);
	ASSERT_EQ(SHM_REGION, self->op.region_size);
	ASSERT_EQ(SHM_SLOT, self->op.slot_size);
	ASSERT_EQ(SHM_SEMS, self->op.nr_sems);
	ASSERT_EQ(0, chan_query(self->ctl, &q));
	ASSERT_EQ(self->s1.user_region_bytes + SHM_REGION, q.user_region_bytes);
	shm_fresh_usable(_metadata, self->op.fd, self->op.fd, 23);
	close(self->op.fd);
	ASSERT_EQ(0, chan_unlink(self->ctl, self->name));
}

static const struct fpath path_open_create_shm = {
	.name = "OPEN CREATE (region, slots, semaphores)",
	.prepare = prep_open_shm,
	.call = call_open,
	.after = after_open_create_shm,
	.errs = { ENOMEM, EFAULT },
	.efault_keeps = 1,
};

TEST_F_TIMEOUT(fault, open_create_shm, 300)
{
	self->name = "fi-open-create-shm";
	self->cflags = IPCCHAN_OPEN_CREATE | IPCCHAN_OPEN_SEND |
		       IPCCHAN_OPEN_RECV | IPCCHAN_FD_CLOEXEC;
	run_path(_metadata, self, &path_open_create_shm);
	self->name = NULL;
}

/* ---- mmap ------------------------------------------------------------- */

/* self->flags: the mapping's PROT_*; self->cflags: extra MAP_* flags. */
static void prep_mmap(struct __test_metadata *_metadata, fix_t *self)
{
	int i;

	self->map2 = MAP_FAILED;
	/* MAP_POPULATE: the last slots have no pages, populating allocates. */
	if (self->cflags & MAP_POPULATE)
		for (i = SHM_SLOTS - 2; i < SHM_SLOTS; i++) {
			ASSERT_EQ(0, madvise(slot_ptr(self, i), SHM_SLOT,
					     MADV_REMOVE));
		}
}

static long call_mmap(fix_t *self)
{
	int fd = self->flags & PROT_WRITE ? self->fd3 : self->fd2;

	self->map2 = mmap(NULL, SHM_REGION, self->flags,
			  MAP_SHARED | self->cflags, fd, 0);
	return self->map2 == MAP_FAILED ? -errno : 0;
}

/* Failed: no mapping left. Else it maps the region: the same bytes. */
static void after_mmap(struct __test_metadata *_metadata, fix_t *self,
		       long ret)
{
	unsigned char *m = self->map2;
	size_t last = (size_t)(SHM_SLOTS - 1) * SHM_SLOT;

	if (ret < 0) {
		ASSERT_EQ(self->nmaps, maps_count());
		shm_check(_metadata, self);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(self->nmaps + 1, maps_count());
	ASSERT_TRUE(payload_ok(m + (size_t)self->bg_slot * SHM_SLOT,
			       SHM_BG_ID + 1, SHM_LEN));
	if (self->flags & PROT_WRITE) {
		m[last] = (unsigned char)(self->sh_probes + 1);
		ASSERT_EQ(m[last], self->map[last]);
	}
	self->map[last + 1] = (unsigned char)(self->sh_probes + 2);
	ASSERT_EQ(self->map[last + 1], m[last + 1]);
	ASSERT_EQ(0, munmap(m, SHM_REGION));
	self->map2 = MAP_FAILED;
	shm_check(_metadata, self);
}

/* mmap(2) documents ENOMEM (and EAGAIN for locked memory, not asked for). */
static const struct fpath path_mmap_rw = {
	.name = "mmap (read-write, sending endpoint)",
	.prepare = prep_mmap,
	.call = call_mmap,
	.after = after_mmap,
	.errs = { ENOMEM },
};

static const struct fpath path_mmap_ro = {
	.name = "mmap (read-only, receiving endpoint)",
	.prepare = prep_mmap,
	.call = call_mmap,
	.after = after_mmap,
	.errs = { ENOMEM },
};

static const struct fpath path_mmap_populate = {
	.name = "mmap MAP_POPULATE (shmem allocates pages)",
	.prepare = prep_mmap,
	.call = call_mmap,
	.after = after_mmap,
	.errs = { ENOMEM },
};

TEST_F_TIMEOUT(fault, mmap_rw, 300)
{
	shm_setup(_metadata, self);
	self->flags = PROT_READ | PROT_WRITE;
	self->cflags = 0;
	run_path(_metadata, self, &path_mmap_rw);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, mmap_ro, 300)
{
	shm_setup(_metadata, self);
	self->flags = PROT_READ;
	self->cflags = 0;
	run_path(_metadata, self, &path_mmap_ro);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, mmap_populate, 300)
{
	shm_setup(_metadata, self);
	self->flags = PROT_READ | PROT_WRITE;
	self->cflags = MAP_POPULATE;
	run_path(_metadata, self, &path_mmap_populate);
	shm_finish(_metadata, self);
}

/* ---- REGION_INFO ------------------------------------------------------ */

static void prep_region_info(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->ri, 0, sizeof(self->ri));
}

static long call_region_info(fix_t *self)
{
	return chan_ioctl(self->fd2, IPCCHAN_IOC_REGION_INFO, &self->ri);
}

static void after_region_info(struct __test_metadata *_metadata, fix_t *self,
			      long ret)
{
	const struct ipcchan_region_info *ri = &self->ri;

	if (ret >= 0) {
		ASSERT_EQ(0, ret);
		ASSERT_EQ(SHM_REGION, ri->region_size);
		ASSERT_EQ(SHM_SLOT, ri->slot_size);
		ASSERT_EQ(SHM_SLOTS, ri->nr_slots);
		ASSERT_EQ(SHM_SEMS, ri->nr_sems);
		/* fd2 only receives. */
		ASSERT_EQ(IPCCHAN_PROT_READ, ri->prot);
		ASSERT_EQ(ri->nr_slots, ri->slots_free + ri->slots_held +
			  ri->slots_in_flight);
		ASSERT_EQ(1, ri->slots_in_flight);
		ASSERT_EQ(0, ri->slots_held_here);
	}
	shm_check(_metadata, self);
}

static const struct fpath path_region_info = {
	.name = "REGION_INFO",
	.prepare = prep_region_info,
	.call = call_region_info,
	.after = after_region_info,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, region_info, 300)
{
	shm_setup(_metadata, self);
	run_path(_metadata, self, &path_region_info);
	shm_finish(_metadata, self);
}

/* ---- SLOT_LOAN, SLOT_RELEASE ------------------------------------------ */

static void prep_loan(struct __test_metadata *_metadata, fix_t *self)
{
	(void)_metadata;
	memset(&self->ln, 0, sizeof(self->ln));
	self->ln.flags = IPCCHAN_NONBLOCK;
	self->ln.slot = 0xdead;
}

static long call_loan(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SLOT_LOAN, &self->ln);
}

/* Failed: the slot (if one was taken) is free again; else fd3 holds it. */
static void after_loan(struct __test_metadata *_metadata, fix_t *self,
		       long ret)
{
	if (ret < 0) {
		shm_check(_metadata, self);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_GT(SHM_SLOTS, self->ln.slot);
	ASSERT_NE(self->bg_slot, self->ln.slot);
	ASSERT_EQ((__u64)self->ln.slot * SHM_SLOT, self->ln.offset);
	ASSERT_EQ(SHM_SLOT, self->ln.size);
	self->held_tx = 1;
	self->tslot = self->ln.slot;
	shm_check(_metadata, self);
	ASSERT_EQ(0, slot_release(self->fd3, self->tslot));
	self->held_tx = 0;
}

static const struct fpath path_loan = {
	.name = "SLOT_LOAN",
	.prepare = prep_loan,
	.call = call_loan,
	.after = after_loan,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, slot_loan, 300)
{
	shm_setup(_metadata, self);
	run_path(_metadata, self, &path_loan);
	shm_finish(_metadata, self);
}

static void prep_release(struct __test_metadata *_metadata, fix_t *self)
{
	if (!self->held_tx) {
		ASSERT_EQ(0, slot_loan(self->fd3, &self->tslot));
		self->held_tx = 1;
	}
	memset(&self->rl, 0, sizeof(self->rl));
	self->rl.slot = self->tslot;
}

static long call_release(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SLOT_RELEASE, &self->rl);
}

/* Failed: fd3 still holds the slot (shm_check). */
static void after_release(struct __test_metadata *_metadata, fix_t *self,
			  long ret)
{
	if (ret >= 0) {
		ASSERT_EQ(0, ret);
		self->held_tx = 0;
	}
	shm_check(_metadata, self);
}

static const struct fpath path_release = {
	.name = "SLOT_RELEASE",
	.prepare = prep_release,
	.call = call_release,
	.after = after_release,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, slot_release, 300)
{
	shm_setup(_metadata, self);
	run_path(_metadata, self, &path_release);
	shm_finish(_metadata, self);
}

/* ---- SEND SLOT -------------------------------------------------------- */

static void prep_send_slot(struct __test_metadata *_metadata, fix_t *self)
{
	if (!self->held_tx) {
		ASSERT_EQ(0, slot_loan(self->fd3, &self->tslot));
		self->held_tx = 1;
	}
	self->cur_id = self->next_id++;
	payload_fill(slot_ptr(self, self->tslot), self->cur_id, SHM_LEN);
	memset(&self->sd, 0, sizeof(self->sd));
	self->sd.flags = IPCCHAN_SEND_SLOT | IPCCHAN_NONBLOCK;
	self->sd.slot = self->tslot;
	self->sd.len = SHM_LEN;
	self->sd.prio = SHM_PRIO;
}

static long call_send_slot(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SEND, &self->sd);
}

/*
 * Failed: nothing queued and the slot is still held by the sender
 * (shm_check). Sent: it is in flight, and the receiver gets that slot.
 */
static void after_send_slot(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	if (ret < 0) {
		shm_check(_metadata, self);
		return;
	}
	ASSERT_EQ(0, ret);
	self->held_tx = 0;
	self->pend[0].slot = self->tslot;
	self->pend[0].id = self->cur_id;
	self->pend[0].zero = 0;
	self->npend = 1;
	self->sh_sent++;
	self->d_bytes += IPCCHAN_MSG_OVERHEAD;
	shm_check(_metadata, self);
	pend_take(_metadata, self);
	shm_check(_metadata, self);
}

static const struct fpath path_send_slot = {
	.name = "SEND SLOT",
	.prepare = prep_send_slot,
	.call = call_send_slot,
	.after = after_send_slot,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, send_slot, 300)
{
	shm_setup(_metadata, self);
	run_path(_metadata, self, &path_send_slot);
	shm_finish(_metadata, self);
}

/* ---- RECV of slot messages -------------------------------------------- */

/* self->cflags: the receive's flags; self->zero: punched pages. */
static void prep_recv_shm(struct __test_metadata *_metadata, fix_t *self)
{
	if (!self->npend)
		pend_queue(_metadata, self);
	pend_punch(_metadata, self);
	pend_peek(_metadata, self, &self->seq_head);
	/* After the peek, which copied the pages in. */
	pend_punch(_metadata, self);
	memset(&self->rv, 0, sizeof(self->rv));
	memset(shm_buf[0], 0xa5, SHM_SLOT);
	self->rv.flags = self->cflags | IPCCHAN_NONBLOCK;
	self->rv.buf = ptr64(shm_buf[0]);
	self->rv.len = SHM_SLOT;
	self->rv.slot = 0xdead;
}

static long call_recv_shm(fix_t *self)
{
	return chan_ioctl(self->fd2, IPCCHAN_IOC_RECV, &self->rv);
}

static void after_recv_shm(struct __test_metadata *_metadata, fix_t *self,
			   long ret)
{
	int slot = !!(self->cflags & IPCCHAN_RECV_SLOT);
	__u64 seq;

	if (ret < 0) {
		/* The slot message stays queued, in flight, in its place. */
		shm_check(_metadata, self);
		pend_peek(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
		return;
	}
	ASSERT_EQ(SHM_LEN, ret);
	ASSERT_EQ(SHM_LEN, self->rv.len);
	ASSERT_EQ(SHM_PRIO, self->rv.prio);
	ASSERT_EQ(self->seq_head, self->rv.seq);
	if (slot) {
		ASSERT_EQ(self->pend[0].slot, self->rv.slot);
		ASSERT_TRUE(pend_ok(self, 0, slot_ptr(self, self->rv.slot)));
	} else {
		ASSERT_EQ(0, self->rv.slot);
		ASSERT_TRUE(pend_ok(self, 0, shm_buf[0]));
	}
	if (self->cflags & IPCCHAN_RECV_PEEK) {
		pend_peek(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
		shm_check(_metadata, self);
		return;
	}
	/* Received: held by fd2 with RECV_SLOT, else back in the pool. */
	self->held_rx = slot;
	pend_pop(self, 1);
	shm_check(_metadata, self);
	if (slot) {
		ASSERT_EQ(0, slot_release(self->fd2, self->rv.slot));
	}
	self->held_rx = 0;
}

static const struct fpath path_recv_slot = {
	.name = "RECV SLOT",
	.prepare = prep_recv_shm,
	.call = call_recv_shm,
	.after = after_recv_shm,
	.errs = { EFAULT },
};

static const struct fpath path_recv_copy = {
	.name = "RECV (slot message: copied out of the region)",
	.prepare = prep_recv_shm,
	.call = call_recv_shm,
	.after = after_recv_shm,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_recv_copy_peek = {
	.name = "RECV PEEK (slot message)",
	.prepare = prep_recv_shm,
	.call = call_recv_shm,
	.after = after_recv_shm,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_recv_copy_zero = {
	.name = "RECV (slot message, no pages yet: shmem allocates them)",
	.prepare = prep_recv_shm,
	.call = call_recv_shm,
	.after = after_recv_shm,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, recv_slot, 300)
{
	shm_setup(_metadata, self);
	self->cflags = IPCCHAN_RECV_SLOT;
	run_path(_metadata, self, &path_recv_slot);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, recv_slot_copy, 300)
{
	shm_setup(_metadata, self);
	self->cflags = 0;
	run_path(_metadata, self, &path_recv_copy);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, recv_slot_peek, 300)
{
	shm_setup(_metadata, self);
	self->cflags = IPCCHAN_RECV_PEEK;
	run_path(_metadata, self, &path_recv_copy_peek);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, recv_slot_copy_unpopulated, 300)
{
	shm_setup(_metadata, self);
	self->cflags = 0;
	self->zero = 1;
	run_path(_metadata, self, &path_recv_copy_zero);
	shm_finish(_metadata, self);
}

static void prep_recv_batch_shm(struct __test_metadata *_metadata,
				fix_t *self)
{
	int i;

	while (self->npend < SHM_PEND_MAX)
		pend_queue(_metadata, self);
	pend_peek(_metadata, self, &self->seq_head);
	memset(self->hdr, 0, sizeof(self->hdr));
	for (i = 0; i < SHM_PEND_MAX; i++) {
		memset(shm_buf[i], 0xa5, SHM_SLOT);
		self->hdr[i].buf = ptr64(shm_buf[i]);
		self->hdr[i].len = SHM_SLOT;
	}
	memset(&self->bt, 0, sizeof(self->bt));
	self->bt.flags = IPCCHAN_NONBLOCK;
	self->bt.msgs = ptr64(self->hdr);
	self->bt.count = SHM_PEND_MAX;
	self->bt.done = 0xdead;
}

static long call_recv_batch_shm(fix_t *self)
{
	return chan_ioctl(self->fd2, IPCCHAN_IOC_RECV_BATCH, &self->bt);
}

static void after_recv_batch_shm(struct __test_metadata *_metadata,
				 fix_t *self, long ret)
{
	__u64 seq;
	int i;

	if (ret < 0) {
		pend_peek(_metadata, self, &seq);
		ASSERT_EQ(self->seq_head, seq);
		shm_check(_metadata, self);
		return;
	}
	ASSERT_EQ((__u32)ret, self->bt.done);
	ASSERT_GE(SHM_PEND_MAX, ret);
	ASSERT_LT(0, ret);
	if (!self->injected) {
		ASSERT_EQ(SHM_PEND_MAX, ret);
	}
	ASSERT_EQ(self->seq_head, self->hdr[0].seq);
	for (i = 0; i < ret; i++) {
		ASSERT_EQ(SHM_LEN, self->hdr[i].len);
		ASSERT_EQ(SHM_PRIO, self->hdr[i].prio);
		ASSERT_TRUE(pend_ok(self, i, shm_buf[i]));
	}
	/* Exactly the first ret went, their slots back in the pool. */
	pend_pop(self, ret);
	if (ret < SHM_PEND_MAX)
		batch_short(self);
	shm_check(_metadata, self);
}

static const struct fpath path_recv_batch_shm = {
	.name = "RECV_BATCH (slot messages)",
	.prepare = prep_recv_batch_shm,
	.call = call_recv_batch_shm,
	.after = after_recv_batch_shm,
	.errs = { ENOMEM, EFAULT },
};

TEST_F_TIMEOUT(fault, recv_batch_slot, 300)
{
	shm_setup(_metadata, self);
	run_path(_metadata, self, &path_recv_batch_shm);
	shm_finish(_metadata, self);
}

/* ---- SEM -------------------------------------------------------------- */

/* self->flags: the op; on semaphore 1 of fd3 (WAIT: posted first). */
static void prep_sem(struct __test_metadata *_metadata, fix_t *self)
{
	if (self->flags == IPCCHAN_SEM_WAIT && !self->semv[1]) {
		ASSERT_EQ(2, sem_op(self->fd3, IPCCHAN_SEM_POST, 1, 2, 0));
		self->semv[1] = 2;
	}
	memset(&self->sm, 0, sizeof(self->sm));
	self->sm.op = self->flags;
	self->sm.index = 1;
	self->sm.count = self->flags == IPCCHAN_SEM_POST ? 3 : 0;
	if (self->flags == IPCCHAN_SEM_WAIT)
		self->sm.flags = IPCCHAN_NONBLOCK;
	self->sm.value = 0xdeadbeef;
}

static long call_sem(fix_t *self)
{
	return chan_ioctl(self->fd3, IPCCHAN_IOC_SEM, &self->sm);
}

/*
 * Failed: the value is unchanged (shm_check). A POST whose result could
 * not be written back has posted and returns 0 (the header).
 */
static void after_sem(struct __test_metadata *_metadata, fix_t *self,
		      long ret)
{
	if (ret >= 0) {
		ASSERT_EQ(0, ret);
		if (self->flags == IPCCHAN_SEM_POST)
			self->semv[1] += 3;
		else if (self->flags == IPCCHAN_SEM_WAIT)
			self->semv[1]--;
		if (!self->injected) {
			ASSERT_EQ(self->semv[1], self->sm.value);
		}
	}
	shm_check(_metadata, self);
}

static const struct fpath path_sem_post = {
	.name = "SEM POST",
	.prepare = prep_sem,
	.call = call_sem,
	.after = after_sem,
	.errs = { EFAULT },
};

static const struct fpath path_sem_wait = {
	.name = "SEM WAIT",
	.prepare = prep_sem,
	.call = call_sem,
	.after = after_sem,
	.errs = { EFAULT },
};

static const struct fpath path_sem_getvalue = {
	.name = "SEM GETVALUE",
	.prepare = prep_sem,
	.call = call_sem,
	.after = after_sem,
	.errs = { EFAULT },
};

TEST_F_TIMEOUT(fault, sem_post, 300)
{
	shm_setup(_metadata, self);
	self->flags = IPCCHAN_SEM_POST;
	run_path(_metadata, self, &path_sem_post);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, sem_wait, 300)
{
	shm_setup(_metadata, self);
	self->flags = IPCCHAN_SEM_WAIT;
	run_path(_metadata, self, &path_sem_wait);
	shm_finish(_metadata, self);
}

TEST_F_TIMEOUT(fault, sem_getvalue, 300)
{
	shm_setup(_metadata, self);
	ASSERT_EQ(7, sem_op(self->fd3, IPCCHAN_SEM_POST, 1, 7, 0));
	self->semv[1] = 7;
	self->flags = IPCCHAN_SEM_GETVALUE;
	run_path(_metadata, self, &path_sem_getvalue);
	shm_finish(_metadata, self);
}

/*
 * The first UNDO operation of an endpoint file allocates its undo record:
 * each attempt opens a new endpoint (fd4) of a named channel held by
 * self->hold, operates on semaphore 0 through it, then closes it, which
 * undoes what a successful operation did.
 */
static void prep_sem_undo(struct __test_metadata *_metadata, fix_t *self)
{
	long v = sem_value(self->hold, 0);

	ASSERT_LE(0, v);
	if (self->flags == IPCCHAN_SEM_WAIT && !v) {
		ASSERT_EQ(1, sem_op(self->hold, IPCCHAN_SEM_POST, 0, 1, 0));
		v = 1;
	}
	self->sem_before = v;
	self->fd4 = chan_open(self->ctl, self->name,
			      IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0);
	ASSERT_LE(0, self->fd4);
	self->d_fds++;
	memset(&self->sm, 0, sizeof(self->sm));
	self->sm.op = self->flags;
	self->sm.flags = IPCCHAN_SEM_UNDO;
	self->sm.count = self->flags == IPCCHAN_SEM_POST ? 2 : 0;
	if (self->flags == IPCCHAN_SEM_WAIT)
		self->sm.flags |= IPCCHAN_NONBLOCK;
	self->sm.value = 0xdeadbeef;
}

/* The named channel held by self->hold: no slot in use, and it works. */
static void shm_fresh_usable_named(struct __test_metadata *_metadata,
				   fix_t *self)
{
	slots_expect(_metadata, self->hold, 0, 0, 0, "named");
	shm_round_trip(_metadata, self->hold, self->hold, 33);
}

static long call_sem_undo(fix_t *self)
{
	return chan_ioctl(self->fd4, IPCCHAN_IOC_SEM, &self->sm);
}

static void after_sem_undo(struct __test_metadata *_metadata, fix_t *self,
			   long ret)
{
	long want = self->sem_before;

	if (ret >= 0) {
		ASSERT_EQ(0, ret);
		want += self->flags == IPCCHAN_SEM_POST ? 2 : -1;
		if (!self->injected) {
			ASSERT_EQ(want, self->sm.value);
		}
	}
	ASSERT_EQ(want, sem_value(self->hold, 0))
		TH_LOG("%s", ret < 0 ? "a failed operation changed the value" :
		       "the operation");
	close_fd(&self->fd4);
	self->d_fds--;
	/* The endpoint's release undid what it did, and only that. */
	ASSERT_EQ(self->sem_before, sem_value(self->hold, 0))
		TH_LOG("undo on close");
	shm_fresh_usable_named(_metadata, self);
}

static const struct fpath path_sem_post_undo = {
	.name = "SEM POST UNDO (the endpoint's first: allocates its undo)",
	.prepare = prep_sem_undo,
	.call = call_sem_undo,
	.after = after_sem_undo,
	.errs = { ENOMEM, EFAULT },
};

static const struct fpath path_sem_wait_undo = {
	.name = "SEM WAIT UNDO (the endpoint's first: allocates its undo)",
	.prepare = prep_sem_undo,
	.call = call_sem_undo,
	.after = after_sem_undo,
	.errs = { ENOMEM, EFAULT },
};

static void shm_named_hold(struct __test_metadata *_metadata, fix_t *self,
			   const char *name)
{
	self->name = name;
	self->hold = shm_named_open(self->ctl, name, IPCCHAN_OPEN_CREATE |
			      IPCCHAN_OPEN_EXCL);
	ASSERT_LE(0, self->hold);
}

TEST_F_TIMEOUT(fault, sem_post_undo, 300)
{
	shm_named_hold(_metadata, self, "fi-sem-post-undo");
	self->flags = IPCCHAN_SEM_POST;
	run_path(_metadata, self, &path_sem_post_undo);
	named_release(_metadata, self);
}

TEST_F_TIMEOUT(fault, sem_wait_undo, 300)
{
	shm_named_hold(_metadata, self, "fi-sem-wait-undo");
	self->flags = IPCCHAN_SEM_WAIT;
	run_path(_metadata, self, &path_sem_wait_undo);
	named_release(_metadata, self);
}

/* ---- close of an endpoint holding slots and undo ---------------------- */

#define CLOSE_SLOTS	2

static void prep_close_shm(struct __test_metadata *_metadata, fix_t *self)
{
	struct ipcchan_region_info ri;
	__u32 slot;
	int i;

	ASSERT_EQ(0, region_info(self->hold, &ri));
	self->reclaimed_before = ri.slots_reclaimed;
	self->fd4 = chan_open(self->ctl, self->name,
			      IPCCHAN_OPEN_SEND | IPCCHAN_OPEN_RECV, 0);
	ASSERT_LE(0, self->fd4);
	self->d_fds++;
	for (i = 0; i < CLOSE_SLOTS; i++) {
		ASSERT_EQ(0, slot_loan(self->fd4, &slot));
	}
	/* Semaphore 1: 4 posted with undo; semaphore 2: 1 taken with undo. */
	ASSERT_EQ(4, sem_op(self->fd4, IPCCHAN_SEM_POST, 1, 4, IPCCHAN_SEM_UNDO));
	ASSERT_EQ(1, sem_op(self->hold, IPCCHAN_SEM_POST, 2, 1, 0));
	ASSERT_EQ(0, sem_op(self->fd4, IPCCHAN_SEM_WAIT, 2, 0,
			    IPCCHAN_SEM_UNDO | IPCCHAN_NONBLOCK));
	slots_expect(_metadata, self->hold, 0, CLOSE_SLOTS, 0, "before close");
}

static long call_close_shm(fix_t *self)
{
	return close(self->fd4) ? -errno : 0;
}

/* Its slots are back in the pool (reclaimed), its undo applied. */
static void after_close_shm(struct __test_metadata *_metadata, fix_t *self,
			    long ret)
{
	struct ipcchan_region_info ri;

	ASSERT_EQ(0, ret);
	self->fd4 = -1;
	self->d_fds--;
	ASSERT_EQ(0, region_info(self->hold, &ri));
	ASSERT_EQ(SHM_SLOTS, ri.slots_free);
	ASSERT_EQ(0, ri.slots_held);
	ASSERT_EQ(0, ri.slots_in_flight);
	ASSERT_EQ(self->reclaimed_before + CLOSE_SLOTS, ri.slots_reclaimed);
	ASSERT_EQ(0, sem_value(self->hold, 1));
	ASSERT_EQ(1, sem_value(self->hold, 2));
	ASSERT_EQ(0, sem_op(self->hold, IPCCHAN_SEM_WAIT, 2, 0,
			    IPCCHAN_NONBLOCK));
	shm_fresh_usable_named(_metadata, self);
}

static const struct fpath path_close_shm = {
	.name = "close (endpoint holding slots and semaphore undo)",
	.prepare = prep_close_shm,
	.call = call_close_shm,
	.after = after_close_shm,
	.errs = { 0 },
};

TEST_F_TIMEOUT(fault, close_shm, 300)
{
	shm_named_hold(_metadata, self, "fi-close-shm");
	run_path(_metadata, self, &path_close_shm);
	named_release(_metadata, self);
}

/* ---- the summary (last) ----------------------------------------------- */

TEST_F_TIMEOUT(fault, summary, 60)
{
	int ret;

	if (!sum->inject) {
		printf("# fault-injection: off: no %s (kernel without CONFIG_FAULT_INJECTION); %u paths ran once each without injection, every check applied\n",
		       FAIL_NTH, sum->paths);
		ASSERT_LT(0, sum->paths);
		return;
	}
	printf("# fault-injection: %lu faults injected at %lu distinct (path, n) points over %u paths (%u ioctl paths, %u file operations; %u with fault points)\n",
	       sum->faults, sum->faults, sum->paths, sum->ioctls,
	       sum->paths - sum->ioctls, sum->paths_faulted);
	printf("# fault-injection: by kind: failslab %lu, fail_page_alloc %lu, fail_usercopy %lu; %lu failed the call (ENOMEM %lu, EFAULT %lu), %lu stopped a batch short, %lu absorbed; %lu calls in %.1f s\n",
	       sum->kind[K_SLAB], sum->kind[K_PAGE], sum->kind[K_COPY],
	       sum->failed, sum->enomem, sum->efault, sum->partial,
	       sum->absorbed, sum->calls, sum->ns / 1e9);
	fflush(stdout);
	ret = knobs_restore();
	EXPECT_EQ(0, ret) TH_LOG("could not restore the debugfs knobs");
	ASSERT_LT(0, sum->paths);
	ASSERT_LT(0, sum->faults);
	/* All three kinds of fault point were reached. */
	EXPECT_LT(0, sum->kind[K_SLAB]);
	EXPECT_LT(0, sum->kind[K_PAGE]);
	EXPECT_LT(0, sum->kind[K_COPY]);
}

TEST_HARNESS_MAIN
