// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Runs crafted frames through the real capture object (BPF_PROG_TEST_RUN) and checks records and counters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "capture_abi.h"

#define TC_ACT_OK 0
#define XDP_PASS 2
#define MAX_REC 64
#define MAX_FRAME 70000

struct rec {
	struct mp_seg_hdr h;
	__u8 data[2048];
};

struct env {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct rec recs[MAX_REC];
	int nrec;
	int ncpus;
};

/* ------------------------------------------------------------ frames */

struct frame {
	__u8 b[MAX_FRAME];
	size_t len;
};

struct spec {
	int v6;
	int vlans;	   /* 0, 1 or 2 tags */
	int ip_opt_words;  /* IPv4 options, 4-byte words */
	int v6_hbh;	   /* an IPv6 hop-by-hop header before TCP */
	int tcp_opt_words; /* TCP options, 4-byte words */
	__u8 l4proto;	   /* 6 unless testing UDP */
	__u16 sport, dport;
	__u8 flags;
	size_t payload;
	int frag;	   /* IPv4 MF set */
	__u16 ethertype;   /* override (e.g. ARP) */
};

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static const __u8 v4_src[4] = { 10, 1, 2, 3 }, v4_dst[4] = { 10, 4, 5, 6 };
static const __u8 v6_src[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const __u8 v6_dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

#define SEQ 0xfffffff0u
#define ACK 0x12345678u

/* Returns the offset of the payload. */
static size_t build(struct frame *f, const struct spec *s)
{
	__u8 *p = f->b;
	size_t off = 12, ip_off, l4_off, thl, iphl;

	memset(f->b, 0, 128);
	memset(p, 0xaa, 6);
	memset(p + 6, 0xbb, 6);
	for (int i = 0; i < s->vlans; i++) {
		put16(p + off, i == 0 && s->vlans == 2 ? 0x88a8 : 0x8100);
		put16(p + off + 2, 100 + i);
		off += 4;
	}
	put16(p + off, s->ethertype ? s->ethertype : s->v6 ? 0x86dd : 0x0800);
	off += 2;
	ip_off = off;
	thl = 20 + 4 * s->tcp_opt_words;
	if (!s->v6) {
		iphl = 20 + 4 * s->ip_opt_words;
		p[off] = 0x40 | (iphl / 4);
		put16(p + off + 2, (__u16)(iphl + thl + s->payload));
		if (s->frag)
			put16(p + off + 6, 0x2000);
		p[off + 8] = 64;
		p[off + 9] = s->l4proto ? s->l4proto : 6;
		memcpy(p + off + 12, v4_src, 4);
		memcpy(p + off + 16, v4_dst, 4);
		for (int i = 0; i < s->ip_opt_words; i++)
			memset(p + off + 20 + 4 * i, 1, 4); /* NOPs */
		l4_off = off + iphl;
	} else {
		size_t ext = s->v6_hbh ? 8 : 0;

		p[off] = 0x60;
		put16(p + off + 4, (__u16)(ext + thl + s->payload));
		p[off + 6] = s->v6_hbh ? 0 : (s->l4proto ? s->l4proto : 6);
		p[off + 7] = 64;
		memcpy(p + off + 8, v6_src, 16);
		memcpy(p + off + 24, v6_dst, 16);
		l4_off = off + 40;
		if (s->v6_hbh) {
			p[l4_off] = s->l4proto ? s->l4proto : 6;
			p[l4_off + 1] = 0;
			p[l4_off + 2] = 1; /* PadN */
			p[l4_off + 3] = 4;
			memset(p + l4_off + 4, 0, 4);
			l4_off += 8;
		}
	}
	(void)ip_off;
	put16(p + l4_off, s->sport);
	put16(p + l4_off + 2, s->dport);
	put32(p + l4_off + 4, SEQ);
	put32(p + l4_off + 8, ACK);
	p[l4_off + 12] = (thl / 4) << 4;
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

/* ------------------------------------------------------------ harness */

static int on_rec(void *ctx, void *data, size_t size)
{
	struct env *e = ctx;
	struct rec *r;

	if (e->nrec >= MAX_REC)
		return 0;
	r = &e->recs[e->nrec++];
	assert_true(size >= sizeof(r->h));
	memcpy(&r->h, data, sizeof(r->h));
	assert_int_equal(size, sizeof(r->h) + r->h.caplen); /* exact-size records */
	memcpy(r->data, (__u8 *)data + sizeof(r->h),
	       r->h.caplen < sizeof(r->data) ? r->h.caplen : sizeof(r->data));
	return 0;
}

static struct env *env_new(const __u16 *ports, int nports, __u32 snaplen, __u32 rb_bytes)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->ncpus = libbpf_num_possible_cpus();
	e->skel = capture_bpf__open();
	assert_non_null(e->skel);
	for (int i = 0; i < nports; i++)
		e->skel->rodata->mp_ports[i] = ports[i];
	e->skel->rodata->mp_nports = nports;
	e->skel->rodata->mp_snaplen = snaplen;
	assert_int_equal(bpf_map__set_max_entries(e->skel->maps.scratch, e->ncpus), 0);
	assert_int_equal(bpf_map__set_max_entries(e->skel->maps.events, rb_bytes), 0);
	assert_int_equal(capture_bpf__load(e->skel), 0);
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_rec, e, NULL);
	assert_non_null(e->rb);
	return e;
}

