/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Frame parsing for the libpcap sources: link layer to TCP, into a segment record. */
#ifndef MP_FRAME_H
#define MP_FRAME_H

#include <stddef.h>

#include "capture/segment.h"

/* The MySQL ports to keep (host byte order) and the snap length (0 = whole). */
struct port_filter {
	__u16 ports[MP_MAX_PORTS];
	__u32 nports;
	__u32 snaplen;
};

/* Link types handled (pcap LINKTYPE_/DLT_ values; DLT_RAW has two numbers). */
#define PKT_LINK_NULL 0
#define PKT_LINK_ETHERNET 1
#define PKT_LINK_RAW_OLD 12
#define PKT_LINK_RAW_BSD 14
#define PKT_LINK_RAW 101
#define PKT_LINK_LOOP 108
#define PKT_LINK_SLL 113
#define PKT_LINK_IPV4 228
#define PKT_LINK_IPV6 229
#define PKT_LINK_SLL2 276

/* Returns 1 when linktype is one frame_parse() understands. */
int frame_linktype_ok(int linktype);

/*
 * Parses one frame, caplen bytes captured of wirelen on the wire (pcap's caplen and len),
 * with the same rules as the BPF program (tests/bpf/test_frame_diff.c holds them to it):
 * keeps TCP segments on a configured port that carry payload or SYN/FIN/RST. On
 * MP_CNT_KEPT, *hdr is filled (ts_ns and ifindex left to the caller) and *payload points
 * at hdr->caplen bytes inside frame. Any other return value is the counter explaining why
 * nothing was kept. A payload cut by the capture's own snap length is kept with
 * caplen < len; a packet longer than its frame on the wire is malformed.
 */
int frame_parse(int linktype, const __u8 *frame, size_t caplen, size_t wirelen,
		const struct port_filter *pf, struct mp_seg_hdr *hdr, const __u8 **payload);

/* Direction for a port pair, as the BPF program decides it; -1 when neither matches. */
int port_filter_dir(const struct port_filter *pf, __u16 sport, __u16 dport);

#endif /* MP_FRAME_H */
