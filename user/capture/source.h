/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Capture sources (tc, xdp, pcap live, pcap file): one interface, one segment sink. */
#ifndef MP_SOURCE_H
#define MP_SOURCE_H

#include "capture/frame.h"
#include "capture/segment.h"

enum source_mode {
	SRC_TC = 0,	/* BPF at TC ingress + egress */
	SRC_XDP,	/* BPF at XDP ingress + TC egress */
	SRC_PCAP,	/* libpcap live */
	SRC_FILE,	/* pcap / pcapng replay */
};

#define SRC_MAX_DEVICES 16

/* How the TC programs attach (probe.tc_attach). */
enum src_tc_attach {
	SRC_TC_AUTO = 0, /* tcx links where the kernel has them (6.6+), else netlink filters */
	SRC_TC_TCX,	 /* tcx links only: fail (and fall back to pcap) without them */
	SRC_TC_NETLINK,	 /* clsact qdisc + cls_bpf filter with our fixed handle */
};

struct source_config {
	enum source_mode mode;
	const char *devices[SRC_MAX_DEVICES]; /* names, for live modes */
	int ndevices;
	const char *file;		      /* for SRC_FILE */
	struct port_filter pf;
	unsigned int ringbuf_mb;	      /* BPF ring buffer / pcap buffer size */
	int xdp_native;			      /* driver-mode XDP instead of generic */
	enum src_tc_attach tc_attach;
};

struct source;

/* One capture device and whether the source captures on it right now. */
struct source_dev {
	char name[16]; /* IF_NAMESIZE */
	int attached;
};

/* Per-mode operations; every source implements them (devices: live BPF sources only). */
struct source_ops {
	const char *name;
	int (*poll)(struct source *s, int timeout_ms);
	void (*counters)(struct source *s, __u64 out[MP_CNT_MAX]);
	int (*devices)(struct source *s, struct source_dev *out, int max);
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	struct seg_sink sink;
};

/*
 * Opens the configured source. A tc or xdp source that cannot be loaded or
 * attached says why in one line and falls back to pcap. Returns NULL with
 * errno set when nothing could be opened.
 */
struct source *source_open(const struct source_config *cfg, const struct seg_sink *sink);

/*
 * Longest a live source may hold a captured packet back: libpcap hands packets over a kernel
 * block at a time, a partly filled block after 10 ms. The final drain waits this long.
 */
#define SRC_HOLD_MS 50

/*
 * Waits up to timeout_ms and delivers what arrived. Returns the number of
 * segments delivered (>= 0), -ENODATA once a replayed file is exhausted, or
 * another -errno (including a sink error).
 */
int source_poll(struct source *s, int timeout_ms);

/* Cumulative counters since open (enum mp_counter order). */
void source_counters(struct source *s, __u64 out[MP_CNT_MAX]);

/*
 * Fills out with up to max devices and whether each is attached now (a device that was
 * deleted is not, until one of its name is back and re-attached). Returns the count, or
 * -EOPNOTSUPP for sources that do not follow devices (pcap, file). Call from the polling
 * thread.
 */
int source_devices(struct source *s, struct source_dev *out, int max);

/* "tc", "xdp", "pcap" or "file": what actually runs after any fallback. */
const char *source_name(const struct source *s);

/* Detaches whatever this source attached, frees it. Accepts NULL. */
void source_free(struct source *s);

/*
 * Constructors used by source_open(); NULL with errno set on failure. source_bpf_open() also
 * names the step that failed in step ("BPF program: load", "device eth0: attach").
 */
struct source *source_bpf_open(const struct source_config *cfg, char *step, size_t len);
struct source *source_pcap_open(const struct source_config *cfg);
struct source *source_file_open(const struct source_config *cfg);

/* Parses "tc", "xdp", "pcap"; returns -EINVAL otherwise. */
int source_mode_parse(const char *s, enum source_mode *mode);

/* "tc", "xdp", "pcap" or "file": the name source_name() gives a source of that mode. */
const char *source_mode_name(enum source_mode mode);

#endif /* MP_SOURCE_H */
