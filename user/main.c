// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Entry point: parses the command line, opens the source, runs the pipeline until told to stop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pipeline.h"
#include "source.h"
#include "template_cli.h"

#define MP_VERSION "0.1.0"

enum output_kind { OUT_EVENTS, OUT_SEGMENTS, OUT_NONE };

struct opts {
	struct source_config src;
	enum output_kind output;
	int workers;
	char devbuf[256];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mysqlprobe [OPTIONS]\n"
		"       mysqlprobe template [--split] [--max-len N] [FILE|-]\n"
		"Watches MySQL traffic on the given devices and reports what runs.\n\n"
		"  -i, --device LIST      devices to capture on, comma-separated (default lo)\n"
		"  -p, --port LIST        MySQL server ports, comma-separated, up to 8 (default 3306)\n"
		"      --mode MODE        tc (default), xdp (XDP ingress + TC egress) or pcap\n"
		"  -r, --replay FILE      read a pcap/pcapng file instead of capturing live\n"
		"  -o, --output KIND      events (one JSON line per statement, default),\n"
		"                         segments (one JSON line per TCP segment) or none\n"
		"      --workers N        decoding threads; a connection stays on one (default 1)\n"
		"      --snaplen N        payload bytes kept per segment (0 = whole segments)\n"
		"      --ringbuf-mb N     BPF ring buffer / pcap buffer size in MiB (default 32)\n"
		"      --xdp-native       attach XDP in driver mode instead of generic mode\n"
		"  -v, --verbose          more logging (repeat for debug); prints counters each second\n"
		"  -h, --help             this text\n"
		"      --version          print the version\n\n"
		"'mysqlprobe template' prints template_id<TAB>template for each statement read.\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

static int parse_ports(const char *arg, struct port_filter *pf)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	pf->nports = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(tok, &end, 10);

		if (*end || v < 1 || v > 65535 || pf->nports >= MP_MAX_PORTS)
			return -EINVAL;
		pf->ports[pf->nports++] = (__u16)v;
	}
	return pf->nports ? 0 : -EINVAL;
}

static int parse_devices(char *buf, struct source_config *src)
{
	char *tok, *save = NULL;

	src->ndevices = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (src->ndevices >= SRC_MAX_DEVICES)
			return -E2BIG;
		src->devices[src->ndevices++] = tok;
	}
	return src->ndevices ? 0 : -EINVAL;
}

static int parse_uint(const char *arg, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 10);
	if (errno || *end || arg[0] == '-' || *out > max)
		return -EINVAL;
	return 0;
}

enum { OPT_MODE = 256, OPT_SNAPLEN, OPT_RINGBUF, OPT_XDP_NATIVE, OPT_VERSION, OPT_WORKERS };

static const struct option long_opts[] = {
	{ "device", required_argument, NULL, 'i' },
	{ "port", required_argument, NULL, 'p' },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "replay", required_argument, NULL, 'r' },
	{ "output", required_argument, NULL, 'o' },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
	{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF },
	{ "xdp-native", no_argument, NULL, OPT_XDP_NATIVE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{},
};

