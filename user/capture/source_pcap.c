// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The libpcap sources: live capture on devices, and replay of pcap/pcapng files. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "lib/log.h"
#include "capture/privs.h"
#include "capture/source.h"

/* Headers in front of the payload at most: SLL2 + IPv6 + extension headers + TCP options. */
#define PCAP_HDR_ROOM 256
/* Longest a captured packet waits in a partly filled kernel block before we see it
 * (below SRC_HOLD_MS, which the final drain waits). */
#define PCAP_BATCH_MS 10

struct pcap_dev {
	pcap_t *p;
	int fd;
	int linktype;
	int ifindex;
};

struct source_pcap {
	struct source base;
	struct pcap_dev devs[SRC_MAX_DEVICES];
	int ndevs;
	struct port_filter pf;
	__u64 cnt[MP_CNT_MAX];
	int sink_err;
	int delivered;
};

/* Runs one frame through the parser and, if kept, the sink. */
static void on_frame(struct source_pcap *s, struct pcap_dev *d, const struct pcap_pkthdr *ph,
		     const __u8 *frame)
{
	struct mp_seg_hdr h;
	const __u8 *payload;
	int res;

	s->cnt[MP_CNT_SEEN]++;
	res = frame_parse(d->linktype, frame, ph->caplen, ph->len, &s->pf, &h, &payload);
	s->cnt[res]++;
	if (res != MP_CNT_KEPT || s->sink_err)
		return;
	if (h.caplen < h.len)
		s->cnt[MP_CNT_TRUNCATED]++;
	/* Opened with nanosecond precision, so tv_usec holds nanoseconds. */
	h.ts_ns = (__u64)ph->ts.tv_sec * 1000000000ULL + (__u64)ph->ts.tv_usec;
	h.ifindex = d->ifindex;
	s->delivered++;
	s->sink_err = s->base.sink.fn(s->base.sink.ctx, &h, payload);
}

/* The callback needs both the source and the device: pass a small pair. */
struct cb_arg {
	struct source_pcap *s;
	struct pcap_dev *d;
};

static void dispatch_cb(u_char *user, const struct pcap_pkthdr *ph, const u_char *bytes)
{
	struct cb_arg *a = (struct cb_arg *)user;

	on_frame(a->s, a->d, ph, bytes);
}

static int build_filter(const struct port_filter *pf, char *buf, size_t len)
{
	size_t n = snprintf(buf, len, "tcp and (");

	for (__u32 i = 0; i < pf->nports; i++)
		n += snprintf(buf + n, n < len ? len - n : 0, "%sport %u", i ? " or " : "",
			      pf->ports[i]);
	n += snprintf(buf + n, n < len ? len - n : 0, ")");
	return n < len ? 0 : -ENAMETOOLONG;
}

static int apply_filter(pcap_t *p, const struct port_filter *pf, const char *what)
{
	struct bpf_program prog;
	char expr[256];
	int err;

	err = build_filter(pf, expr, sizeof(expr));
	if (err)
		return err;
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		pr_warn("pcap: failed to compile filter for %s: %s\n", what, pcap_geterr(p));
		return -EINVAL;
	}
	err = pcap_setfilter(p, &prog) ? -EINVAL : 0;
	if (err)
		pr_warn("pcap: failed to set filter on %s: %s\n", what, pcap_geterr(p));
	pcap_freecode(&prog);
	return err;
}

