/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names the Linux capabilities capture needs that this process lacks (for error messages). */
#ifndef MP_PRIVS_H
#define MP_PRIVS_H

#include <stddef.h>

/* What each capture path needs (see conf/mysqlprobe.service for the set the unit grants). */
enum privs_need {
	PRIVS_BPF_TC,  /* load the BPF object, attach at TC: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN */
	PRIVS_BPF_XDP, /* the same for XDP */
	PRIVS_PCAP,    /* a live libpcap socket: CAP_NET_RAW */
};

/*
 * Writes the names of the capabilities `need` requires and the effective set lacks
 * ("CAP_BPF, CAP_PERFMON") to out, NUL-terminated and cut to outlen. CAP_SYS_ADMIN stands in
 * for CAP_BPF and CAP_PERFMON as it does in the kernel. Returns the number of missing
 * capabilities (0: nothing missing, out is ""), or -errno when they cannot be read.
 */
int privs_missing(enum privs_need need, char *out, size_t outlen);

#endif /* MP_PRIVS_H */