/* Returns 0, 1 when the program should exit 0 (help, version), or -EINVAL. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	unsigned long v;
	int c;

	snprintf(o->devbuf, sizeof(o->devbuf), "lo");
	o->src.pf.ports[0] = 3306;
	o->src.pf.nports = 1;
	o->src.mode = SRC_TC;
	o->output = OUT_EVENTS;
	o->workers = 1;
	while ((c = getopt_long(argc, argv, "i:p:r:o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			snprintf(o->devbuf, sizeof(o->devbuf), "%s", optarg);
			break;
		case 'p':
			if (parse_ports(optarg, &o->src.pf)) {
				fprintf(stderr, "mysqlprobe: --port: '%s' is not a list of 1..8 ports\n",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_MODE:
			if (source_mode_parse(optarg, &o->src.mode)) {
				fprintf(stderr, "mysqlprobe: --mode: '%s' is not tc, xdp or pcap\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			o->src.file = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "events")) {
				o->output = OUT_EVENTS;
			} else if (!strcmp(optarg, "segments")) {
				o->output = OUT_SEGMENTS;
			} else if (!strcmp(optarg, "none")) {
				o->output = OUT_NONE;
			} else {
				fprintf(stderr,
					"mysqlprobe: --output: '%s' is not events, segments or none\n",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_SNAPLEN:
			if (parse_uint(optarg, MP_MAX_CAPLEN, &v)) {
				fprintf(stderr, "mysqlprobe: --snaplen: '%s' is not 0..%d\n", optarg,
					MP_MAX_CAPLEN);
				return -EINVAL;
			}
			o->src.pf.snaplen = (__u32)v;
			break;
		case OPT_RINGBUF:
			if (parse_uint(optarg, 1024, &v) || v == 0) {
				fprintf(stderr, "mysqlprobe: --ringbuf-mb: '%s' is not 1..1024\n",
					optarg);
				return -EINVAL;
			}
			o->src.ringbuf_mb = (unsigned int)v;
			break;
		case OPT_XDP_NATIVE:
			o->src.xdp_native = 1;
			break;
		case OPT_WORKERS:
			if (parse_uint(optarg, 64, &v) || v == 0) {
				fprintf(stderr, "mysqlprobe: --workers: '%s' is not 1..64\n", optarg);
				return -EINVAL;
			}
			o->workers = (int)v;
			break;
		case 'v':
			log_level++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("mysqlprobe %s\n", MP_VERSION);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mysqlprobe: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->src.file)
		o->src.mode = SRC_FILE;
	if (parse_devices(o->devbuf, &o->src)) {
		fprintf(stderr, "mysqlprobe: --device: '%s' is not a list of 1..%d devices\n",
			o->devbuf, SRC_MAX_DEVICES);
		return -EINVAL;
	}
	return 0;
}

static int print_segment(void *ctx, const struct mp_seg_hdr *h, const __u8 *payload)
{
	(void)payload;
	return seg_print_json(ctx, h);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a signal must interrupt the poll so we exit promptly. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void announce(const struct opts *o, const struct source *src)
{
	char ports[64] = "";
	size_t n = 0;

	for (__u32 i = 0; i < o->src.pf.nports; i++)
		n += snprintf(ports + n, sizeof(ports) - n, "%s%u", i ? "," : "", o->src.pf.ports[i]);
	if (o->src.mode == SRC_FILE)
		fprintf(stderr, "mysqlprobe: ready: replaying %s, ports %s\n", o->src.file, ports);
	else
		fprintf(stderr, "mysqlprobe: ready: mode %s, devices %s, ports %s\n",
			source_name(src), o->devbuf, ports);
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void print_decode_counters(struct pipeline *pl)
{
	struct pipeline_counters c;

	pipeline_counters(pl, &c);
	fprintf(stderr,
		"mysqlprobe: decode: events=%llu connections=%llu midstream=%llu gaps=%llu "
		"gap_bytes=%llu retransmits=%llu out_of_order=%llu decode_errors=%llu resyncs=%llu "
		"tls_conns=%llu unknown_stmt=%llu skipped_responses=%llu table_full=%llu "
		"worker_waits=%llu\n",
		(unsigned long long)c.mysql.events, (unsigned long long)c.flow.opened,
		(unsigned long long)c.flow.midstream, (unsigned long long)c.flow.gaps,
		(unsigned long long)c.flow.gap_bytes, (unsigned long long)c.flow.retransmits,
		(unsigned long long)c.flow.out_of_order, (unsigned long long)c.mysql.decode_errors,
		(unsigned long long)c.mysql.resyncs, (unsigned long long)c.mysql.tls_conns,
		(unsigned long long)c.mysql.unknown_stmt,
		(unsigned long long)c.mysql.skipped_responses, (unsigned long long)c.flow.table_full,
		(unsigned long long)c.worker_waits);
}

/* Polls the source until a signal, the end of a replayed file, or an error. */
static int run(struct source *src, struct pipeline *pl, int live)
{
	__u64 cnt[MP_CNT_MAX];
	double t = now_s(), next_stats = t + 1, next_sync = t + 0.2;
	int n;

	while (!stop_requested) {
		n = source_poll(src, 100);
		if (n == -ENODATA)
			break;
		if (n < 0) {
			fprintf(stderr, "mysqlprobe: capture failed: %s\n", strerror(-n));
			return n;
		}
		if (n > 0 && !pl)
			fflush(stdout);
		t = now_s();
		/* Live: hand buffered events out and expire idle connections by the clock. */
		if (pl && t >= next_sync) {
			pipeline_sync(pl, live ? realtime_ns() : 0);
			next_sync = t + 0.2;
		}
		if (log_level >= LOG_LVL_INFO && t >= next_stats) {
			source_counters(src, cnt);
			seg_print_counters(stderr, "mysqlprobe: capture:", cnt);
			if (pl)
				print_decode_counters(pl);
			next_stats += 1;
		}
	}
	/* Deliver what is already captured before reporting the final counters. */
	while ((n = source_poll(src, 0)) > 0)
		;
	return n < 0 && n != -ENODATA ? n : 0;
}

static struct pipeline *start_pipeline(const struct opts *o)
{
	struct pipeline_config pc = {
		.workers = o->workers,
		.events_out = o->output == OUT_EVENTS ? stdout : NULL,
	};

	flow_config_default(&pc.flow);
	return pipeline_new(&pc);
}

int main(int argc, char **argv)
{
	struct opts o = {};
	struct seg_sink sink;
	struct pipeline *pl = NULL;
	struct source *src;
	__u64 cnt[MP_CNT_MAX];
	int err;

	if (argc > 1 && !strcmp(argv[1], "template"))
		return template_cli_main(argc - 1, argv + 1);
	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	if (o.output == OUT_SEGMENTS) {
		sink = (struct seg_sink){ .fn = print_segment, .ctx = stdout };
	} else {
		pl = start_pipeline(&o);
		if (!pl) {
			fprintf(stderr, "mysqlprobe: failed to start workers: %s\n", strerror(errno));
			return 1;
		}
		sink = (struct seg_sink){ .fn = pipeline_sink, .ctx = pl };
	}
	install_signals();
	src = source_open(&o.src, &sink);
	if (!src) {
		fprintf(stderr, "mysqlprobe: cannot capture: %s\n", strerror(errno));
		pipeline_free(pl);
		return 2;
	}
	announce(&o, src);
	err = run(src, pl, o.src.mode != SRC_FILE);
	source_counters(src, cnt);
	if (pl) {
		pipeline_sync(pl, 0);
		print_decode_counters(pl);
		pipeline_free(pl); /* closes connections: their last statements are printed */
	}
	fflush(stdout);
	seg_print_counters(stderr, "mysqlprobe: capture:", cnt);
	source_free(src);
	return err ? 1 : 0;
}
