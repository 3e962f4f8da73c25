// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The tc and xdp sources: loads bpf/capture.bpf.c, attaches it, drains its ring buffer. */
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "capture/source.h"

/* Our TC filter's identity. A fixed handle and priority let a new process
 * find (and replace) the filter a SIGKILLed one left behind. */
#define MP_TC_HANDLE 0x6d70 /* "mp" */
#define MP_TC_PRIO 0x6d70

/* tcx attach points (UAPI enum bpf_attach_type since Linux 6.6). Debian 12's headers and
 * libbpf 1.1 predate them (no bpf_program__attach_tcx), so the link is made with
 * bpf_link_create(), which passes unknown attach types through to the kernel. */
#define MP_BPF_TCX_INGRESS 46
#define MP_BPF_TCX_EGRESS 47

struct bpf_dev {
	char name[IF_NAMESIZE];
	int ifindex;			/* 0 while the device is gone */
	int attached;			/* our programs are on it now */
	int loopback;
	int tc_ingress, tc_egress, xdp; /* what we attached */
	int qdisc_owned;		/* we created (or adopted) the clsact qdisc */
	int tcx_fd[2];			/* tcx link fds (ingress, egress), -1 when none */
	__u32 xdp_flags;
};

struct source_bpf {
	struct source base;
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_dev devs[SRC_MAX_DEVICES];
	int ndevs;
	int mode;
	enum src_tc_attach tc_attach;	/* auto becomes tcx or netlink at the first attach */
	__s64 mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC at open */
	__u64 short_records;
	int ncpus;
	__u64 *percpu;
	int native;		/* xdp in driver mode */
	int nl_fd;		/* rtnetlink link events: a device went or came */
	uint64_t next_check_ms;	/* mono_ms() of the next check of the devices anyway */
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/*
	 * libbpf's own lines are for debugging: they speak of kernel internals, and some come on
	 * a normal start (a tc query that finds no filter yet). What failed and what the agent
	 * did about it is one line of ours (source_open(), with the step source_bpf_open()
	 * names), before the pcap fallback.
	 */
	(void)level;
	if (log_level < LOG_LVL_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static __s64 mono_to_real_offset(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((__s64)real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

static int dev_is_loopback(const char *name)
{
	struct ifreq ifr = {};
	int fd, lo = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		lo = !!(ifr.ifr_flags & IFF_LOOPBACK);
	close(fd);
	return lo;
}

/* Returns the pid of another process holding an fd to BPF program prog_id, or 0. */
static pid_t prog_holder(__u32 prog_id)
{
	char path[300], line[128];
	struct dirent *p, *f;
	DIR *proc, *fds;
	pid_t self = getpid(), found = 0;

	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		pid_t pid = atoi(p->d_name);

		if (pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			FILE *fi;

			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, f->d_name);
			fi = fopen(path, "re");
			if (!fi)
				continue;
			while (fgets(line, sizeof(line), fi))
				if (!strncmp(line, "prog_id:", 8) && (__u32)atol(line + 8) == prog_id)
					found = pid;
			fclose(fi);
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/*
 * Decides what to do with a program already attached where we want to be:
 * 0 when it is one of ours that no live process holds (a SIGKILLed agent's
 * leftover, safe to replace), -EBUSY otherwise (with the reason logged).
 */
static int check_existing(__u32 prog_id, const char *want, const char *dev)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	pid_t holder;
	int fd, err;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return 0; /* gone meanwhile */
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return err;
	if (strcmp(info.name, want)) {
		pr_warn("bpf: %s: program '%s' (id %u) is already attached there\n", dev, info.name,
			prog_id);
		return -EBUSY;
	}
	holder = prog_holder(prog_id);
	if (holder) {
		pr_warn("bpf: %s: already captured by a running mysqlprobe (pid %d)\n", dev, holder);
		return -EBUSY;
	}
	pr_info("bpf: %s: replacing a stale attachment (prog id %u)\n", dev, prog_id);
	return 0;
}

static int tc_netlink_attach(struct bpf_dev *d, enum bpf_tc_attach_point ap, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex, .attach_point = ap);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = MP_TC_HANDLE, .priority = MP_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = MP_TC_HANDLE, .priority = MP_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (!err)
		d->qdisc_owned = 1;
	else if (err != -EEXIST)
		return err;
	if (bpf_tc_query(&hook, &q) == 0) {
		err = check_existing(q.prog_id, "mp_tc", d->name);
		if (err)
			return err;
		/* A previous run created this qdisc: clean it up for it. */
		d->qdisc_owned = 1;
	}
	return bpf_tc_attach(&hook, &o);
}

/*
 * A tcx link appends our program to the device's list of TC programs instead of taking a
 * filter slot: other BPF tools and a second mysqlprobe keep theirs, and the link goes away
 * with its last fd, so a SIGKILLed agent leaves nothing behind.
 */
static int tcx_attach(struct bpf_dev *d, enum bpf_tc_attach_point ap, int prog_fd)
{
	int type = ap == BPF_TC_INGRESS ? MP_BPF_TCX_INGRESS : MP_BPF_TCX_EGRESS;
	int fd;

	fd = bpf_link_create(prog_fd, d->ifindex, type, NULL);
	if (fd < 0)
		return fd;
	d->tcx_fd[ap == BPF_TC_INGRESS ? 0 : 1] = fd;
	return 0;
}

static int tc_attach(struct source_bpf *s, struct bpf_dev *d, enum bpf_tc_attach_point ap,
		     int prog_fd)
{
	int err;

	if (s->tc_attach == SRC_TC_NETLINK)
		return tc_netlink_attach(d, ap, prog_fd);
	err = tcx_attach(d, ap, prog_fd);
	/* A kernel without tcx rejects the attach type itself (EINVAL). */
	if (s->tc_attach == SRC_TC_AUTO && (err == -EINVAL || err == -EOPNOTSUPP)) {
		pr_info("bpf: no tcx links on this kernel (%s): attaching netlink tc filters\n",
			strerror(-err));
		s->tc_attach = SRC_TC_NETLINK;
		return tc_netlink_attach(d, ap, prog_fd);
	}
	if (!err && s->tc_attach == SRC_TC_AUTO)
		pr_info("bpf: attaching TC programs through tcx links\n");
	if (!err)
		s->tc_attach = SRC_TC_TCX;
	return err;
}

static void tc_detach(struct bpf_dev *d, enum bpf_tc_attach_point ap)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex, .attach_point = ap);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = MP_TC_HANDLE, .priority = MP_TC_PRIO);
	int *fd = &d->tcx_fd[ap == BPF_TC_INGRESS ? 0 : 1];
	int err;

