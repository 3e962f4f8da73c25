// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for user/packet.c: every link type, cut frames, and the port filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture/frame.h"

static const struct port_filter pf = { .ports = { 3306, 3307 }, .nports = 2 };

/* IPv4 + TCP (doff 6, one option word) + 5 payload bytes, after a link header of l2len. */
static size_t ipv4_tcp(__u8 *b, size_t l2len, __u16 sport, __u16 dport, __u8 flags, size_t plen)
{
	__u8 *ip = b + l2len, *th = ip + 20;
	size_t tot = 20 + 24 + plen;

	memset(ip, 0, tot);
	ip[0] = 0x45;
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[9] = 6;
	ip[12] = 127, ip[15] = 1;
	ip[16] = 127, ip[19] = 2;
	th[0] = sport >> 8, th[1] = sport & 0xff;
	th[2] = dport >> 8, th[3] = dport & 0xff;
	th[4] = 0xde, th[5] = 0xad, th[6] = 0xbe, th[7] = 0xef;
	th[11] = 7;
	th[12] = 6 << 4;
	th[13] = flags;
	for (size_t i = 0; i < plen; i++)
		th[24 + i] = (__u8)('a' + i);
	return l2len + tot;
}

static size_t ipv6_tcp(__u8 *b, size_t l2len, __u16 sport, __u16 dport, size_t plen)
{
	__u8 *ip = b + l2len, *th = ip + 40;

	memset(ip, 0, 40 + 20 + plen);
	ip[0] = 0x60;
	ip[4] = (20 + plen) >> 8;
	ip[5] = (20 + plen) & 0xff;
	ip[6] = 6;
	ip[23] = 1;
	ip[39] = 2;
	th[0] = sport >> 8, th[1] = sport & 0xff;
	th[2] = dport >> 8, th[3] = dport & 0xff;
	th[12] = 5 << 4;
	th[13] = 0x18;
	memset(th + 20, 'z', plen);
	return l2len + 40 + 20 + plen;
}

static void expect_kept(int lt, const __u8 *b, size_t len, int dir, __u32 plen, __u8 fam)
{
	struct mp_seg_hdr h;
	const __u8 *payload;

	assert_int_equal(frame_parse(lt, b, len, len, &pf, &h, &payload), MP_CNT_KEPT);
	assert_int_equal(h.dir, dir);
	assert_int_equal(h.len, plen);
	assert_int_equal(h.caplen, plen);
	assert_int_equal(h.family, fam);
	if (plen && fam == 4)
		assert_int_equal(payload[0], 'a');
}

static void test_ethernet_vlan_and_options(void **state)
{
	__u8 b[256] = { [12] = 0x08, [13] = 0x00 };
	size_t n = ipv4_tcp(b, 14, 40000, 3306, 0x18, 5);

	(void)state;
	expect_kept(PKT_LINK_ETHERNET, b, n, MP_DIR_TO_SERVER, 5, 4);
	/* One 802.1Q tag in front of the same IPv4 packet. */
	memset(b, 0, sizeof(b));
	b[12] = 0x81, b[16] = 0x08;
	n = ipv4_tcp(b, 18, 3307, 40000, 0x18, 5);
	expect_kept(PKT_LINK_ETHERNET, b, n, MP_DIR_TO_CLIENT, 5, 4);
	/* Ethernet padding after a short packet is not payload. */
	memset(b, 0, sizeof(b));
	b[12] = 0x08;
	n = ipv4_tcp(b, 14, 40000, 3306, 0x02, 0);
	expect_kept(PKT_LINK_ETHERNET, b, 60, MP_DIR_TO_SERVER, 0, 4);
	(void)n;
}

static void test_other_link_types(void **state)
{
	__u8 b[256] = {};
	size_t n;

	(void)state;
	n = ipv4_tcp(b, 0, 40000, 3306, 0x18, 5);
	expect_kept(PKT_LINK_RAW, b, n, MP_DIR_TO_SERVER, 5, 4);
	expect_kept(PKT_LINK_IPV4, b, n, MP_DIR_TO_SERVER, 5, 4);
	n = ipv6_tcp(b, 0, 40000, 3306, 9);
	expect_kept(PKT_LINK_RAW_OLD, b, n, MP_DIR_TO_SERVER, 9, 6);
	/* Linux cooked v1: protocol at offset 14. */
	memset(b, 0, sizeof(b));
	b[14] = 0x86, b[15] = 0xdd;
	n = ipv6_tcp(b, 16, 3306, 40000, 9);
	expect_kept(PKT_LINK_SLL, b, n, MP_DIR_TO_CLIENT, 9, 6);
	/* Linux cooked v2: protocol first. */
	memset(b, 0, sizeof(b));
	b[0] = 0x08;
	n = ipv4_tcp(b, 20, 40000, 3306, 0x18, 5);
	expect_kept(PKT_LINK_SLL2, b, n, MP_DIR_TO_SERVER, 5, 4);
	/* BSD loopback (macOS lo0): host-order AF_INET6 = 30 there, 2 for IPv4. */
	memset(b, 0, sizeof(b));
	b[0] = 30;
	n = ipv6_tcp(b, 4, 40000, 3306, 3);
	expect_kept(PKT_LINK_NULL, b, n, MP_DIR_TO_SERVER, 3, 6);
	b[0] = 0, b[3] = 2; /* AF_INET written big-endian: LOOP, or NULL from the other byte order */
	n = ipv4_tcp(b, 4, 40000, 3306, 0x18, 5);
	expect_kept(PKT_LINK_LOOP, b, n, MP_DIR_TO_SERVER, 5, 4);
	expect_kept(PKT_LINK_NULL, b, n, MP_DIR_TO_SERVER, 5, 4);
	assert_false(frame_linktype_ok(105)); /* 802.11 */
}

