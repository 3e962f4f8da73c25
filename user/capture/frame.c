// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Link layer to TCP parsing of captured frames, mirroring bpf/capture.bpf.c. */
#include <string.h>

#include "capture/frame.h"

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8
#define PROTO_TCP 6
#define MAX_VLAN_TAGS 2
#define MAX_V6_EXT 4

/* Parse state: a bounded cursor over the captured bytes. */
struct pcur {
	const __u8 *p;
	size_t cap;  /* captured bytes */
	size_t wire; /* bytes the frame had on the wire (>= cap) */
	size_t off;
	size_t ip_payload;
};

static __u16 rd16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 rd32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static int need(const struct pcur *c, size_t n)
{
	return c->off + n <= c->cap;
}

int frame_linktype_ok(int lt)
{
	switch (lt) {
	case PKT_LINK_NULL:
	case PKT_LINK_ETHERNET:
	case PKT_LINK_RAW_OLD:
	case PKT_LINK_RAW_BSD:
	case PKT_LINK_RAW:
	case PKT_LINK_LOOP:
	case PKT_LINK_SLL:
	case PKT_LINK_IPV4:
	case PKT_LINK_IPV6:
	case PKT_LINK_SLL2:
		return 1;
	}
	return 0;
}

/* Sets c->off to the IP header and returns 4, 6, 0 (not IP) or -1 (cut). */
static int parse_link(int lt, struct pcur *c)
{
	__u16 et;
	__u32 af;

	switch (lt) {
	case PKT_LINK_ETHERNET:
		if (!need(c, ETH_HLEN))
			return -1;
		et = rd16(c->p + 12);
		c->off = ETH_HLEN;
		for (int i = 0; i < MAX_VLAN_TAGS && (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ);
		     i++) {
			if (!need(c, 4))
				return -1;
			et = rd16(c->p + c->off + 2);
			c->off += 4;
		}
		break;
	case PKT_LINK_SLL:
		if (!need(c, SLL_HLEN))
			return -1;
		et = rd16(c->p + 14);
		c->off = SLL_HLEN;
		break;
	case PKT_LINK_SLL2:
		if (!need(c, SLL2_HLEN))
			return -1;
		et = rd16(c->p);
		c->off = SLL2_HLEN;
		break;
	case PKT_LINK_NULL:
	case PKT_LINK_LOOP:
		/* A 4-byte address family: host order for NULL, network order for
		 * LOOP. AF_INET6 is 10, 24, 28 or 30 depending on the capturing OS. */
		if (!need(c, 4))
			return -1;
		if (lt == PKT_LINK_LOOP)
			af = rd32(c->p);
		else
			memcpy(&af, c->p, 4);
		if (af > 0xffff) /* written on a host of the other byte order */
			af = __builtin_bswap32(af);
		c->off = 4;
		if (af == 2)
			return 4;
		if (af == 10 || af == 24 || af == 28 || af == 30)
			return 6;
		return 0;
	default: /* raw IP: the version nibble decides */
		c->off = 0;
		if (!need(c, 1))
			return -1;
		return c->p[0] >> 4 == 4 ? 4 : c->p[0] >> 4 == 6 ? 6 : 0;
	}
	if (et == ETHERTYPE_IP)
		return 4;
	if (et == ETHERTYPE_IPV6)
		return 6;
	return 0;
}

static int parse_ipv4(struct pcur *c, struct mp_seg_hdr *h)
{
	const __u8 *ip = c->p + c->off;
	size_t ihl, tot;

	if (!need(c, 20))
		return MP_CNT_MALFORMED;
	ihl = (ip[0] & 0xf) * 4;
	if (ip[0] >> 4 != 4 || ihl < 20)
		return MP_CNT_MALFORMED;
	if (rd16(ip + 6) & 0x3fff) /* MF or a fragment offset */
		return MP_CNT_NOT_TCP;
	if (ip[9] != PROTO_TCP)
		return MP_CNT_NOT_TCP;
	tot = rd16(ip + 2);
	if (tot == 0) /* IPv4 BIG TCP: the frame length is the truth */
		tot = c->wire - c->off;
	/* Lengths are checked against the frame on the wire, as the BPF program checks them
	 * against the packet: a packet longer than its frame is malformed, a frame the capture
	 * cut (snap length) is not. */
	if (tot < ihl || tot > c->wire - c->off)
		return MP_CNT_MALFORMED;
	memset(h->saddr, 0, sizeof(h->saddr));
	memset(h->daddr, 0, sizeof(h->daddr));
	memcpy(h->saddr, ip + 12, 4);
	memcpy(h->daddr, ip + 16, 4);
	h->family = 4;
	c->ip_payload = tot - ihl;
	c->off += ihl;
	return MP_CNT_KEPT;
}

