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

#include "bpf/bpf_env.h"
#include "bpf/frames.h"
#include "capture_abi.h"

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
	assert_int_equal(o.retval, xdp ? XDP_PASS : TC_ACT_UNSPEC); /* a tap never drops */
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

/* An assertion that names the frame case when it fails. */
#define CASE_EQ(fc, what, a, b)                                                              \
	do {                                                                                 \
		unsigned long long a_ = (a), b_ = (b);                                       \
		if (a_ != b_)                                                                \
			fail_msg("frame %s (%s): %s is %llu, want %llu", (fc)->name,         \
				 xdp ? "xdp" : "tc", what, a_, b_);                          \
	} while (0)

/* One case through both hooks (XDP only for frames the skb harness cannot take): its
 * verdict and, when kept, the record field by field. */
static void expect_case(struct env *e, const struct frame_case *fc)
{
	__u64 d[MP_CNT_MAX];
	size_t poff = frame_case_payload_off(fc, build(&fr, &fc->s));
	__u32 len = frame_case_len(fc), caplen = frame_case_caplen(fc);

	for (int xdp = fc->xdp_only; xdp < 2; xdp++) {
		const struct mp_seg_hdr *h = &e->recs[0].h;

		run(e, xdp, fr.b, fr.len, d);
		CASE_EQ(fc, "verdict counter", d[fc->counter], 1);
		if (fc->counter != MP_CNT_KEPT) {
			CASE_EQ(fc, "records", e->nrec, 0);
			continue;
		}
		CASE_EQ(fc, "family", h->family, fc->s.v6 ? 6 : 4);
		if (memcmp(h->saddr, fc->s.v6 ? v6_src : v4_src, fc->s.v6 ? 16 : 4) ||
		    memcmp(h->daddr, fc->s.v6 ? v6_dst : v4_dst, fc->s.v6 ? 16 : 4))
			fail_msg("frame %s: addresses", fc->name);
		CASE_EQ(fc, "sport", h->sport, fc->s.sport);
		CASE_EQ(fc, "dport", h->dport, fc->s.dport);
		CASE_EQ(fc, "seq", h->seq, SEQ);
		CASE_EQ(fc, "ack", h->ack, ACK);
		CASE_EQ(fc, "tcp_flags", h->tcp_flags, fc->s.flags);
		CASE_EQ(fc, "len", h->len, len);
		CASE_EQ(fc, "caplen", h->caplen, caplen);
		CASE_EQ(fc, "truncated counter", d[MP_CNT_TRUNCATED], caplen < len);
		CASE_EQ(fc, "dir", h->dir, fc->dir);
		CASE_EQ(fc, "ts_ns > 0", h->ts_ns > 0, 1);
		if (caplen && memcmp(e->recs[0].data, fr.b + poff, caplen < 2048 ? caplen : 2048))
			fail_msg("frame %s (%s): payload bytes", fc->name, xdp ? "xdp" : "tc");
	}
}

/* Every case whose name starts with group; the snap length a case asks for gets an
 * object of its own. */
static void expect_group(struct env *e, const char *group)
{
	int n = 0;

	for (size_t i = 0; i < N_FRAME_CASES; i++) {
		const struct frame_case *fc = &frame_cases[i];
		struct env *own = NULL;

		if (strncmp(fc->name, group, strlen(group)))
			continue;
		if (fc->snaplen)
			own = env_new(frame_ports, 2, fc->snaplen, 1 << 20);
		expect_case(own ? own : e, fc);
		if (own)
			env_free(own);
		n++;
	}
	assert_true(n > 0);
}

static void test_ipv4_both_directions(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "ipv4/");
}

static void test_ipv6_and_ext_header(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "ipv6/");
}

static void test_vlan_and_options(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "vlan/");
}

static void test_syn_fin_rst_kept_without_payload(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "flags/");
}

static void test_dropped_kinds_counted(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "drop/");
}

/* IPv6 extension header chains, QinQ and a third tag, IPv4 header and length fields,
 * TCP data offsets: the rules both frame parsers must share. */
