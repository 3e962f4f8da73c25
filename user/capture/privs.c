// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reads the effective capability set (capget) and names what a capture path lacks. */
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/privs.h"

/* Older uapi headers predate these (Linux 5.8); the numbers are ABI. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct cap_name {
	int cap;
	const char *name;
};

static const struct cap_name bpf_caps[] = {
	{ CAP_BPF, "CAP_BPF" },
	{ CAP_PERFMON, "CAP_PERFMON" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ -1, NULL },
};

static const struct cap_name pcap_caps[] = {
	{ CAP_NET_RAW, "CAP_NET_RAW" },
	{ -1, NULL },
};

/* No libcap: one raw capget is all we need, and the v3 layout is a stable ABI. */
static int effective_caps(uint64_t *eff)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*eff = (uint64_t)data[0].effective | (uint64_t)data[1].effective << 32;
	return 0;
}

static bool has(uint64_t eff, int cap)
{
	/* bpf_capable() and perfmon_capable() in the kernel accept CAP_SYS_ADMIN too. */
	if ((cap == CAP_BPF || cap == CAP_PERFMON) && (eff >> CAP_SYS_ADMIN & 1))
		return true;
	return eff >> cap & 1;
}

int privs_missing(enum privs_need need, char *out, size_t outlen)
{
	const struct cap_name *c = need == PRIVS_PCAP ? pcap_caps : bpf_caps;
	uint64_t eff = 0;
	size_t used = 0;
	int err, n = 0;

	if (outlen)
		out[0] = '\0';
	err = effective_caps(&eff);
	if (err)
		return err;
	for (; c->name; c++) {
		int w;

		if (has(eff, c->cap))
			continue;
		w = outlen > used ? snprintf(out + used, outlen - used, "%s%s", n ? ", " : "",
					     c->name)
				  : 0;
		if (w > 0)
			used += (size_t)w < outlen - used ? (size_t)w : outlen - used - 1;
		n++;
	}
	return n;
}
