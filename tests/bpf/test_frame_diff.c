// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bpf/parse.bpf.h against user/capture/frame.c: the same frames, the same verdicts and records. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/bpf_env.h"
#include "bpf/frames.h"
#include "capture/frame.h"
#include "capture_abi.h"
#include "fuzz/frame_input.h"

/*
 * The capture program (TC and XDP) and frame_parse() implement the same rules twice. Every
 * frame here goes through the real BPF object (BPF_PROG_TEST_RUN, both hooks) and through
 * frame_parse(), and the two must agree on the verdict (which counter explains the frame)
 * and, for a kept segment, on every field of the record and on the payload bytes. Frames:
 * the BPF test set (tests/bpf/frames.h), each cut at every length up to its payload and
 * with every header byte changed, and every file of the frame fuzz corpus, read as
 * tests/fuzz/fuzz_frame.c reads it (other link types behind an Ethernet header for BPF).
 *
 * What it found: frame_parse() kept IP packets longer than their frame (IPv4 total length
 * or IPv6 payload length past the frame's end) that the BPF program calls malformed, since
 * it knew only the captured length and took every short frame for one cut by a snap
 * length. Userspace was wrong: it reported payload bytes that were never on the wire. It
 * now takes the wire length too and applies the BPF rule to it (user/capture/frame.c).
 */

#define ETH_HLEN 14

/* What one parser made of a frame. */
struct verdict {
	int counter;	     /* MP_CNT_* */
	struct mp_seg_hdr h; /* when kept: ts_ns and ifindex (set by the sources) zeroed */
	const __u8 *payload; /* h.caplen bytes */
};

/* Objects already loaded: one per port set and snap length (rodata is fixed at load). */
struct loaded {
	__u16 ports[MP_MAX_PORTS];
	__u32 nports, snaplen;
	struct env *e;
};

struct diff {
	struct loaded objs[16];
	int nobjs;
	int frames, compared, failures, tc_refused, link_only;
	char first[512]; /* the first frame that disagreed */
};

static struct diff D;

static struct env *object_for(const struct port_filter *pf)
{
	struct loaded *l;

	for (int i = 0; i < D.nobjs; i++) {
		l = &D.objs[i];
		if (l->nports == pf->nports && l->snaplen == pf->snaplen &&
		    !memcmp(l->ports, pf->ports, pf->nports * sizeof(pf->ports[0])))
			return l->e;
	}
	assert_true(D.nobjs < (int)(sizeof(D.objs) / sizeof(D.objs[0])));
	l = &D.objs[D.nobjs++];
	memcpy(l->ports, pf->ports, sizeof(l->ports));
	l->nports = pf->nports;
	l->snaplen = pf->snaplen;
	l->e = env_new(l->ports, l->nports, l->snaplen, 1 << 20);
	return l->e;
}

static void user_verdict(int lt, const __u8 *f, size_t len, const struct port_filter *pf,
			 struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->counter = frame_parse(lt, f, len, len, pf, &v->h, &v->payload);
	if (v->counter != MP_CNT_KEPT) {
		memset(&v->h, 0, sizeof(v->h));
		v->payload = NULL;
	}
}

static const char *const cnt_names[MP_CNT_MAX] = {
	"seen", "kept", "not_tcp", "other_port", "no_payload", "malformed", "truncated", "rb_full",
};

/* Runs f through one hook. Returns 0, or -EINVAL when the kernel's skb harness refuses
 * the frame (TC only); anything else fails the test, naming the frame. */