static void env_free(struct env *e)
{
	ring_buffer__free(e->rb);
	capture_bpf__destroy(e->skel);
	free(e);
}

static void counters(struct env *e, __u64 out[MP_CNT_MAX])
{
	__u64 vals[e->ncpus];

	for (__u32 k = 0; k < MP_CNT_MAX; k++) {
		out[k] = 0;
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.counters), &k, vals), 0);
		for (int c = 0; c < e->ncpus; c++)
			out[k] += vals[c];
	}
}

/* Runs one frame through TC (xdp=0) or XDP (xdp=1); returns the counter deltas,
 * or -EINVAL when the kernel's test harness itself refuses the frame (only
 * allowed when tolerate_einval). */
static int run_frame(struct env *e, int xdp, const void *data, size_t len, __u64 delta[MP_CNT_MAX],
		     int tolerate_einval)
{
	__u64 before[MP_CNT_MAX], after[MP_CNT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = len, .repeat = 1);
	struct bpf_program *prog = xdp ? e->skel->progs.mp_xdp : e->skel->progs.mp_tc;

	int err;

	counters(e, before);
	e->nrec = 0;
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	if (err == -EINVAL && tolerate_einval)
		return err;
	assert_int_equal(err, 0);
	assert_int_equal(o.retval, xdp ? XDP_PASS : TC_ACT_OK); /* a tap never drops */
	ring_buffer__consume(e->rb);
	counters(e, after);
	for (int k = 0; k < MP_CNT_MAX; k++)
		delta[k] = after[k] - before[k];
	/* Every frame is explained by exactly one outcome counter. */
	assert_int_equal(delta[MP_CNT_SEEN], 1);
	assert_int_equal(delta[MP_CNT_KEPT] + delta[MP_CNT_NOT_TCP] + delta[MP_CNT_OTHER_PORT] +
				 delta[MP_CNT_NO_PAYLOAD] + delta[MP_CNT_MALFORMED] +
				 delta[MP_CNT_RB_FULL],
			 1);
	assert_int_equal(delta[MP_CNT_KEPT], e->nrec);
	return 0;
}

static void run(struct env *e, int xdp, const void *data, size_t len, __u64 delta[MP_CNT_MAX])
{
	run_frame(e, xdp, data, len, delta, 0);
}

static int root_setup(void **state)
{
	static const __u16 ports[] = { 3306, 3307 };

	if (geteuid() != 0) {
		print_message("# SKIP reason: loading and test-running BPF needs root\n");
		return 0;
	}
	*state = env_new(ports, 2, 0, 1 << 20);
	return 0;
}

static int root_teardown(void **state)
{
	if (*state)
		env_free(*state);
	return 0;
}

#define NEED_ROOT(e)                                                    \
	do {                                                            \
		if (!(e))                                               \
			skip(); /* loading BPF needs root */            \
	} while (0)

static struct frame fr;

