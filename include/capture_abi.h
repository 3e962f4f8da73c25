/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The record format shared by the BPF capture program and every userspace source. */
#ifndef MP_CAPTURE_ABI_H
#define MP_CAPTURE_ABI_H

/*
 * Fixed-width fields only, widest first, explicit padding: this struct is
 * written by the kernel side and read by userspace compiled with another
 * compiler, so its layout must not depend on either. Sizes are checked with
 * _Static_assert in user/segment.c.
 */

#define MP_MAX_PORTS 8
/* Largest payload one record carries. A TCP payload in one IPv4/IPv6 packet
 * (GSO super-packets on lo included) never exceeds 64 KiB - 1; BIG TCP
 * packets beyond that are cut and flagged truncated. */
#define MP_MAX_CAPLEN 65535

/* Direction, decided by which side owns a configured MySQL port. */
#define MP_DIR_TO_SERVER 0
#define MP_DIR_TO_CLIENT 1

/* TCP flags as on the wire (byte 13 of the TCP header). */
#define MP_TCP_FIN 0x01
#define MP_TCP_SYN 0x02
#define MP_TCP_RST 0x04
#define MP_TCP_PSH 0x08
#define MP_TCP_ACK 0x10

/* One captured TCP segment: this header, then caplen payload bytes. */
struct mp_seg_hdr {
	__u64 ts_ns;	   /* CLOCK_MONOTONIC from BPF; CLOCK_REALTIME from pcap */
	__u8 saddr[16];	   /* IPv4 uses the first 4 bytes */
	__u8 daddr[16];
	__u32 seq;	   /* host byte order */
	__u32 ack;	   /* host byte order */
	__u32 len;	   /* payload length on the wire */
	__u32 caplen;	   /* payload bytes that follow (<= len) */
	__u32 ifindex;	   /* device the segment was seen on (0 when unknown) */
	__u16 sport;	   /* host byte order */
	__u16 dport;	   /* host byte order */
	__u8 family;	   /* 4 or 6 */
	__u8 dir;	   /* MP_DIR_* */
	__u8 tcp_flags;	   /* MP_TCP_* */
	__u8 pad[5];
};

/* Per-CPU counters kept by the BPF program (index into an array map).
 * Invariant: SEEN = KEPT + NOT_TCP + OTHER_PORT + NO_PAYLOAD + MALFORMED + RB_FULL;
 * TRUNCATED counts kept records whose payload was cut at the snap length. */
enum mp_counter {
	MP_CNT_SEEN = 0,   /* every frame the program ran on */
	MP_CNT_KEPT,	   /* records written to the ring buffer */
	MP_CNT_NOT_TCP,	   /* not IPv4/IPv6 TCP, or an IP fragment */
	MP_CNT_OTHER_PORT, /* TCP, but no configured port on either side */
	MP_CNT_NO_PAYLOAD, /* pure ACK / window update on a MySQL port */
	MP_CNT_MALFORMED,  /* cut or inconsistent headers */
	MP_CNT_TRUNCATED,  /* kept, payload cut at the snap length */
	MP_CNT_RB_FULL,	   /* ring buffer had no room: a lost record */
	MP_CNT_MAX,
};

#endif /* MP_CAPTURE_ABI_H */