static int bpf_verdict(struct env *e, int xdp, const char *name, const __u8 *f, size_t len,
		       struct verdict *v)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len, .repeat = 1);
	struct bpf_program *prog = xdp ? e->skel->progs.mp_xdp : e->skel->progs.mp_tc;
	__u64 before[MP_CNT_MAX], after[MP_CNT_MAX], d[MP_CNT_MAX];
	int err, outcomes = 0;

	memset(v, 0, sizeof(*v));
	counters(e, before);
	e->nrec = 0;
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	if (err == -EINVAL && !xdp)
		return err;
	if (err || o.retval != (xdp ? XDP_PASS : TC_ACT_UNSPEC))
		fail_msg("frame %s (%s): test_run %d, verdict %u", name, xdp ? "xdp" : "tc", err,
			 o.retval);
	ring_buffer__consume(e->rb);
	counters(e, after);
	for (int k = 0; k < MP_CNT_MAX; k++) {
		d[k] = after[k] - before[k];
		if (k != MP_CNT_SEEN && k != MP_CNT_TRUNCATED && d[k]) {
			v->counter = k;
			outcomes += d[k];
		}
	}
	if (d[MP_CNT_SEEN] != 1 || outcomes != 1 || d[MP_CNT_KEPT] != (__u64)e->nrec)
		fail_msg("frame %s (%s): seen %llu, %d outcomes, %d records", name,
			 xdp ? "xdp" : "tc", (unsigned long long)d[MP_CNT_SEEN], outcomes, e->nrec);
	if (v->counter != MP_CNT_KEPT)
		return 0;
	v->h = e->recs[0].h;
	v->h.ts_ns = 0;
	v->h.ifindex = 0;
	v->payload = e->recs[0].data;
	if (d[MP_CNT_TRUNCATED] != (v->h.caplen < v->h.len))
		fail_msg("frame %s (%s): truncated counter %llu for caplen %u of %u", name,
			 xdp ? "xdp" : "tc", (unsigned long long)d[MP_CNT_TRUNCATED], v->h.caplen,
			 v->h.len);
	return 0;
}

static void hex(char *out, size_t n, const __u8 *p, size_t len)
{
	for (size_t i = 0; i < len && 2 * i + 2 < n; i++)
		snprintf(out + 2 * i, n - 2 * i, "%02x", p[i]);
}

/* Says how a and b differ (empty when they agree). */
static void compare(const struct verdict *a, const struct verdict *b, char *why, size_t n)
{
	const struct mp_seg_hdr *x = &a->h, *y = &b->h;
	char sa[33] = "", sb[33] = "";

	why[0] = 0;
	if (a->counter != b->counter) {
		snprintf(why, n, "verdict %s vs %s", cnt_names[a->counter], cnt_names[b->counter]);
		return;
	}
	if (a->counter != MP_CNT_KEPT)
		return;
#define FIELD(f)                                                                        \
	if (x->f != y->f) {                                                             \
		snprintf(why, n, #f " %llu vs %llu", (unsigned long long)x->f,          \
			 (unsigned long long)y->f);                                     \
		return;                                                         \
	}
	FIELD(family);
	FIELD(dir);
	FIELD(sport);
	FIELD(dport);
	FIELD(seq);
	FIELD(ack);
	FIELD(tcp_flags);
	FIELD(len);
	FIELD(caplen);
#undef FIELD
	if (memcmp(x->saddr, y->saddr, 16) || memcmp(x->daddr, y->daddr, 16)) {
		hex(sa, sizeof(sa), x->saddr, 16);
		hex(sb, sizeof(sb), y->saddr, 16);
		snprintf(why, n, "addresses (saddr %s vs %s)", sa, sb);
	} else if (memcmp(x, y, sizeof(*x))) {
		snprintf(why, n, "record bytes (padding)");
	} else if (x->caplen && memcmp(a->payload, b->payload, x->caplen)) {
		snprintf(why, n, "payload bytes (payload offset)");
	}
}

static void disagree(const char *name, const char *what, const char *why)
{
	print_message("# DISAGREE frame %s: %s: %s\n", name, what, why);
	if (!D.failures++)
		snprintf(D.first, sizeof(D.first), "%.200s: %.60s: %.200s", name, what, why);
}

/*
 * The same frame behind an Ethernet header, the only link layer the BPF program sees.
 * Returns its length, or 0 when the link header itself is cut (nothing to compare).
 */
static size_t to_ethernet(int lt, const __u8 *f, size_t n, __u8 *out)
{
	size_t l2;
	__u16 et;
	__u32 af;

	switch (lt) {
	case PKT_LINK_ETHERNET:
		memcpy(out, f, n);
		return n;
	case PKT_LINK_SLL:
		if (n < 16)
			return 0;
		et = f[14] << 8 | f[15];
		l2 = 16;
		break;
	case PKT_LINK_SLL2:
		if (n < 20)
			return 0;
		et = f[0] << 8 | f[1];
		l2 = 20;
		break;
	case PKT_LINK_NULL:
	case PKT_LINK_LOOP:
		if (n < 4)
			return 0;
		if (lt == PKT_LINK_LOOP)
			af = (__u32)f[0] << 24 | f[1] << 16 | f[2] << 8 | f[3];
		else
			memcpy(&af, f, 4);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		et = af == 2 ? 0x0800 : (af == 10 || af == 24 || af == 28 || af == 30) ? 0x86dd : 0;
		l2 = 4;
		break;
	default: /* raw IP */
		if (n < 1)
			return 0;
		et = f[0] >> 4 == 4 ? 0x0800 : f[0] >> 4 == 6 ? 0x86dd : 0;
		l2 = 0;
	}
	memset(out, 0, 12);
	out[12] = et >> 8;
	out[13] = et & 0xff;
	memcpy(out + ETH_HLEN, f + l2, n - l2);
	return ETH_HLEN + n - l2;
}

