// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel side of capture: keeps MySQL-port TCP segments and writes them to a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "capture_abi.h"
#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Bytes waiting in the ring buffer before the consumer is woken. */
#define MP_WAKEUP_BYTES (64 * 1024)

/* Set by the loader before load (rodata): the verifier then sees constants. */
const volatile __u16 mp_ports[MP_MAX_PORTS] = {};
const volatile __u32 mp_nports = 0;
const volatile __u32 mp_snaplen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20); /* resized by the loader (probe.ringbuf_mb) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		(*v)++;
}

/* MP_DIR_TO_SERVER when the destination is a MySQL port (checked first, so
 * traffic between two MySQL ports counts as going to the server), else
 * MP_DIR_TO_CLIENT when the source is, else -1. */
static __always_inline int port_dir(__u16 sport, __u16 dport)
{
#pragma unroll
	for (int i = 0; i < MP_MAX_PORTS; i++) {
		if (i >= mp_nports)
			break;
		if (dport == mp_ports[i])
			return MP_DIR_TO_SERVER;
	}
#pragma unroll
	for (int i = 0; i < MP_MAX_PORTS; i++) {
		if (i >= mp_nports)
			break;
		if (sport == mp_ports[i])
			return MP_DIR_TO_CLIENT;
	}
	return -1;
}

static __always_inline int parse_l3(struct cursor *c, struct pkt_info *pi)
{
	__u16 proto;
	int res;

	res = parse_eth(c, &proto);
	if (res != PARSE_TCP)
		return res;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, pi);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, pi);
	return PARSE_NOT_TCP;
}

/*
 * Waking the consumer costs an irq_work per record when it keeps up, which
 * at high rates costs more than the copy itself. Wake it only once a batch
 * has accumulated; the consumer's poll timeout bounds the delay otherwise.
 */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= MP_WAKEUP_BYTES)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Fills a record's header in place, in the ring buffer. */
static __always_inline void fill_hdr(struct mp_seg_hdr *h, struct pkt_info *pi, struct tcphdr *th,
				     int dir, __u32 payload_len, __u32 caplen, __u32 ifindex)
{
	h->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(h->saddr, pi->saddr, 16);
	__builtin_memcpy(h->daddr, pi->daddr, 16);
	h->seq = bpf_ntohl(th->seq);
	h->ack = bpf_ntohl(th->ack_seq);
	h->len = payload_len;
	h->caplen = caplen;
	h->ifindex = ifindex;
	h->sport = bpf_ntohs(th->source);
	h->dport = bpf_ntohs(th->dest);
	h->family = pi->family;
	h->dir = dir;
	h->tcp_flags = ((__u8 *)th)[13];
	__builtin_memset(h->pad, 0, sizeof(h->pad));
}

/*
 * Writes one record straight into the ring buffer: the payload is loaded from the packet
 * into the reserved slot, one copy. bpf_ringbuf_reserve takes a constant size only, so the
 * slot is the size class (a power of two, MP_REC_CLASS_MIN at least) that holds caplen
 * bytes; this is inlined once per class. A class wastes at most half its slot, which only
 * costs ring space (reserve does not clear it); the consumer reads caplen bytes.
 */
static __always_inline __u32 emit_class(struct cursor *c, struct pkt_info *pi, struct tcphdr *th,
					int dir, __u32 payload_off, __u32 payload_len,
					__u32 caplen, __u32 ifindex, const __u32 class)
{
	struct mp_seg_hdr *h;

	h = bpf_ringbuf_reserve(&events, sizeof(*h) + class, 0);
	if (!h)
		return MP_CNT_RB_FULL;
	fill_hdr(h, pi, th, dir, payload_len, caplen, ifindex);
	if (caplen > 0) {
		/* caplen is in [1, class]: n + 1 is still, and the mask (opaque to clang, which
		 * otherwise loses the bound on the way to the call) shows the verifier so. */
		__u32 n = caplen - 1;

		asm volatile("%0 &= %1" : "+r"(n) : "i"(class - 1));
		if (cur_load(c, payload_off, (void *)(h + 1), n + 1)) {
			bpf_ringbuf_discard(h, BPF_RB_NO_WAKEUP);
			return MP_CNT_MALFORMED;
		}
	}
	bpf_ringbuf_submit(h, wakeup_flags());
	if (caplen < payload_len)
		count(MP_CNT_TRUNCATED);
	return MP_CNT_KEPT;
}