/* One kept segment, checked field by field, through both hooks. */
static void expect_kept(struct env *e, const struct spec *s, int dir)
{
	__u64 d[MP_CNT_MAX];
	size_t poff = build(&fr, s);

	for (int xdp = 0; xdp < 2; xdp++) {
		run(e, xdp, fr.b, fr.len, d);
		assert_int_equal(d[MP_CNT_KEPT], 1);
		struct mp_seg_hdr *h = &e->recs[0].h;
		assert_int_equal(h->family, s->v6 ? 6 : 4);
		assert_memory_equal(h->saddr, s->v6 ? v6_src : v4_src, s->v6 ? 16 : 4);
		assert_memory_equal(h->daddr, s->v6 ? v6_dst : v4_dst, s->v6 ? 16 : 4);
		assert_int_equal(h->sport, s->sport);
		assert_int_equal(h->dport, s->dport);
		assert_int_equal(h->seq, SEQ);
		assert_int_equal(h->ack, ACK);
		assert_int_equal(h->tcp_flags, s->flags);
		assert_int_equal(h->len, s->payload);
		assert_int_equal(h->caplen, s->payload);
		assert_int_equal(h->dir, dir);
		assert_true(h->ts_ns > 0);
		if (s->payload)
			assert_memory_equal(e->recs[0].data, fr.b + poff,
					    s->payload < 2048 ? s->payload : 2048);
	}
}

static void test_ipv4_both_directions(void **state)
{
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 33 };

	NEED_ROOT(*state);
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.sport = 3307;
	s.dport = 40000;
	expect_kept(*state, &s, MP_DIR_TO_CLIENT);
	/* Between two MySQL ports the destination decides: to the server. */
	s.sport = 3307;
	s.dport = 3306;
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
}

static void test_ipv6_and_ext_header(void **state)
{
	struct spec s = { .v6 = 1, .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 100 };

	NEED_ROOT(*state);
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.v6_hbh = 1;
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.sport = 3306;
	s.dport = 50000;
	expect_kept(*state, &s, MP_DIR_TO_CLIENT);
}

static void test_vlan_and_options(void **state)
{
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 7 };

	NEED_ROOT(*state);
	s.vlans = 1;
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.vlans = 2;
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.ip_opt_words = 3;
	s.tcp_opt_words = 3;
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
	s.v6 = 1;
	s.ip_opt_words = 0;
	s.tcp_opt_words = 10; /* the largest TCP header: 60 bytes */
	expect_kept(*state, &s, MP_DIR_TO_SERVER);
}

static void test_syn_fin_rst_kept_without_payload(void **state)
{
	static const __u8 flags[] = { 0x02, 0x12, 0x11, 0x04, 0x14 };

	NEED_ROOT(*state);
	for (size_t i = 0; i < sizeof(flags); i++) {
		struct spec s = { .sport = 40000, .dport = 3306, .flags = flags[i] };

		expect_kept(*state, &s, MP_DIR_TO_SERVER);
	}
}

static void expect_counter(struct env *e, const struct spec *s, int counter)
{
	__u64 d[MP_CNT_MAX];

	build(&fr, s);
	for (int xdp = 0; xdp < 2; xdp++) {
		run(e, xdp, fr.b, fr.len, d);
		assert_int_equal(d[counter], 1);
		assert_int_equal(e->nrec, 0);
	}
}

static void test_dropped_kinds_counted(void **state)
{
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x10 };

	NEED_ROOT(*state);
	expect_counter(*state, &s, MP_CNT_NO_PAYLOAD); /* pure ACK */
	s.v6 = 1;
	expect_counter(*state, &s, MP_CNT_NO_PAYLOAD);
	s = (struct spec){ .sport = 40000, .dport = 5432, .flags = 0x18, .payload = 10 };
	expect_counter(*state, &s, MP_CNT_OTHER_PORT);
	s.l4proto = 17;
	s.dport = 3306;
	expect_counter(*state, &s, MP_CNT_NOT_TCP); /* UDP to the MySQL port */
	s.l4proto = 0;
	s.frag = 1;
	expect_counter(*state, &s, MP_CNT_NOT_TCP); /* an IPv4 fragment */
	s.frag = 0;
	s.ethertype = 0x0806;
	expect_counter(*state, &s, MP_CNT_NOT_TCP); /* ARP */
}

