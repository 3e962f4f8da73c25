/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF test set: a frame generator and every frame the BPF tests send, with its verdict. */
#ifndef MP_TEST_FRAMES_H
#define MP_TEST_FRAMES_H

#include <stddef.h>
#include <string.h>

#include <linux/types.h>

#include "capture_abi.h"

#define MAX_FRAME 70000

struct frame {
	__u8 b[MAX_FRAME];
	size_t len;
};

/* What build() puts in a frame: Ethernet, IPv4 or IPv6, TCP, payload. */
struct spec {
	int v6;
	int vlans;	   /* 802.1Q tags: 0..3; with 2 the outer one is 802.1ad (QinQ) */
	int ip_opt_words;  /* IPv4 options, 4-byte words */
	int v6_hbh;	   /* an IPv6 hop-by-hop header before TCP */
	int tcp_opt_words; /* TCP options, 4-byte words */
	__u8 l4proto;	   /* 6 unless testing UDP */
	__u16 sport, dport;
	__u8 flags;
	size_t payload;
	int frag;	   /* IPv4 MF set */
	__u16 ethertype;   /* override (e.g. ARP) */
	/* Edge cases; zero means "as a sender would build it". */
	__u8 v6_ext[6];	   /* IPv6 extension headers after the hop-by-hop one (8 bytes each) */
	int v6_ext_n;
	__u8 v6_ext_hdrlen; /* hdrlen of the first extension header (claims more than is there) */
	__u16 frag_off;	   /* raw IPv4 flags + fragment offset (DF, an offset) */
	int ihl;	   /* IPv4 header length field (words), e.g. 4 */
	int version;	   /* IP version nibble */
	int doff;	   /* TCP data offset field (words) */
	int len_delta;	   /* added to the IPv4 total length / IPv6 payload length */
	int len_zero;	   /* length field 0: IPv4 BIG TCP, IPv6 jumbogram */
};

static inline void frames_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void frames_put32(__u8 *p, __u32 v)
{
	frames_put16(p, v >> 16);
	frames_put16(p + 2, v & 0xffff);
}