static void test_edge_rules(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "edge/");
}

/* A frame cut at every length short of complete: malformed, never a record. */
static void test_cut_at_every_boundary(void **state)
{
	const struct spec *specs = cut_specs;
	__u64 d[MP_CNT_MAX];
	int refused = 0;

	NEED_ROOT(*state);
	for (size_t i = 0; i < sizeof(cut_specs) / sizeof(cut_specs[0]); i++) {
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

/* Whether a payload of len bytes comes out whole, byte for byte, through one hook. The
 * program fills a record in constant-size pieces, the last overlapping the one before:
 * every length near a piece boundary, with bytes that never repeat at a power-of-two
 * distance, shows a piece misplaced. */
static void expect_payload(struct env *e, int xdp, size_t len)
{
	struct spec s = { .sport = 40000, .dport = 3306, .flags = 0x18, .payload = len };
	size_t poff = build(&fr, &s);
	__u32 x = 2463534242u ^ (__u32)len;
	__u64 d[MP_CNT_MAX];

	for (size_t i = 0; i < len; i++) { /* xorshift32 */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		fr.b[poff + i] = (__u8)x;
	}
	/* The skb harness takes a frame of at most about a page: longer ones go to XDP only. */
	if (run_frame(e, xdp, fr.b, fr.len, d, !xdp))
		return;
	if (d[MP_CNT_KEPT] != 1 || e->recs[0].h.caplen != len ||
	    memcmp(e->recs[0].data, fr.b + poff, len))
		fail_msg("payload of %zu bytes (%s): kept %llu, caplen %u, bytes differ", len,
			 xdp ? "xdp" : "tc", (unsigned long long)d[MP_CNT_KEPT], e->recs[0].h.caplen);
}

static void test_payload_every_length(void **state)
{
	static const size_t big[] = { 1535, 1536, 1537, 2047, 2048, 2049, 3000, 4095, 4096, 4097,
				      8191, 8192, 8193, 30001, 60000, 65495 };

	NEED_ROOT(*state);
	for (int xdp = 0; xdp < 2; xdp++) {
		for (size_t len = 1; len <= 1100; len++)
			expect_payload(*state, xdp, len);
		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
			expect_payload(*state, xdp, big[i]);
	}
}

/* Payload beyond the snap length: cut, flagged, and the original length kept. */
static void test_snaplen_truncates(void **state)
{
	NEED_ROOT(*state);
	expect_group(*state, "snaplen/");
}

/* A full ring buffer loses records but is counted; the verdict stays pass. */
static void test_ringbuf_full_counted(void **state)
{
	static const __u16 ports[] = { 3306 };
	const struct frame_case *fc = frame_case("ringbuf/payload_1400");
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
	__u64 c[MP_CNT_MAX];
	struct env *e;

	NEED_ROOT(*state);
	assert_non_null(fc);
	e = env_new(ports, 1, 0, 4096 * 4);
	build(&fr, &fc->s);
	o.data_in = fr.b;
	o.data_size_in = fr.len;
	/* Nobody consumes: 16 KiB holds at most 11 records of 1.4 KiB. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.mp_tc), &o),
				 0);
		assert_int_equal(o.retval, TC_ACT_UNSPEC);
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
	NEED_ROOT(*state);
	expect_group(*state, "large/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_both_directions),
		cmocka_unit_test(test_ipv6_and_ext_header),
		cmocka_unit_test(test_vlan_and_options),
		cmocka_unit_test(test_syn_fin_rst_kept_without_payload),
		cmocka_unit_test(test_dropped_kinds_counted),
		cmocka_unit_test(test_edge_rules),
		cmocka_unit_test(test_cut_at_every_boundary),
		cmocka_unit_test(test_snaplen_truncates),
		cmocka_unit_test(test_ringbuf_full_counted),
		cmocka_unit_test(test_payload_every_length),
		cmocka_unit_test(test_large_segment_whole),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests_name("bpf_capture", tests, root_setup, root_teardown);
}