/* A frame cut at every length short of complete: malformed, never a record. */
static void test_cut_at_every_boundary(void **state)
{
	const struct spec specs[] = {
		{ .vlans = 1, .ip_opt_words = 1, .tcp_opt_words = 2, .sport = 40000,
		  .dport = 3306, .flags = 0x18, .payload = 40 },
		{ .v6 = 1, .v6_hbh = 1, .sport = 3306, .dport = 40000, .flags = 0x18,
		  .payload = 40 },
	};
	__u64 d[MP_CNT_MAX];
	int refused = 0;

	NEED_ROOT(*state);
	for (size_t i = 0; i < 2; i++) {
		size_t full;

		build(&fr, &specs[i]);
		full = fr.len;
		/* test_run needs at least an Ethernet header for either hook. */
		for (size_t cut = 14; cut < full; cut++) {
			for (int xdp = 0; xdp < 2; xdp++) {
				/* The skb harness refuses IPv6 frames shorter than an
				 * IPv6 header; XDP still runs every cut. */
				if (run_frame(*state, xdp, fr.b, cut, d,
					      !xdp && specs[i].v6 && cut < 14 + 40)) {
					refused++;
					continue;
				}
				assert_int_equal(d[MP_CNT_MALFORMED], 1);
			}
		}
	}
	print_message("# %d short frames refused by the kernel's skb test harness\n", refused);
}

/* Payload beyond the snap length: cut, flagged, and the original length kept. */
static void test_snaplen_truncates(void **state)
{
	static const __u16 ports[] = { 3306 };
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 1000 };
	struct env *e;
	__u64 d[MP_CNT_MAX];
	size_t poff;

	NEED_ROOT(*state);
	e = env_new(ports, 1, 100, 1 << 20);
	poff = build(&fr, &s);
	for (int xdp = 0; xdp < 2; xdp++) {
		run(e, xdp, fr.b, fr.len, d);
		assert_int_equal(d[MP_CNT_KEPT], 1);
		assert_int_equal(d[MP_CNT_TRUNCATED], 1);
		assert_int_equal(e->recs[0].h.len, 1000);
		assert_int_equal(e->recs[0].h.caplen, 100);
		assert_memory_equal(e->recs[0].data, fr.b + poff, 100);
	}
	env_free(e);
}

/* A full ring buffer loses records but is counted; the verdict stays pass. */
static void test_ringbuf_full_counted(void **state)
{
	static const __u16 ports[] = { 3306 };
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 1400 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
	__u64 c[MP_CNT_MAX];
	struct env *e;

	NEED_ROOT(*state);
	e = env_new(ports, 1, 0, 4096 * 4);
	build(&fr, &s);
	o.data_in = fr.b;
	o.data_size_in = fr.len;
	/* Nobody consumes: 16 KiB holds at most 11 records of 1.4 KiB. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.mp_tc), &o),
				 0);
		assert_int_equal(o.retval, TC_ACT_OK);
	}
	counters(e, c);
	assert_int_equal(c[MP_CNT_SEEN], 20);
	assert_true(c[MP_CNT_RB_FULL] >= 9);
	assert_int_equal(c[MP_CNT_KEPT] + c[MP_CNT_RB_FULL], 20);
	env_free(e);
}

/* XDP test_run takes multi-buffer frames: a 60 KB GSO-sized segment is kept whole. */
static void test_large_segment_whole(void **state)
{
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = 60000 };
	struct env *e = *state;
	__u64 d[MP_CNT_MAX];

	NEED_ROOT(e);
	build(&fr, &s);
	run(e, 1, fr.b, fr.len, d);
	assert_int_equal(d[MP_CNT_KEPT], 1);
	assert_int_equal(e->recs[0].h.len, 60000);
	assert_int_equal(e->recs[0].h.caplen, 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_both_directions),
		cmocka_unit_test(test_ipv6_and_ext_header),
		cmocka_unit_test(test_vlan_and_options),
		cmocka_unit_test(test_syn_fin_rst_kept_without_payload),
		cmocka_unit_test(test_dropped_kinds_counted),
		cmocka_unit_test(test_cut_at_every_boundary),
		cmocka_unit_test(test_snaplen_truncates),
		cmocka_unit_test(test_ringbuf_full_counted),
		cmocka_unit_test(test_large_segment_whole),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests_name("bpf_capture", tests, root_setup, root_teardown);
}