	if (*fd >= 0) {
		/* Closing our link detaches our program and nobody else's. */
		close(*fd);
		*fd = -1;
		return;
	}
	err = bpf_tc_detach(&hook, &o);
	if (err && err != -ENOENT)
		pr_warn("bpf: failed to detach tc filter from %s: %s\n", d->name, strerror(-err));
}

static int xdp_attach(struct bpf_dev *d, int prog_fd, int native)
{
	__u32 old = 0;
	int err;

	d->xdp_flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	if (bpf_xdp_query_id(d->ifindex, 0, &old) == 0 && old) {
		err = check_existing(old, "mp_xdp", d->name);
		if (err)
			return err;
	}
	/* Without XDP_FLAGS_UPDATE_IF_NOEXIST this replaces a stale program. */
	return bpf_xdp_attach(d->ifindex, prog_fd, d->xdp_flags, NULL);
}

static void xdp_detach(struct bpf_dev *d, int prog_fd)
{
	/* REPLACE with old_prog_fd: remove the program only if it is still ours. */
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = prog_fd);
	int err;

	err = bpf_xdp_attach(d->ifindex, -1, d->xdp_flags | XDP_FLAGS_REPLACE, &o);
	if (err)
		pr_warn("bpf: failed to detach xdp from %s: %s\n", d->name, strerror(-err));
}

static void dev_detach(struct source_bpf *s, struct bpf_dev *d)
{
	if (d->xdp)
		xdp_detach(d, bpf_program__fd(s->skel->progs.mp_xdp));
	if (d->tc_ingress)
		tc_detach(d, BPF_TC_INGRESS);
	if (d->tc_egress)
		tc_detach(d, BPF_TC_EGRESS);
	if (d->qdisc_owned) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
	d->xdp = d->tc_ingress = d->tc_egress = d->qdisc_owned = 0;
}

/*
 * Attaches to one device. Every segment must be seen once per direction: a
 * loopback device shows each packet on egress and again on ingress, so there
 * only the ingress hook is used (TC ingress, or XDP in xdp mode).
 */
