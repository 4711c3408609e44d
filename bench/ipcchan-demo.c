// SPDX-License-Identifier: GPL-2.0
/*
 * ipcchan-demo: two programs talking through libipcchan.
 *
 * A parent and the child it forks share a duplex channel (each endpoint
 * sends to the other, like socketpair(2)). The parent sends a few
 * requests with priorities, the most urgent last; the child, which starts
 * reading only once they are all queued, gets them highest priority first,
 * asks who sent each one (RECV_CREDS) and answers. The parent then closes
 * its end, and the child sees end of channel.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libipcchan.h>

static const struct {
	const char *text;
	unsigned int prio;
} requests[] = {
	{ "hello", 1 },
	{ "how deep is the queue?", 1 },
	{ "URGENT: stop the press", 9 },
};

#define NREQ (sizeof(requests) / sizeof(requests[0]))

static int child(int fd, int go)
{
	struct ipcchan_recv r;
	struct ipcchan_stats st;
	char buf[128], c;
	ssize_t n;
	size_t i;

	/* Wait until the parent has queued everything, to show the order. */
	if (read(go, &c, 1) != 1)
		return 1;
	if (ipcchan_stats(fd, &st, 0) == 0)
		printf("child  %d: %llu messages waiting for me\n", getpid(),
		       (unsigned long long)st.queued_msgs);
	for (;;) {
		memset(&r, 0, sizeof(r));
		r.flags = IPCCHAN_RECV_CREDS;
		r.buf = (uintptr_t)buf;
		r.len = sizeof(buf) - 1;
		n = ipcchan_recv_msg(fd, &r);
		if (n < 0) {
			fprintf(stderr, "child: receive: %s\n", strerror((int)-n));
			return 1;
		}
		if (n == 0 && r.seq == 0) {
			printf("child  %d: end of channel, the parent is gone\n",
			       getpid());
			return 0;
		}
		buf[n] = '\0';
		printf("child  %d: got \"%s\" (priority %u, seq %llu, from pid %u uid %u)\n",
		       getpid(), buf, r.prio, (unsigned long long)r.seq, r.pid,
		       r.uid);
		for (i = 0; i < (size_t)n; i++)
			buf[i] = (char)toupper((unsigned char)buf[i]);
		n = ipcchan_send(fd, buf, (size_t)n, r.prio, 0);
		if (n < 0) {
			fprintf(stderr, "child: send: %s\n", strerror((int)-n));
			return 1;
		}
	}
}

int main(void)
{
	int ctl, fds[2], go[2], status, r;
	unsigned int prio;
	char buf[128];
	ssize_t n;
	size_t i;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = ipcchan_ctl_open(IPCCHAN_CTL_CLOEXEC);
	if (ctl < 0) {
		fprintf(stderr, "demo: %s: %s\n", IPCCHAN_DEVICE_PATH,
			strerror(-ctl));
		return 1;
	}
	r = ipcchan_create(ctl, IPCCHAN_FD_CLOEXEC | IPCCHAN_CREATE_DUPLEX,
			   NULL, fds);
	if (r < 0 || pipe(go)) {
		fprintf(stderr, "demo: create: %s\n", strerror(r < 0 ? -r : 0));
		return 1;
	}
	printf("parent %d: made a duplex channel: fds %d and %d\n", getpid(),
	       fds[0], fds[1]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(child(fds[1], go[0]));
	}
	close(fds[1]);
	for (i = 0; i < NREQ; i++) {
		r = ipcchan_send(fds[0], requests[i].text,
				 strlen(requests[i].text), requests[i].prio, 0);
		if (r < 0) {
			fprintf(stderr, "demo: send: %s\n", strerror(-r));
			return 1;
		}
		printf("parent %d: sent \"%s\" (priority %u)\n", getpid(),
		       requests[i].text, requests[i].prio);
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	for (i = 0; i < NREQ; i++) {
		n = ipcchan_recv(fds[0], buf, sizeof(buf) - 1, &prio, 0);
		if (n < 0) {
			fprintf(stderr, "demo: receive: %s\n", strerror((int)-n));
			return 1;
		}
		buf[n] = '\0';
		printf("parent %d: reply \"%s\" (priority %u)\n", getpid(), buf,
		       prio);
	}
	printf("parent %d: closing my end\n", getpid());
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "demo: the child failed\n");
		return 1;
	}
	printf("demo: ok\n");
	return 0;
}
