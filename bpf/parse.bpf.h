/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Header cursor and L2-L4 parsing shared by the TC and XDP capture programs. */
#ifndef MP_PARSE_BPF_H
#define MP_PARSE_BPF_H

#include "consts.bpf.h"

/*
 * Headers are read with bpf_{skb,xdp}_load_bytes into stack copies rather
 * than by direct packet access: on lo and veth a GSO super-packet may keep
 * its headers outside the linear area, and the load helpers handle paged
 * data and frags uniformly for both hooks, at the price of a small copy.
 */
struct cursor {
	void *ctx;
	__u32 off;     /* offset of the next header */
	__u32 pkt_len; /* bytes in the frame (linear + paged) */
	int xdp;       /* which load helper to use; constant after inlining */
};

static __always_inline long cur_load(struct cursor *c, __u32 off, void *to, __u32 len)
{
	if (c->xdp)
		return bpf_xdp_load_bytes(c->ctx, off, to, len);
	return bpf_skb_load_bytes(c->ctx, off, to, len);
}

/* What the parser learned about one frame. */
struct pkt_info {
	__u32 l4_off;	  /* TCP header offset */
	__u32 ip_payload; /* bytes after the IP header(s), from the IP length fields */
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 family;
};

/* Parse results; the caller maps each to a counter. */
enum parse_res {
	PARSE_TCP = 0,
	PARSE_NOT_TCP,
	PARSE_MALFORMED,
};

/* Skips up to two VLAN tags (802.1Q / 802.1ad) left in the frame. Tags the
 * NIC stripped into skb->vlan_tci are already gone and need nothing. */
static __always_inline int parse_eth(struct cursor *c, __u16 *proto)
{
	struct ethhdr eth;
	struct vlan_hdr vh;

	if (cur_load(c, 0, &eth, sizeof(eth)))
		return PARSE_MALFORMED;
	*proto = eth.h_proto;
	c->off = sizeof(eth);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (*proto != bpf_htons(ETH_P_8021Q) && *proto != bpf_htons(ETH_P_8021AD))
			break;
		if (cur_load(c, c->off, &vh, sizeof(vh)))
			return PARSE_MALFORMED;
		*proto = vh.h_vlan_encapsulated_proto;
		c->off += sizeof(vh);
	}
	return PARSE_TCP;
}

static __always_inline int parse_ipv4(struct cursor *c, struct pkt_info *pi)
{
	struct iphdr ip;
	__u32 ihl, tot;

	if (cur_load(c, c->off, &ip, sizeof(ip)))
		return PARSE_MALFORMED;
	ihl = ip.ihl * 4;
	if (ip.version != 4 || ihl < sizeof(ip))
		return PARSE_MALFORMED;
	/* A fragment carries no usable TCP header (or only part of the payload). */
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_NOT_TCP;
	if (ip.protocol != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	tot = bpf_ntohs(ip.tot_len);
	/* tot_len 0 marks an IPv4 BIG TCP packet: the frame length is the truth. */
	if (tot == 0)
		tot = c->pkt_len - c->off;
	if (tot < ihl || c->off + tot > c->pkt_len)
		return PARSE_MALFORMED;
	__builtin_memset(pi->saddr, 0, sizeof(pi->saddr));
	__builtin_memset(pi->daddr, 0, sizeof(pi->daddr));
	__builtin_memcpy(pi->saddr, &ip.saddr, 4);
	__builtin_memcpy(pi->daddr, &ip.daddr, 4);
	pi->family = 4;
	pi->ip_payload = tot - ihl;
	c->off += ihl;
	return PARSE_TCP;
}

/* IPv6 with the extension headers a TCP packet may carry before TCP. */
static __always_inline int parse_ipv6(struct cursor *c, struct pkt_info *pi)
{
	struct ipv6hdr ip6;
	struct ipv6_opt_hdr opt;
	__u32 plen;
	__u8 nexthdr;

	if (cur_load(c, c->off, &ip6, sizeof(ip6)))
		return PARSE_MALFORMED;
	if (ip6.version != 6)
		return PARSE_MALFORMED;
	plen = bpf_ntohs(ip6.payload_len);
	/* payload_len 0 is a jumbogram (BIG TCP): take the frame length. */
	if (plen == 0)
		plen = c->pkt_len - c->off - sizeof(ip6);
	if (c->off + sizeof(ip6) + plen > c->pkt_len)
		return PARSE_MALFORMED;
	__builtin_memcpy(pi->saddr, &ip6.saddr, 16);
	__builtin_memcpy(pi->daddr, &ip6.daddr, 16);
	pi->family = 6;
	c->off += sizeof(ip6);
	nexthdr = ip6.nexthdr;
#pragma unroll
	for (int i = 0; i < MP_MAX_V6_EXT; i++) {
		__u32 hlen;

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS)
			break;
		if (cur_load(c, c->off, &opt, sizeof(opt)))
			return PARSE_MALFORMED;
		hlen = (opt.hdrlen + 1) * 8;
		if (hlen > plen)
			return PARSE_MALFORMED;
		plen -= hlen;
		c->off += hlen;
		nexthdr = opt.nexthdr;
	}
	if (nexthdr != IPPROTO_TCP)
		return PARSE_NOT_TCP; /* includes fragments and over-long header chains */
	pi->ip_payload = plen;
	return PARSE_TCP;
}

#endif /* MP_PARSE_BPF_H */
