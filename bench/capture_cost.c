// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Measures the capture program's per-packet cost and how fast one core drains its ring buffer. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "capture_abi.h"

/* A 14+20+20 byte header and a payload, IPv4/TCP, ports as given. */
static size_t frame(__u8 *b, __u16 sport, __u16 dport, __u8 flags, size_t payload)
{
	size_t tot = 20 + 20 + payload;

	memset(b, 0, 14 + tot);
	b[12] = 0x08;
	b[14] = 0x45;
	b[16] = tot >> 8;
	b[17] = tot & 0xff;
	b[23] = 6;
	b[34] = sport >> 8, b[35] = sport & 0xff;
	b[36] = dport >> 8, b[37] = dport & 0xff;
	b[46] = 5 << 4;
	b[47] = flags;
	return 14 + tot < 60 ? 60 : 14 + tot;
}

/* Average ns per run of prog over repeat runs of one frame. */
static double cost_ns(int prog_fd, const __u8 *b, size_t len, __u32 repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b, .data_size_in = len, .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	return o.duration;
}

struct drain {
	struct ring_buffer *rb;
	atomic_int stop;
	__u64 records;
};

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	((struct drain *)ctx)->records++;
	return 0;
}

static void *drain_thread(void *arg)
{
	struct drain *d = arg;

	while (!atomic_load(&d->stop))
		ring_buffer__poll(d->rb, 10);
	ring_buffer__consume(d->rb);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u64 counter(struct capture_bpf *skel, __u32 k, int ncpus)
{
	__u64 v[ncpus], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &k, v))
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

int main(int argc, char **argv)
{
	__u32 repeat = argc > 1 ? (__u32)atoi(argv[1]) : 2000000;
	int ncpus = libbpf_num_possible_cpus();
	struct capture_bpf *skel;
	struct drain d = {};
	pthread_t th;
	static __u8 b[2048];
	double t0, t1, other, ack, kept100, kept1400, xdp100;
	__u64 kept, dropped;
	size_t n;
	int tc;

	skel = capture_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->mp_ports[0] = 3306;
	skel->rodata->mp_nports = 1;
	bpf_map__set_max_entries(skel->maps.events, 32 << 20);
	if (capture_bpf__load(skel)) {
		fprintf(stderr, "capture_cost: failed to load BPF: %s\n", strerror(errno));
		return 1;
	}
	tc = bpf_program__fd(skel->progs.mp_tc);
	n = frame(b, 40000, 5432, 0x18, 100);
	other = cost_ns(tc, b, n, repeat);
	n = frame(b, 40000, 3306, 0x10, 0);
	ack = cost_ns(tc, b, n, repeat);

	d.rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_rec, &d, NULL);
	pthread_create(&th, NULL, drain_thread, &d);
	n = frame(b, 40000, 3306, 0x18, 100);
	t0 = now();
	kept100 = cost_ns(tc, b, n, repeat);
	xdp100 = cost_ns(bpf_program__fd(skel->progs.mp_xdp), b, n, repeat);
	n = frame(b, 3306, 40000, 0x18, 1400);
	kept1400 = cost_ns(tc, b, n, repeat / 4);
	atomic_store(&d.stop, 1);
	pthread_join(th, NULL);
	t1 = now();
	kept = counter(skel, MP_CNT_KEPT, ncpus);
	dropped = counter(skel, MP_CNT_RB_FULL, ncpus);
	printf("{\"repeat\":%u,\"ns_other_port\":%.1f,\"ns_pure_ack\":%.1f,\"ns_kept_100B\":%.1f,"
	       "\"ns_kept_100B_xdp\":%.1f,\"ns_kept_1400B\":%.1f,\"records_kept\":%llu,"
	       "\"records_dropped\":%llu,\"records_drained\":%llu,\"drain_seconds\":%.3f,"
	       "\"drained_per_s\":%.0f}\n",
	       repeat, other, ack, kept100, xdp100, kept1400, (unsigned long long)kept,
	       (unsigned long long)dropped, (unsigned long long)d.records, t1 - t0,
	       d.records / (t1 - t0));
	ring_buffer__free(d.rb);
	capture_bpf__destroy(skel);
	return 0;
}