static __u8 eth_buf[MAX_FRAME + ETH_HLEN];

/*
 * Runs one frame through frame_parse() (with its own link type) and, as an Ethernet frame,
 * through both hooks; records every disagreement. Returns frame_parse()'s verdict.
 */
static int diff_frame(const char *name, int lt, const __u8 *f, size_t len,
		      const struct port_filter *pf, struct verdict *user)
{
	struct verdict eth_user, v;
	char why[200];
	size_t elen;
	struct env *e;

	D.frames++;
	user_verdict(lt, f, len, pf, user);
	elen = to_ethernet(lt, f, len, eth_buf);
	if (lt != PKT_LINK_ETHERNET) {
		if (!elen) {
			/* Only frame_parse() reads this link type: a cut header is malformed. */
			D.link_only++;
			if (user->counter != MP_CNT_MALFORMED)
				disagree(name, "cut link header", cnt_names[user->counter]);
			return user->counter;
		}
		/* Its link layer aside, frame_parse() must see the Ethernet frame the same way. */
		user_verdict(PKT_LINK_ETHERNET, eth_buf, elen, pf, &eth_user);
		compare(user, &eth_user, why, sizeof(why));
		if (why[0])
			disagree(name, "userspace, own link type vs Ethernet", why);
	}
	if (elen < ETH_HLEN) {
		/* BPF_PROG_TEST_RUN needs an Ethernet header; a frame on the wire has one. */
		D.link_only++;
		if (user->counter != MP_CNT_MALFORMED)
			disagree(name, "frame shorter than Ethernet", cnt_names[user->counter]);
		return user->counter;
	}
	e = object_for(pf);
	for (int xdp = 0; xdp < 2; xdp++) {
		if (bpf_verdict(e, xdp, name, eth_buf, elen, &v)) {
			D.tc_refused++;
			continue;
		}
		D.compared++;
		compare(&v, user, why, sizeof(why));
		if (why[0])
			disagree(name, xdp ? "BPF (xdp) vs userspace" : "BPF (tc) vs userspace",
				 why);
	}
	return user->counter;
}

static void report(const char *what)
{
	print_message("# %s: %d frames, %d BPF runs compared, %d refused by the skb harness "
		      "(XDP ran them), %d userspace only\n",
		      what, D.frames, D.compared, D.tc_refused, D.link_only);
	if (D.failures)
		fail_msg("%d disagreements between BPF and userspace; the first: %s", D.failures,
			 D.first);
}

static void reset(void)
{
	D.frames = D.compared = D.failures = D.tc_refused = D.link_only = 0;
	D.first[0] = 0;
}

static struct port_filter case_filter(const struct frame_case *fc)
{
	struct port_filter pf = { .nports = 2, .snaplen = fc->snaplen };

	memcpy(pf.ports, frame_ports, sizeof(frame_ports));
	return pf;
}

static struct frame fr;

/* Every frame of the BPF test set: the parsers agree, and both say what the case says. */
static void test_frame_cases_agree(void **state)
{
	struct verdict u;

	if (!*state)
		skip();
	reset();
	for (size_t i = 0; i < N_FRAME_CASES; i++) {
		const struct frame_case *fc = &frame_cases[i];
		struct port_filter pf = case_filter(fc);
		char why[200] = "";

		build(&fr, &fc->s);
		if (diff_frame(fc->name, PKT_LINK_ETHERNET, fr.b, fr.len, &pf, &u) != fc->counter)
			snprintf(why, sizeof(why), "verdict %s, want %s", cnt_names[u.counter],
				 cnt_names[fc->counter]);
		else if (u.counter == MP_CNT_KEPT &&
			 (u.h.dir != fc->dir || u.h.len != frame_case_len(fc) ||
			  u.h.caplen != frame_case_caplen(fc)))
			snprintf(why, sizeof(why), "dir %u len %u caplen %u, want %d %u %u",
				 u.h.dir, u.h.len, u.h.caplen, fc->dir, frame_case_len(fc),
				 frame_case_caplen(fc));
		if (why[0])
			disagree(fc->name, "userspace vs the case", why);
	}
	report("frame cases");
}