/* Emits one record for a kept segment; returns the counter that explains the outcome. */
static __always_inline __u32 emit(struct cursor *c, struct pkt_info *pi, struct tcphdr *th,
				  int dir, __u32 payload_off, __u32 payload_len, __u32 ifindex)
{
	__u32 caplen = payload_len;

	if (mp_snaplen && caplen > mp_snaplen) /* 0: whole segments */
		caplen = mp_snaplen;
	if (caplen > MP_MAX_CAPLEN)
		caplen = MP_MAX_CAPLEN;
#define MP_EMIT_IF_FITS(cls)                                                                   \
	if (caplen <= (cls))                                                                  \
		return emit_class(c, pi, th, dir, payload_off, payload_len, caplen, ifindex, (cls))
	MP_EMIT_IF_FITS(MP_REC_CLASS_MIN);
	MP_EMIT_IF_FITS(128);
	MP_EMIT_IF_FITS(256);
	MP_EMIT_IF_FITS(512);
	MP_EMIT_IF_FITS(1024);
	MP_EMIT_IF_FITS(2048);
	MP_EMIT_IF_FITS(4096);
	MP_EMIT_IF_FITS(8192);
	MP_EMIT_IF_FITS(16384);
	MP_EMIT_IF_FITS(32768);
#undef MP_EMIT_IF_FITS
	return emit_class(c, pi, th, dir, payload_off, payload_len, caplen, ifindex, 65536);
}

static __always_inline __u32 capture(struct cursor *c, __u32 ifindex)
{
	struct pkt_info pi;
	struct tcphdr th;
	__u32 doff, payload_len;
	__u8 flags;
	int res, dir;

	res = parse_l3(c, &pi);
	if (res == PARSE_NOT_TCP)
		return MP_CNT_NOT_TCP;
	if (res != PARSE_TCP)
		return MP_CNT_MALFORMED;
	if (cur_load(c, c->off, &th, sizeof(th)))
		return MP_CNT_MALFORMED;
	doff = th.doff * 4;
	if (doff < sizeof(th) || doff > pi.ip_payload)
		return MP_CNT_MALFORMED;
	dir = port_dir(bpf_ntohs(th.source), bpf_ntohs(th.dest));
	if (dir < 0)
		return MP_CNT_OTHER_PORT;
	payload_len = pi.ip_payload - doff;
	flags = ((__u8 *)&th)[13];
	if (payload_len == 0 && !(flags & (MP_TCP_SYN | MP_TCP_FIN | MP_TCP_RST)))
		return MP_CNT_NO_PAYLOAD;
	return emit(c, &pi, &th, dir, c->off + doff, payload_len, ifindex);
}

/* TC ingress and egress. A tap gives no verdict: TC_ACT_UNSPEC (tcx: TCX_NEXT) lets the
 * next program on the device, and the netlink filters after it, see the packet too; with
 * none left the packet passes. TC_ACT_OK would end the chain there. */
SEC("tc")
int mp_tc(struct __sk_buff *skb)
{
	struct cursor c = { .ctx = skb, .pkt_len = skb->len, .xdp = 0 };

	count(MP_CNT_SEEN);
	count(capture(&c, skb->ifindex));
	return TC_ACT_UNSPEC;
}

/* XDP ingress. "xdp.frags" so that generic XDP need not linearise (and,
 * failing to, drop) large GSO packets on lo and veth. Always XDP_PASS. */
SEC("xdp.frags")
int mp_xdp(struct xdp_md *ctx)
{
	struct cursor c = { .ctx = ctx, .pkt_len = bpf_xdp_get_buff_len(ctx), .xdp = 1 };

	count(MP_CNT_SEEN);
	count(capture(&c, ctx->ingress_ifindex));
	return XDP_PASS;
}