static int dev_attach(struct source_bpf *s, struct bpf_dev *d, int native)
{
	int tc_fd = bpf_program__fd(s->skel->progs.mp_tc);
	int err;

	if (s->mode == SRC_XDP) {
		err = xdp_attach(d, bpf_program__fd(s->skel->progs.mp_xdp), native);
		if (err)
			return err;
		d->xdp = 1;
	} else {
		err = tc_attach(s, d, BPF_TC_INGRESS, tc_fd);
		if (err)
			return err;
		d->tc_ingress = 1;
	}
	if (d->loopback)
		return 0;
	err = tc_attach(s, d, BPF_TC_EGRESS, tc_fd);
	if (err)
		return err;
	d->tc_egress = 1;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct source_bpf *s = ctx;
	struct mp_seg_hdr h;

	if (size < sizeof(h)) {
		s->short_records++;
		return 0;
	}
	memcpy(&h, data, sizeof(h));
	if (h.caplen > size - sizeof(h))
		h.caplen = size - sizeof(h);
	h.ts_ns += s->mono_to_real;
	return s->base.sink.fn(s->base.sink.ctx, &h, (const __u8 *)data + sizeof(h));
}

/*
 * Devices come and go (a bond rebuilt, a veth recreated, a driver reloaded): the kernel
 * removes our programs with the device, and a new device of the same name starts bare. A
 * link event (rtnetlink) or, as a safety net, a second without one makes us compare each
 * device's current ifindex with the one we attached to; the event only wakes us, so no
 * netlink message needs parsing. A device that is gone is said once and reported by
 * source_devices(); when one of that name is back, we attach to it again.
 */
#define DEV_CHECK_MS 1000

static int link_events(struct source_bpf *s)
{
	char buf[8192];
	int any = 0;
	ssize_t n;

	if (s->nl_fd < 0)
		return 0;
	while ((n = recv(s->nl_fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) /* events were lost: re-check everything */
				any = 1;
			break;
		}
		any = 1;
	}
	return any;
}

static void dev_follow(struct source_bpf *s, struct bpf_dev *d)
{
	int idx = (int)if_nametoindex(d->name);
	int err;

	if (d->attached && idx == d->ifindex)
		return;
	if (d->attached) {
		/* The device we attached to is gone, and our programs with it. */
		pr_warn("bpf: device %s is gone: not capturing on it until it is back\n", d->name);
		for (int i = 0; i < 2; i++) {
			if (d->tcx_fd[i] >= 0)
				close(d->tcx_fd[i]);
			d->tcx_fd[i] = -1;
		}
		d->attached = d->xdp = d->tc_ingress = d->tc_egress = d->qdisc_owned = 0;
		d->ifindex = 0;
	}
	if (!idx)
		return;
	d->ifindex = idx;
	err = dev_attach(s, d, s->native);
	if (err) {
		dev_detach(s, d);
		d->ifindex = 0; /* try again at the next check */
		pr_debug("bpf: cannot attach to %s yet: %s\n", d->name, strerror(-err));
		return;
	}
	d->attached = 1;
	pr_warn("bpf: device %s is back (ifindex %d): capturing on it again\n", d->name, idx);
}

static void devs_follow(struct source_bpf *s)
{
	uint64_t now = mono_ms();

	if (!link_events(s) && now < s->next_check_ms)
		return;
	s->next_check_ms = now + DEV_CHECK_MS;
	for (int i = 0; i < s->ndevs; i++)
		dev_follow(s, &s->devs[i]);
}

static int bpf_devices(struct source *base, struct source_dev *out, int max)
{
	struct source_bpf *s = (struct source_bpf *)base;
	int i;

	for (i = 0; i < s->ndevs && i < max; i++) {
		snprintf(out[i].name, sizeof(out[i].name), "%s", s->devs[i].name);
		out[i].attached = s->devs[i].attached;
	}
	return i;
}

static int bpf_poll(struct source *base, int timeout_ms)
{
	struct source_bpf *s = (struct source_bpf *)base;
	int n;

	devs_follow(s);
	n = ring_buffer__poll(s->rb, timeout_ms);
	if (n == -EINTR)
		return 0;
	/* The kernel side wakes us only per 64 KiB batch: on a quiet link the
	 * timeout is what delivers the last records. */
	if (n == 0)
		n = ring_buffer__consume(s->rb);
	return n;
}

static void bpf_counters(struct source *base, __u64 out[MP_CNT_MAX])
{
	struct source_bpf *s = (struct source_bpf *)base;
	int fd = bpf_map__fd(s->skel->maps.counters);

	for (__u32 k = 0; k < MP_CNT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, s->percpu))
			continue;
		for (int c = 0; c < s->ncpus; c++)
			out[k] += s->percpu[c];
	}
}