static void test_rejections_counted(void **state)
{
	__u8 b[256] = { [12] = 0x08 };
	struct mp_seg_hdr h;
	const __u8 *p;
	size_t n;

	(void)state;
	n = ipv4_tcp(b, 14, 40000, 5432, 0x18, 5);
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &pf, &h, &p), MP_CNT_OTHER_PORT);
	n = ipv4_tcp(b, 14, 40000, 3306, 0x10, 0);
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &pf, &h, &p), MP_CNT_NO_PAYLOAD);
	b[14 + 9] = 17;
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &pf, &h, &p), MP_CNT_NOT_TCP);
	b[14 + 9] = 6;
	b[14 + 6] = 0x20; /* more fragments */
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &pf, &h, &p), MP_CNT_NOT_TCP);
	b[14 + 6] = 0;
	b[12] = 0x08, b[13] = 0x06; /* ARP */
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &pf, &h, &p), MP_CNT_NOT_TCP);
}

/* Cut before the end of the fixed TCP header: malformed. Cut later (TCP
 * options, payload): kept with the wire length and what was captured, as a
 * tcpdump -s 54 file of headers only must still show every segment. */
static void test_cut_frames(void **state)
{
	__u8 b[256] = { [12] = 0x08 };
	size_t n = ipv4_tcp(b, 14, 40000, 3306, 0x18, 20), hdrs = 14 + 20 + 24, fixed = 14 + 20 + 20;
	struct mp_seg_hdr h;
	const __u8 *p;

	(void)state;
	for (size_t cut = 0; cut < n; cut++) {
		/* the capture kept cut bytes of the n on the wire */
		int r = frame_parse(PKT_LINK_ETHERNET, b, cut, n, &pf, &h, &p);

		if (cut < fixed) {
			assert_int_equal(r, MP_CNT_MALFORMED);
		} else {
			assert_int_equal(r, MP_CNT_KEPT);
			assert_int_equal(h.len, 20);
			assert_int_equal(h.caplen, cut > hdrs ? cut - hdrs : 0);
			assert_true(p <= b + cut);
		}
	}
}

/* An IP packet longer than its frame on the wire is malformed (the BPF program sees the
 * whole frame and says so too); the capture cutting the frame is not. Length 0 (BIG TCP,
 * jumbogram) takes the wire length, not what was captured. */
static void test_lengths_against_the_wire(void **state)
{
	__u8 b[256] = { [12] = 0x08 };
	size_t n = ipv4_tcp(b, 14, 40000, 3306, 0x18, 20);
	struct mp_seg_hdr h;
	const __u8 *p;

	(void)state;
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n - 1, n - 1, &pf, &h, &p),
			 MP_CNT_MALFORMED);
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n - 1, n, &pf, &h, &p), MP_CNT_KEPT);
	assert_int_equal(h.len, 20);
	assert_int_equal(h.caplen, 19);
	b[14 + 2] = b[14 + 3] = 0; /* IPv4 total length 0 */
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n - 10, n + 100, &pf, &h, &p),
			 MP_CNT_KEPT);
	assert_int_equal(h.len, 120);
	assert_int_equal(h.caplen, 10);
	memset(b, 0, sizeof(b));
	b[12] = 0x86, b[13] = 0xdd;
	n = ipv6_tcp(b, 14, 40000, 3306, 9);
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n - 1, n - 1, &pf, &h, &p),
			 MP_CNT_MALFORMED);
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n - 1, n, &pf, &h, &p), MP_CNT_KEPT);
	assert_int_equal(h.caplen, 8);
	b[14 + 4] = b[14 + 5] = 0; /* IPv6 payload length 0 */
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n + 30, &pf, &h, &p), MP_CNT_KEPT);
	assert_int_equal(h.len, 39);
	assert_int_equal(h.caplen, 9);
}

static void test_snaplen(void **state)
{
	struct port_filter small = pf;
	__u8 b[512] = { [12] = 0x08 };
	size_t n = ipv4_tcp(b, 14, 40000, 3306, 0x18, 300);
	struct mp_seg_hdr h;
	const __u8 *p;

	(void)state;
	small.snaplen = 64;
	assert_int_equal(frame_parse(PKT_LINK_ETHERNET, b, n, n, &small, &h, &p), MP_CNT_KEPT);
	assert_int_equal(h.len, 300);
	assert_int_equal(h.caplen, 64);
	assert_int_equal(h.seq, 0xdeadbeef);
	assert_int_equal(h.ack, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_vlan_and_options),
		cmocka_unit_test(test_other_link_types),
		cmocka_unit_test(test_rejections_counted),
		cmocka_unit_test(test_cut_frames),
		cmocka_unit_test(test_lengths_against_the_wire),
		cmocka_unit_test(test_snaplen),
	};

	return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}