static int live_poll(struct source *base, int timeout_ms)
{
	struct source_pcap *s = (struct source_pcap *)base;
	struct pollfd pfd[SRC_MAX_DEVICES];
	int n;

	for (int i = 0; i < s->ndevs; i++)
		pfd[i] = (struct pollfd){ .fd = s->devs[i].fd, .events = POLLIN };
	n = poll(pfd, s->ndevs, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	s->delivered = 0;
	for (int i = 0; i < s->ndevs; i++) {
		struct cb_arg a = { s, &s->devs[i] };

		if (!pfd[i].revents)
			continue;
		if (pcap_dispatch(s->devs[i].p, -1, dispatch_cb, (u_char *)&a) == PCAP_ERROR) {
			pr_warn("pcap: capture failed: %s\n", pcap_geterr(s->devs[i].p));
			return -EIO;
		}
	}
	if (s->sink_err)
		return s->sink_err;
	return s->delivered;
}

static void live_counters(struct source *base, __u64 out[MP_CNT_MAX])
{
	struct source_pcap *s = (struct source_pcap *)base;
	struct pcap_stat st;

	memcpy(out, s->cnt, sizeof(s->cnt));
	/* What the kernel's packet socket could not queue is our "dropped". */
	for (int i = 0; i < s->ndevs; i++)
		if (s->devs[i].fd >= 0 && pcap_stats(s->devs[i].p, &st) == 0)
			out[MP_CNT_RB_FULL] += st.ps_drop + st.ps_ifdrop;
}

static void pcap_free_src(struct source *base)
{
	struct source_pcap *s = (struct source_pcap *)base;

	for (int i = 0; i < s->ndevs; i++)
		if (s->devs[i].p)
			pcap_close(s->devs[i].p);
	free(s);
}

static const struct source_ops live_ops = {
	.name = "pcap",
	.poll = live_poll,
	.counters = live_counters,
	.free = pcap_free_src,
};

static int open_dev(struct source_pcap *s, const char *name, const struct source_config *cfg)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_dev *d = &s->devs[s->ndevs];
	int snap = cfg->pf.snaplen ? (int)cfg->pf.snaplen + PCAP_HDR_ROOM : 262144;
	int err;

	d->fd = -1;
	d->p = pcap_create(name, errbuf);
	if (!d->p) {
		pr_warn("pcap: failed to open %s: %s\n", name, errbuf);
		return -ENODEV;
	}
	s->ndevs++;
	pcap_set_snaplen(d->p, snap);
	/* Not immediate mode: that wakes us for every packet and makes libpcap fall back to
	 * TPACKET_V2; with a block timeout the kernel hands over a block of packets per wake-up
	 * (TPACKET_V3), and a quiet link still delivers within PCAP_BATCH_MS. */
	pcap_set_timeout(d->p, PCAP_BATCH_MS);
	pcap_set_buffer_size(d->p, (int)((cfg->ringbuf_mb ? cfg->ringbuf_mb : 32) << 20));
	pcap_set_tstamp_precision(d->p, PCAP_TSTAMP_PRECISION_NANO);
	err = pcap_activate(d->p);
	if (err < 0) {
		char caps[32];

		if (err == PCAP_ERROR_PERM_DENIED && privs_missing(PRIVS_PCAP, caps, sizeof(caps)) > 0)
			pr_warn("pcap: failed to activate %s: %s (missing %s)\n", name,
				pcap_geterr(d->p), caps);
		else
			pr_warn("pcap: failed to activate %s: %s\n", name, pcap_geterr(d->p));
		return err == PCAP_ERROR_PERM_DENIED ? -EPERM : -ENODEV;
	}
	d->linktype = pcap_datalink(d->p);
	if (!frame_linktype_ok(d->linktype)) {
		pr_warn("pcap: %s: unsupported link type %s\n", name,
			pcap_datalink_val_to_name(d->linktype));
		return -EPROTONOSUPPORT;
	}
	err = apply_filter(d->p, &cfg->pf, name);
	if (err)
		return err;
	if (pcap_setnonblock(d->p, 1, errbuf)) {
		pr_warn("pcap: failed to set %s non-blocking: %s\n", name, errbuf);
		return -EIO;
	}
	d->fd = pcap_get_selectable_fd(d->p);
	if (d->fd < 0) {
		pr_warn("pcap: %s has no selectable descriptor\n", name);
		return -EOPNOTSUPP;
	}
	return 0;
}

struct source *source_pcap_open(const struct source_config *cfg)
{
	struct source_pcap *s;
	int err = 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base.ops = &live_ops;
	s->pf = cfg->pf;
	for (int i = 0; i < cfg->ndevices && !err; i++)
		err = open_dev(s, cfg->devices[i], cfg);
	if (err) {
		pcap_free_src(&s->base);
		errno = -err;
		return NULL;
	}
	return &s->base;
}

/* --- replay of a capture file: same parser, the file's clock --- */

static int file_poll(struct source *base, int timeout_ms)
{
	struct source_pcap *s = (struct source_pcap *)base;
	struct cb_arg a = { s, &s->devs[0] };
	int n;

	(void)timeout_ms;
	s->delivered = 0;
	/* A bounded batch per call keeps the caller's loop responsive to signals. */
	n = pcap_dispatch(s->devs[0].p, 4096, dispatch_cb, (u_char *)&a);
	if (n == PCAP_ERROR) {
		pr_warn("pcap: failed to read capture file: %s\n", pcap_geterr(s->devs[0].p));
		return -EIO;
	}
	if (s->sink_err)
		return s->sink_err;
	if (n == 0)
		return -ENODATA;
	return s->delivered;
}

static void file_counters(struct source *base, __u64 out[MP_CNT_MAX])
{
	struct source_pcap *s = (struct source_pcap *)base;

	memcpy(out, s->cnt, sizeof(s->cnt));
}

static const struct source_ops file_ops = {
	.name = "file",
	.poll = file_poll,
	.counters = file_counters,
	.free = pcap_free_src,
};

struct source *source_file_open(const struct source_config *cfg)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct source_pcap *s;
	pcap_t *p;

	/* libpcap reads both pcap and pcapng. */
	p = pcap_open_offline_with_tstamp_precision(cfg->file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		pr_warn("pcap: failed to open %s: %s\n", cfg->file, errbuf);
		errno = ENOENT;
		return NULL;
	}
	if (!frame_linktype_ok(pcap_datalink(p))) {
		pr_warn("pcap: %s: unsupported link type %s\n", cfg->file,
			pcap_datalink_val_to_name(pcap_datalink(p)));
		pcap_close(p);
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pcap_close(p);
		return NULL;
	}
	s->base.ops = &file_ops;
	s->pf = cfg->pf;
	s->devs[0] = (struct pcap_dev){ .p = p, .fd = -1, .linktype = pcap_datalink(p) };
	s->ndevs = 1;
	return &s->base;
}
