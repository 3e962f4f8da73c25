/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The real capture object loaded for BPF_PROG_TEST_RUN: records drained, counters summed.
 * For cmocka tests: include after <cmocka.h>. */
#ifndef MP_TEST_BPF_ENV_H
#define MP_TEST_BPF_ENV_H

#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "capture_abi.h"

/* The TC program gives no verdict (the next program decides); retval is unsigned. */
#define TC_ACT_UNSPEC ((__u32)-1)
#define XDP_PASS 2
#define MAX_REC 64

struct rec {
	struct mp_seg_hdr h;
	__u8 data[MP_MAX_CAPLEN + 1];
};

struct env {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct rec recs[MAX_REC];
	int nrec;
	int ncpus;
};

static inline int on_rec(void *ctx, void *data, size_t size)
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

static inline struct env *env_new(const __u16 *ports, int nports, __u32 snaplen, __u32 rb_bytes)
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
	assert_int_equal(bpf_map__set_max_entries(e->skel->maps.events, rb_bytes), 0);
	assert_int_equal(capture_bpf__load(e->skel), 0);
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_rec, e, NULL);
	assert_non_null(e->rb);
	return e;
}

static inline void env_free(struct env *e)
{
	ring_buffer__free(e->rb);
	capture_bpf__destroy(e->skel);
	free(e);
}

static inline void counters(struct env *e, __u64 out[MP_CNT_MAX])
{
	__u64 vals[e->ncpus];

	for (__u32 k = 0; k < MP_CNT_MAX; k++) {
		out[k] = 0;
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.counters), &k, vals),
				 0);
		for (int c = 0; c < e->ncpus; c++)
			out[k] += vals[c];
	}
}

#endif /* MP_TEST_BPF_ENV_H */