static int parse_ipv6(struct pcur *c, struct mp_seg_hdr *h)
{
	const __u8 *ip = c->p + c->off;
	size_t plen, hlen;
	__u8 nh;

	if (!need(c, 40))
		return MP_CNT_MALFORMED;
	if (ip[0] >> 4 != 6)
		return MP_CNT_MALFORMED;
	plen = rd16(ip + 4);
	if (plen == 0) /* jumbogram */
		plen = c->wire - c->off - 40;
	if (plen > c->wire - c->off - 40) /* longer than the frame on the wire */
		return MP_CNT_MALFORMED;
	nh = ip[6];
	memcpy(h->saddr, ip + 8, 16);
	memcpy(h->daddr, ip + 24, 16);
	h->family = 6;
	c->off += 40;
	for (int i = 0; i < MAX_V6_EXT && (nh == 0 || nh == 43 || nh == 60); i++) {
		if (!need(c, 2))
			return MP_CNT_MALFORMED;
		hlen = (c->p[c->off + 1] + 1) * 8;
		if (hlen > plen)
			return MP_CNT_MALFORMED;
		nh = c->p[c->off];
		plen -= hlen;
		c->off += hlen;
	}
	if (nh != PROTO_TCP)
		return MP_CNT_NOT_TCP;
	c->ip_payload = plen;
	return MP_CNT_KEPT;
}

int port_filter_dir(const struct port_filter *pf, __u16 sport, __u16 dport)
{
	for (__u32 i = 0; i < pf->nports && i < MP_MAX_PORTS; i++)
		if (dport == pf->ports[i])
			return MP_DIR_TO_SERVER;
	for (__u32 i = 0; i < pf->nports && i < MP_MAX_PORTS; i++)
		if (sport == pf->ports[i])
			return MP_DIR_TO_CLIENT;
	return -1;
}

int frame_parse(int linktype, const __u8 *frame, size_t caplen, size_t wirelen,
		const struct port_filter *pf, struct mp_seg_hdr *h, const __u8 **payload)
{
	struct pcur c = { .p = frame, .cap = caplen, .wire = wirelen > caplen ? wirelen : caplen };
	const __u8 *th;
	size_t doff, plen, avail, snap;
	int ver, res, dir;

	ver = parse_link(linktype, &c);
	if (ver < 0)
		return MP_CNT_MALFORMED;
	if (ver == 0)
		return MP_CNT_NOT_TCP;
	res = ver == 4 ? parse_ipv4(&c, h) : parse_ipv6(&c, h);
	if (res != MP_CNT_KEPT)
		return res;
	if (!need(&c, 20))
		return MP_CNT_MALFORMED;
	th = c.p + c.off;
	doff = (th[12] >> 4) * 4;
	if (doff < 20 || doff > c.ip_payload)
		return MP_CNT_MALFORMED;
	dir = port_filter_dir(pf, rd16(th), rd16(th + 2));
	if (dir < 0)
		return MP_CNT_OTHER_PORT;
	plen = c.ip_payload - doff;
	if (plen == 0 && !(th[13] & (MP_TCP_SYN | MP_TCP_FIN | MP_TCP_RST)))
		return MP_CNT_NO_PAYLOAD;
	c.off += doff;
	/* What the capture holds of the payload; the file's own snap length may have cut it. */
	avail = c.off < c.cap ? c.cap - c.off : 0;
	if (avail > plen)
		avail = plen; /* Ethernet padding after a short IP packet */
	snap = pf->snaplen ? pf->snaplen : MP_MAX_CAPLEN;
	if (snap > MP_MAX_CAPLEN)
		snap = MP_MAX_CAPLEN;
	if (avail > snap)
		avail = snap;

	h->seq = rd32(th + 4);
	h->ack = rd32(th + 8);
	h->sport = rd16(th);
	h->dport = rd16(th + 2);
	h->tcp_flags = th[13];
	h->dir = (__u8)dir;
	h->len = (__u32)(plen > 0xffffffffu ? 0xffffffffu : plen);
	h->caplen = (__u32)avail;
	memset(h->pad, 0, sizeof(h->pad));
	/* Options cut by the snap length leave no payload: point at the end. */
	*payload = c.p + (c.off < c.cap ? c.off : c.cap);
	return MP_CNT_KEPT;
}