static void bpf_free(struct source *base)
{
	struct source_bpf *s = (struct source_bpf *)base;

	for (int i = 0; i < s->ndevs; i++)
		if (s->devs[i].attached || s->devs[i].ifindex)
			dev_detach(s, &s->devs[i]);
	if (s->nl_fd >= 0)
		close(s->nl_fd);
	ring_buffer__free(s->rb);
	capture_bpf__destroy(s->skel);
	free(s->percpu);
	free(s);
}

static const struct source_ops tc_ops = {
	.name = "tc",
	.poll = bpf_poll,
	.counters = bpf_counters,
	.devices = bpf_devices,
	.free = bpf_free,
};

static const struct source_ops xdp_ops = {
	.name = "xdp",
	.poll = bpf_poll,
	.counters = bpf_counters,
	.devices = bpf_devices,
	.free = bpf_free,
};

static __u32 ringbuf_size(unsigned int mb)
{
	__u32 want = (mb ? mb : 32) << 20, sz = 1 << 20;

	while (sz < want && sz < (1u << 30))
		sz <<= 1;
	return sz;
}

static int bpf_load(struct source_bpf *s, const struct source_config *cfg)
{
	int err;

	s->skel = capture_bpf__open();
	if (!s->skel)
		return -errno;
	for (__u32 i = 0; i < cfg->pf.nports && i < MP_MAX_PORTS; i++)
		s->skel->rodata->mp_ports[i] = cfg->pf.ports[i];
	s->skel->rodata->mp_nports = cfg->pf.nports;
	s->skel->rodata->mp_snaplen = cfg->pf.snaplen && cfg->pf.snaplen < MP_MAX_CAPLEN ?
					      cfg->pf.snaplen : MP_MAX_CAPLEN;
	err = bpf_map__set_max_entries(s->skel->maps.events, ringbuf_size(cfg->ringbuf_mb));
	if (!err && cfg->mode != SRC_XDP)
		err = bpf_program__set_autoload(s->skel->progs.mp_xdp, false);
	if (err)
		return err;
	return capture_bpf__load(s->skel);
}

static int devs_attach(struct source_bpf *s, const struct source_config *cfg, char *step,
		       size_t len)
{
	int err;

	for (int i = 0; i < cfg->ndevices; i++) {
		struct bpf_dev *d = &s->devs[s->ndevs];

		snprintf(d->name, sizeof(d->name), "%s", cfg->devices[i]);
		d->tcx_fd[0] = d->tcx_fd[1] = -1;
		d->ifindex = if_nametoindex(d->name);
		if (!d->ifindex) {
			pr_warn("bpf: no such device '%s'\n", d->name);
			return -ENODEV;
		}
		d->loopback = dev_is_loopback(d->name);
		s->ndevs++;
		snprintf(step, len, "device %s: attach", d->name);
		err = dev_attach(s, d, cfg->xdp_native);
		if (err)
			return err;
		d->attached = 1;
	}
	return 0;
}

/* A socket that becomes readable when any link changes; -1 (and a check every second) if not. */
static int link_events_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_info("bpf: no link events (%s): devices are re-checked every second\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct source *source_bpf_open(const struct source_config *cfg, char *step, size_t len)
{
	struct source_bpf *s;
	int err;

	snprintf(step, len, "set up");

	libbpf_set_print(libbpf_log);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->mode = cfg->mode;
	s->native = cfg->xdp_native;
	s->tc_attach = cfg->tc_attach;
	s->nl_fd = -1;
	s->base.ops = cfg->mode == SRC_XDP ? &xdp_ops : &tc_ops;
	s->mono_to_real = mono_to_real_offset();
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		err = s->ncpus ? s->ncpus : -EINVAL;
		goto cleanup;
	}
	s->percpu = calloc(s->ncpus, sizeof(__u64));
	if (!s->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}
	snprintf(step, len, "BPF program: load");
	err = bpf_load(s, cfg);
	if (err)
		goto cleanup;
	/* Before attaching: an event between the two is then seen, not lost. */
	s->nl_fd = link_events_open();
	s->next_check_ms = mono_ms() + DEV_CHECK_MS;
	err = devs_attach(s, cfg, step, len);
	if (err)
		goto cleanup;
	snprintf(step, len, "ring buffer: open");
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		goto cleanup;
	}
	return &s->base;
cleanup:
	bpf_free(&s->base);
	errno = -err;
	return NULL;
}