/* Each frame cut at every length up to 8 bytes into its payload, and one byte short. */
static void test_cut_frames_agree(void **state)
{
	char name[128];
	struct verdict u;

	if (!*state)
		skip();
	reset();
	for (size_t i = 0; i < N_FRAME_CASES; i++) {
		const struct frame_case *fc = &frame_cases[i];
		struct port_filter pf = case_filter(fc);
		size_t poff = frame_case_payload_off(fc, build(&fr, &fc->s)), full = fr.len;

		if (fc->xdp_only)
			continue;
		for (size_t cut = 0; cut < full; cut++) {
			if (cut > poff + 8 && cut != full - 1)
				continue;
			snprintf(name, sizeof(name), "%s cut at %zu of %zu", fc->name, cut, full);
			diff_frame(name, PKT_LINK_ETHERNET, fr.b, cut, &pf, &u);
		}
	}
	for (size_t i = 0; i < sizeof(cut_specs) / sizeof(cut_specs[0]); i++) {
		struct port_filter pf = { .ports = { 3306, 3307 }, .nports = 2 };

		build(&fr, &cut_specs[i]);
		for (size_t cut = 0; cut < fr.len; cut++) {
			snprintf(name, sizeof(name), "cut_specs[%zu] cut at %zu of %zu", i, cut,
				 fr.len);
			diff_frame(name, PKT_LINK_ETHERNET, fr.b, cut, &pf, &u);
		}
	}
	report("cut frames");
}

/* Every header byte of every kept frame set to 0x00, 0xff and with either nibble flipped. */
static void test_changed_header_bytes_agree(void **state)
{
	char name[128];
	struct verdict u;

	if (!*state)
		skip();
	reset();
	for (size_t i = 0; i < N_FRAME_CASES; i++) {
		const struct frame_case *fc = &frame_cases[i];
		struct port_filter pf = case_filter(fc);
		size_t poff;

		if (fc->xdp_only || fc->counter != MP_CNT_KEPT)
			continue;
		poff = frame_case_payload_off(fc, build(&fr, &fc->s));
		for (size_t off = 12; off < poff; off++) {
			__u8 orig = fr.b[off];
			const __u8 vals[] = { 0x00, 0xff, orig ^ 0x0f, orig ^ 0xf0 };

			for (size_t k = 0; k < sizeof(vals); k++) {
				if (vals[k] == orig || memchr(vals, vals[k], k))
					continue;
				fr.b[off] = vals[k];
				snprintf(name, sizeof(name), "%s byte %zu 0x%02x->0x%02x", fc->name,
					 off, orig, vals[k]);
				diff_frame(name, PKT_LINK_ETHERNET, fr.b, fr.len, &pf, &u);
			}
			fr.b[off] = orig;
		}
	}
	report("changed header bytes");
}

static __u8 input[MAX_FRAME];

/* Every file of tests/fuzz/corpus/frame, read at run time, as fuzz_frame.c reads it. */
static void test_fuzz_corpus_agrees(void **state)
{
	const char *root = getenv("MP_ROOT");
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;
	int files = 0;

	if (!*state)
		skip();
	reset();
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/frame", root ? root : ".");
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open the frame corpus %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct port_filter pf;
		struct verdict u;
		const __u8 *frame;
		size_t n, len;
		FILE *f;
		int lt;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			fail_msg("cannot read %s: %s", path, strerror(errno));
		n = fread(input, 1, sizeof(input), f);
		fclose(f);
		files++;
		if (frame_input(input, n, &lt, &pf, &frame, &len))
			continue; /* too short: the fuzzer does not run it either */
		snprintf(path, sizeof(path), "corpus/frame/%s (link type %d, snaplen %u)",
			 de->d_name, lt, pf.snaplen);
		diff_frame(path, lt, frame, len, &pf, &u);
	}
	closedir(d);
	if (!files)
		fail_msg("the frame corpus %s is empty", dir);
	print_message("# %d corpus files\n", files);
	report("fuzz corpus");
}

static int setup(void **state)
{
	if (geteuid() != 0) {
		print_message("# SKIP reason: loading and test-running BPF needs root\n");
		return 0;
	}
	*state = &D;
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < D.nobjs; i++)
		env_free(D.objs[i].e);
	D.nobjs = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_cases_agree),
		cmocka_unit_test(test_cut_frames_agree),
		cmocka_unit_test(test_changed_header_bytes_agree),
		cmocka_unit_test(test_fuzz_corpus_agrees),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests_name("bpf_frame_diff", tests, setup, teardown);
}
