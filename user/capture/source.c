// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Source selection, the BPF-to-pcap fallback, and dispatch to the chosen source. */
#include <errno.h>
#include <string.h>

#include "lib/log.h"
#include "capture/privs.h"
#include "capture/source.h"

int source_mode_parse(const char *s, enum source_mode *mode)
{
	if (!strcmp(s, "tc"))
		*mode = SRC_TC;
	else if (!strcmp(s, "xdp"))
		*mode = SRC_XDP;
	else if (!strcmp(s, "pcap"))
		*mode = SRC_PCAP;
	else
		return -EINVAL;
	return 0;
}

const char *source_mode_name(enum source_mode mode)
{
	static const char *const names[] = {
		[SRC_TC] = "tc", [SRC_XDP] = "xdp", [SRC_PCAP] = "pcap", [SRC_FILE] = "file",
	};

	return (unsigned)mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "?";
}

static struct source *open_live(const struct source_config *cfg)
{
	struct source *s;
#ifndef MP_NO_BPF
	char caps[64], step[64];
	int err;
#endif

	if (cfg->mode == SRC_PCAP)
		return source_pcap_open(cfg);
#ifdef MP_NO_BPF
	pr_warn("mysqlprobe: BPF capture is not built on this platform; using pcap\n");
#else
	s = source_bpf_open(cfg, step, sizeof(step));
	if (s)
		return s;
	/*
	 * One line says what failed, why, and what we do about it (libbpf's own lines are at
	 * debug). A bad device name fails the same way under pcap and says so there.
	 */
	err = errno;
	if (err != EPERM || privs_missing(cfg->mode == SRC_XDP ? PRIVS_BPF_XDP : PRIVS_BPF_TC,
					  caps, sizeof(caps)) <= 0)
		caps[0] = '\0';
	pr_warn("mysqlprobe: %s: %s failed (%s%s%s): falling back to pcap\n",
		source_mode_name(cfg->mode), step, strerror(err), caps[0] ? ": missing " : "", caps);
#endif
	s = source_pcap_open(cfg);
	return s;
}

struct source *source_open(const struct source_config *cfg, const struct seg_sink *sink)
{
	struct source *s;

	s = cfg->mode == SRC_FILE ? source_file_open(cfg) : open_live(cfg);
	if (!s)
		return NULL;
	s->sink = *sink;
	return s;
}

int source_poll(struct source *s, int timeout_ms)
{
	return s->ops->poll(s, timeout_ms);
}

void source_counters(struct source *s, __u64 out[MP_CNT_MAX])
{
	memset(out, 0, sizeof(__u64) * MP_CNT_MAX);
	s->ops->counters(s, out);
}

int source_devices(struct source *s, struct source_dev *out, int max)
{
	return s->ops->devices ? s->ops->devices(s, out, max) : -EOPNOTSUPP;
}

const char *source_name(const struct source *s)
{
	return s->ops->name;
}

void source_free(struct source *s)
{
	if (s)
		s->ops->free(s);
}
