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

/* Payload bytes a record is filled with per load (see copy_payload). */
#define MP_CHUNK 512

/* Loads len bytes of the packet at from into the record at to; len must be a constant. */
static __always_inline long copy_chunk(struct cursor *c, __u32 from, struct bpf_dynptr *rec,
				       __u32 to, const __u32 len)
{
	void *p = bpf_dynptr_data(rec, to, len);

	if (!p)
		return -1;
	return cur_load(c, from, p, len);
}

/*
 * Loads caplen (>= 1) payload bytes at off into the record after its header. A slice of a
 * ring buffer record has a constant length, so the payload goes in MP_CHUNK pieces and the
 * last piece is the MP_CHUNK bytes that end the payload, overlapping the one before; a
 * shorter payload is two overlapping loads of the largest power of two it holds.
 */
static __always_inline long copy_payload(struct cursor *c, __u32 off, struct bpf_dynptr *rec,
					 __u32 caplen)
{
	const __u32 base = sizeof(struct mp_seg_hdr);
	__u32 done = 0;

	if (caplen >= MP_CHUNK) {
		for (int i = 0; i < MP_MAX_CAPLEN / MP_CHUNK; i++) {
			if (done + MP_CHUNK > caplen)
				break;
			if (copy_chunk(c, off + done, rec, base + done, MP_CHUNK))
				return -1;
			done += MP_CHUNK;
		}
		if (done == caplen)
			return 0;
		return copy_chunk(c, off + caplen - MP_CHUNK, rec, base + caplen - MP_CHUNK,
				  MP_CHUNK);
	}
#define MP_COPY_TWO(p)                                                                         \
	if (caplen >= (p))                                                                     \
		return copy_chunk(c, off, rec, base, (p)) ?:                                   \
		       copy_chunk(c, off + caplen - (p), rec, base + caplen - (p), (p))
	MP_COPY_TWO(256);
	MP_COPY_TWO(128);
	MP_COPY_TWO(64);
	MP_COPY_TWO(32);
	MP_COPY_TWO(16);
	MP_COPY_TWO(8);
	MP_COPY_TWO(4);
	MP_COPY_TWO(2);
#undef MP_COPY_TWO
	return copy_chunk(c, off, rec, base, 1);
}

/*
 * Emits one record for a kept segment, straight into the ring buffer at its exact size
 * (bpf_ringbuf_reserve_dynptr takes a variable size; bpf_ringbuf_reserve would need a
 * constant one): the payload is loaded from the packet into the record, one copy. Returns
 * the counter that explains the outcome.
 */
static __always_inline __u32 emit(struct cursor *c, struct pkt_info *pi, struct tcphdr *th,
				  int dir, __u32 payload_off, __u32 payload_len, __u32 ifindex)
{
	struct bpf_dynptr rec;
	struct mp_seg_hdr *h;
	__u32 caplen = payload_len;

	if (mp_snaplen && caplen > mp_snaplen) /* 0: whole segments */
		caplen = mp_snaplen;
	if (caplen > MP_MAX_CAPLEN)
		caplen = MP_MAX_CAPLEN;
	/* Even a failed reservation must be discarded (the verifier tracks the dynptr). */
	if (bpf_ringbuf_reserve_dynptr(&events, sizeof(*h) + caplen, 0, &rec)) {
		bpf_ringbuf_discard_dynptr(&rec, BPF_RB_NO_WAKEUP);
		return MP_CNT_RB_FULL;
	}
	h = bpf_dynptr_data(&rec, 0, sizeof(*h));
	if (!h || (caplen && copy_payload(c, payload_off, &rec, caplen))) {
		bpf_ringbuf_discard_dynptr(&rec, BPF_RB_NO_WAKEUP);
		return h ? MP_CNT_MALFORMED : MP_CNT_RB_FULL;
	}
	fill_hdr(h, pi, th, dir, payload_len, caplen, ifindex);
	bpf_ringbuf_submit_dynptr(&rec, wakeup_flags());
	if (caplen < payload_len)
		count(MP_CNT_TRUNCATED);
	return MP_CNT_KEPT;
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