static const __u8 v4_src[4] = { 10, 1, 2, 3 }, v4_dst[4] = { 10, 4, 5, 6 };
static const __u8 v6_src[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const __u8 v6_dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

#define SEQ 0xfffffff0u
#define ACK 0x12345678u

/* IPv6 extension headers: next header, hdrlen 0 (8 bytes), PadN filling the rest. */
static inline size_t build_v6_ext(__u8 *p, const struct spec *s, __u8 l4)
{
	__u8 types[8];
	int n = 0;
	size_t off = 0;

	if (s->v6_hbh)
		types[n++] = 0;
	for (int i = 0; i < s->v6_ext_n; i++)
		types[n++] = s->v6_ext[i];
	for (int i = 0; i < n; i++) {
		p[off] = i + 1 < n ? types[i + 1] : l4;
		p[off + 1] = i == 0 ? s->v6_ext_hdrlen : 0;
		p[off + 2] = 1; /* PadN */
		p[off + 3] = 4;
		memset(p + off + 4, 0, 4);
		off += 8;
	}
	return off;
}

/* Builds s into f; returns the offset of the payload. */
static inline size_t build(struct frame *f, const struct spec *s)
{
	__u8 *p = f->b;
	size_t off = 12, l4_off, thl, iphl;
	__u8 l4 = s->l4proto ? s->l4proto : 6;
	int nvlan = s->vlans;

	memset(f->b, 0, 256);
	memset(p, 0xaa, 6);
	memset(p + 6, 0xbb, 6);
	for (int i = 0; i < nvlan; i++) {
		frames_put16(p + off, i == 0 && nvlan == 2 ? 0x88a8 : 0x8100);
		frames_put16(p + off + 2, 100 + i);
		off += 4;
	}
	frames_put16(p + off, s->ethertype ? s->ethertype : s->v6 ? 0x86dd : 0x0800);
	off += 2;
	thl = 20 + 4 * s->tcp_opt_words;
	if (!s->v6) {
		iphl = 20 + 4 * s->ip_opt_words;
		p[off] = (s->version ? s->version : 4) << 4 | (s->ihl ? (size_t)s->ihl : iphl / 4);
		frames_put16(p + off + 2,
			     s->len_zero ? 0 : (__u16)(iphl + thl + s->payload + s->len_delta));
		if (s->frag)
			frames_put16(p + off + 6, 0x2000);
		if (s->frag_off)
			frames_put16(p + off + 6, s->frag_off);
		p[off + 8] = 64;
		p[off + 9] = l4;
		memcpy(p + off + 12, v4_src, 4);
		memcpy(p + off + 16, v4_dst, 4);
		for (int i = 0; i < s->ip_opt_words; i++)
			memset(p + off + 20 + 4 * i, 1, 4); /* NOPs */
		l4_off = off + iphl;
	} else {
		size_t ext = build_v6_ext(p + off + 40, s, l4);

		p[off] = (s->version ? s->version : 6) << 4;
		frames_put16(p + off + 4,
			     s->len_zero ? 0 : (__u16)(ext + thl + s->payload + s->len_delta));
		p[off + 6] = s->v6_hbh ? 0 : s->v6_ext_n ? s->v6_ext[0] : l4;
		p[off + 7] = 64;
		memcpy(p + off + 8, v6_src, 16);
		memcpy(p + off + 24, v6_dst, 16);
		l4_off = off + 40 + ext;
	}
	frames_put16(p + l4_off, s->sport);
	frames_put16(p + l4_off + 2, s->dport);
	frames_put32(p + l4_off + 4, SEQ);
	frames_put32(p + l4_off + 8, ACK);
	p[l4_off + 12] = (s->doff ? (size_t)s->doff : thl / 4) << 4;
	p[l4_off + 13] = s->flags;
	for (int i = 0; i < s->tcp_opt_words; i++)
		memset(p + l4_off + 20 + 4 * i, 1, 4);
	for (size_t i = 0; i < s->payload; i++)
		p[l4_off + thl + i] = (__u8)(i * 7 + 3);
	f->len = l4_off + thl + s->payload;
	if (f->len < 60) /* Ethernet minimum: trailing padding must not count as payload */
		f->len = 60;
	return l4_off + thl;
}

/* The ports every frame case is written for; the snap length is the case's own. */
static const __u16 frame_ports[] = { 3306, 3307 };

struct frame_case {
	const char *name; /* group/what: the BPF tests run a group at a time */
	struct spec s;
	int counter;	  /* MP_CNT_KEPT, or the counter that explains the drop */
	int dir;	  /* MP_DIR_* when kept */
	__u32 snaplen;	  /* 0: whole payloads */
	__u32 len;	  /* payload length when kept, if not s.payload */
	__u32 caplen;	  /* payload bytes captured, if fewer than the length */
	int xdp_only;	  /* too large for the skb test harness */
};

#define KEPT_TO_SERVER MP_CNT_KEPT, MP_DIR_TO_SERVER
#define KEPT_TO_CLIENT MP_CNT_KEPT, MP_DIR_TO_CLIENT

static const struct frame_case frame_cases[] = {
	/* Between two MySQL ports the destination decides: to the server. */
	{ "ipv4/to_server", { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 33 },
	  KEPT_TO_SERVER },
	{ "ipv4/to_client", { .sport = 3307, .dport = 40000, .flags = 0x18, .payload = 33 },
	  KEPT_TO_CLIENT },
	{ "ipv4/port_to_port", { .sport = 3307, .dport = 3306, .flags = 0x18, .payload = 33 },
	  KEPT_TO_SERVER },
	{ "ipv6/to_server",
	  { .v6 = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 100 },
	  KEPT_TO_SERVER },
	{ "ipv6/hop_by_hop",
	  { .v6 = 1, .v6_hbh = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 100 },
	  KEPT_TO_SERVER },
	{ "ipv6/hop_by_hop_to_client",
	  { .v6 = 1, .v6_hbh = 1, .sport = 3306, .dport = 50000, .flags = 0x18, .payload = 100 },
	  KEPT_TO_CLIENT },
	{ "vlan/one_tag",
	  { .vlans = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 7 },
	  KEPT_TO_SERVER },
	{ "vlan/qinq", { .vlans = 2, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 7 },
	  KEPT_TO_SERVER },
	{ "vlan/qinq_ip_and_tcp_options",
	  { .vlans = 2, .ip_opt_words = 3, .tcp_opt_words = 3, .sport = 40000, .dport = 3306,
	    .flags = 0x18, .payload = 7 },
	  KEPT_TO_SERVER },
	{ "vlan/qinq_ipv6_largest_tcp_header", /* 60 bytes */
	  { .vlans = 2, .v6 = 1, .tcp_opt_words = 10, .sport = 40000, .dport = 3306,
	    .flags = 0x18, .payload = 7 },
	  KEPT_TO_SERVER },
	{ "flags/syn", { .sport = 40000, .dport = 3306, .flags = 0x02 }, KEPT_TO_SERVER },
	{ "flags/syn_ack", { .sport = 40000, .dport = 3306, .flags = 0x12 }, KEPT_TO_SERVER },
	{ "flags/fin_ack", { .sport = 40000, .dport = 3306, .flags = 0x11 }, KEPT_TO_SERVER },
	{ "flags/rst", { .sport = 40000, .dport = 3306, .flags = 0x04 }, KEPT_TO_SERVER },
	{ "flags/rst_ack", { .sport = 40000, .dport = 3306, .flags = 0x14 }, KEPT_TO_SERVER },
	{ "drop/pure_ack", { .sport = 40000, .dport = 3306, .flags = 0x10 }, MP_CNT_NO_PAYLOAD },
	{ "drop/pure_ack_ipv6", { .v6 = 1, .sport = 40000, .dport = 3306, .flags = 0x10 },
	  MP_CNT_NO_PAYLOAD },
	{ "drop/other_port", { .sport = 40000, .dport = 5432, .flags = 0x18, .payload = 10 },
	  MP_CNT_OTHER_PORT },
	{ "drop/udp_to_mysql_port",
	  { .l4proto = 17, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 10 },
	  MP_CNT_NOT_TCP },
	{ "drop/ipv4_fragment",
	  { .frag = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 10 },
	  MP_CNT_NOT_TCP },
	{ "drop/arp",
	  { .ethertype = 0x0806, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 10 },
	  MP_CNT_NOT_TCP },
	/* Payload beyond the snap length: cut, and the original length kept. */
	{ "snaplen/above", { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 1000 },
	  KEPT_TO_SERVER, .snaplen = 100, .caplen = 100 },
	{ "snaplen/equal", { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 100 },
	  KEPT_TO_SERVER, .snaplen = 100 },
	{ "snaplen/ipv6_above",
	  { .v6 = 1, .v6_hbh = 1, .sport = 3306, .dport = 40000, .flags = 0x18, .payload = 300 },
	  KEPT_TO_CLIENT, .snaplen = 129, .caplen = 129 },
	/* Sent 20 times into a 16 KiB ring buffer nobody reads (test_ringbuf_full_counted). */
	{ "ringbuf/payload_1400",
	  { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 1400 }, KEPT_TO_SERVER },
	/* XDP test_run takes multi-buffer frames: a 60 KB GSO-sized segment is kept whole. */
	{ "large/gso_60000", { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 60000 },
	  KEPT_TO_SERVER, .xdp_only = 1 },
	/* Edge rules, for the differential test (test_frame_diff.c). */
	{ "edge/ipv6_three_ext_headers", /* hop-by-hop, routing, destination options */
	  { .v6 = 1, .v6_hbh = 1, .v6_ext = { 43, 60 }, .v6_ext_n = 2, .sport = 40000,
	    .dport = 3306, .flags = 0x18, .payload = 20 },
	  KEPT_TO_SERVER },
	{ "edge/ipv6_four_ext_headers", /* the most the parsers walk */
	  { .v6 = 1, .v6_ext = { 60, 43, 43, 60 }, .v6_ext_n = 4, .sport = 40000, .dport = 3306,
	    .flags = 0x18, .payload = 20 },
	  KEPT_TO_SERVER },
	{ "edge/ipv6_five_ext_headers",
	  { .v6 = 1, .v6_hbh = 1, .v6_ext = { 60, 43, 43, 60 }, .v6_ext_n = 4, .sport = 40000,
	    .dport = 3306, .flags = 0x18, .payload = 20 },
	  MP_CNT_NOT_TCP },
	{ "edge/ipv6_fragment_header",
	  { .v6 = 1, .v6_ext = { 44 }, .v6_ext_n = 1, .sport = 40000, .dport = 3306,
	    .flags = 0x18, .payload = 20 },
	  MP_CNT_NOT_TCP },
	{ "edge/ipv6_ext_header_longer_than_packet",
	  { .v6 = 1, .v6_hbh = 1, .v6_ext_hdrlen = 200, .sport = 40000, .dport = 3306,
	    .flags = 0x18, .payload = 20 },
	  MP_CNT_MALFORMED },
	{ "edge/ipv6_jumbogram_length_zero",
	  { .v6 = 1, .len_zero = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  KEPT_TO_SERVER },
	{ "edge/ipv6_length_beyond_frame",
	  { .v6 = 1, .len_delta = 10, .sport = 40000, .dport = 3306, .flags = 0x18,
	    .payload = 50 },
	  MP_CNT_MALFORMED },
	{ "edge/ipv6_version_4",
	  { .v6 = 1, .version = 4, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 9 },
	  MP_CNT_MALFORMED },
	{ "edge/three_vlan_tags", /* the third tag is not looked into */
	  { .vlans = 3, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 7 },
	  MP_CNT_NOT_TCP },
	{ "edge/qinq_ipv6_ext_headers",
	  { .vlans = 2, .v6 = 1, .v6_hbh = 1, .v6_ext = { 60 }, .v6_ext_n = 1,
	    .tcp_opt_words = 3, .sport = 3307, .dport = 40001, .flags = 0x19, .payload = 70 },
	  KEPT_TO_CLIENT },
	{ "edge/ipv4_largest_header", /* ihl 15: 40 bytes of options */
	  { .ip_opt_words = 10, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 5 },
	  KEPT_TO_SERVER },
	{ "edge/ipv4_ihl_4",
	  { .ihl = 4, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 5 },
	  MP_CNT_MALFORMED },
	{ "edge/ipv4_version_6",
	  { .version = 6, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 5 },
	  MP_CNT_MALFORMED },
	{ "edge/ipv4_dont_fragment", /* DF is not a fragment */
	  { .frag_off = 0x4000, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 5 },
	  KEPT_TO_SERVER },
	{ "edge/ipv4_fragment_offset",
	  { .frag_off = 0x0001, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 5 },
	  MP_CNT_NOT_TCP },
	{ "edge/ipv4_big_tcp_length_zero",
	  { .len_zero = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  KEPT_TO_SERVER },
	{ "edge/ipv4_length_beyond_frame",
	  { .len_delta = 10, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  MP_CNT_MALFORMED },
	{ "edge/ipv4_length_short_of_frame", /* what follows is padding, not payload */
	  { .len_delta = -20, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  KEPT_TO_SERVER, .len = 30 },
	{ "edge/ipv4_length_inside_tcp_header",
	  { .len_delta = -60, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  MP_CNT_MALFORMED },
	{ "edge/tcp_data_offset_4",
	  { .doff = 4, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 50 },
	  MP_CNT_MALFORMED },
	{ "edge/tcp_data_offset_beyond_packet",
	  { .doff = 15, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 30 },
	  MP_CNT_MALFORMED },
	{ "edge/tcp_data_offset_into_payload", /* 40 payload bytes read as options */
	  { .doff = 15, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 100 },
	  KEPT_TO_SERVER, .len = 60 },
	{ "edge/short_payload_padded", /* 2 bytes, then Ethernet padding */
	  { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 2 },
	  KEPT_TO_SERVER },
};

#define N_FRAME_CASES (sizeof(frame_cases) / sizeof(frame_cases[0]))

static inline __u32 frame_case_len(const struct frame_case *fc)
{
	return fc->len ? fc->len : (__u32)fc->s.payload;
}

static inline __u32 frame_case_caplen(const struct frame_case *fc)
{
	return fc->caplen ? fc->caplen : frame_case_len(fc);
}

/* Where the payload starts, given build()'s return value (a data offset field may move it). */
static inline size_t frame_case_payload_off(const struct frame_case *fc, size_t built_off)
{
	if (!fc->s.doff)
		return built_off;
	return built_off - (20 + 4 * fc->s.tcp_opt_words) + 4 * fc->s.doff;
}

/* The case called name; NULL when there is none. */
static inline const struct frame_case *frame_case(const char *name)
{
	for (size_t i = 0; i < N_FRAME_CASES; i++)
		if (!strcmp(frame_cases[i].name, name))
			return &frame_cases[i];
	return NULL;
}

/* Frames the BPF tests cut at every length short of complete. */
static const struct spec cut_specs[] = {
	{ .vlans = 1, .ip_opt_words = 1, .tcp_opt_words = 2, .sport = 40000, .dport = 3306,
	  .flags = 0x18, .payload = 40 },
	{ .v6 = 1, .v6_hbh = 1, .sport = 3306, .dport = 40000, .flags = 0x18, .payload = 40 },
};

#endif /* MP_TEST_FRAMES_H */
