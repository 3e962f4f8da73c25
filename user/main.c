// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Entry point: parses the command line, opens the source, runs the pipeline until told to stop. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "pipeline/pipeline.h"
#include "net/server.h"
#include "roles/gossip_node.h"
#include "roles/master.h"
#include "roles/slave.h"
#include "watcher/watcher.h"
#include "capture/source.h"
#include "cli/template_cli.h"
#include "top/top.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The capture source's settings from the config (strings borrowed from cfg). */
static int source_config_from(const struct mp_config *c, const struct cli_extra *x,
			      struct source_config *src)
{
	memset(src, 0, sizeof(*src));
	if (c->probe_device.n > SRC_MAX_DEVICES) {
		fprintf(stderr, "mysqlprobe: probe.device: at most %d devices\n", SRC_MAX_DEVICES);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->probe_device.n; i++)
		src->devices[src->ndevices++] = c->probe_device.v[i];
	for (size_t i = 0; i < c->probe_port.n; i++)
		src->pf.ports[src->pf.nports++] = c->probe_port.v[i];
	src->pf.snaplen = (__u32)c->probe_snappylength;
	src->ringbuf_mb = (unsigned int)c->probe_ringbuf_mb;
	src->xdp_native = x->xdp_native;
	src->tc_attach = c->probe_tc_attach == PROBE_TC_TCX	? SRC_TC_TCX :
			 c->probe_tc_attach == PROBE_TC_NETLINK ? SRC_TC_NETLINK : SRC_TC_AUTO;
	src->mode = c->probe_mode == PROBE_MODE_XDP ? SRC_XDP :
		    c->probe_mode == PROBE_MODE_PCAP ? SRC_PCAP : SRC_TC;
	if (x->replay) {
		src->mode = SRC_FILE;
		src->file = x->replay;
	}
	if (src->mode != SRC_FILE && !src->ndevices) {
		fprintf(stderr, "mysqlprobe: probe.device: no device to capture on\n");
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

static void announce(const struct source_config *sc, const struct source *src,
		     const struct server *srv)
{
	char ports[64] = "", devs[256] = "", http[32] = "";
	size_t n = 0, m = 0;

	for (__u32 i = 0; i < sc->pf.nports; i++)
		n += snprintf(ports + n, sizeof(ports) - n, "%s%u", i ? "," : "", sc->pf.ports[i]);
	for (int i = 0; i < sc->ndevices && m < sizeof(devs); i++)
		m += snprintf(devs + m, sizeof(devs) - m, "%s%s", i ? "," : "", sc->devices[i]);
	if (srv)
		snprintf(http, sizeof(http), ", http port %d", server_port(srv));
	if (sc->mode == SRC_FILE)
		fprintf(stderr, "mysqlprobe: ready: replaying %s, ports %s\n", sc->file, ports);
	else if (strcmp(source_name(src), source_mode_name(sc->mode)))
		fprintf(stderr, "mysqlprobe: ready: mode %s (%s requested), devices %s, ports %s%s\n",
			source_name(src), source_mode_name(sc->mode), devs, ports, http);
	else
		fprintf(stderr, "mysqlprobe: ready: mode %s, devices %s, ports %s%s\n",
			source_name(src), devs, ports, http);
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
		"skipped_bytes=%llu "
		"tls_conns=%llu unknown_stmt=%llu skipped_responses=%llu table_full=%llu "
		"worker_waits=%llu compressed=%llu compressed_midstream=%llu "
		"framing_undecided=%llu\n",
		(unsigned long long)c.mysql.events, (unsigned long long)c.flow.opened,
		(unsigned long long)c.flow.midstream, (unsigned long long)c.flow.gaps,
		(unsigned long long)c.flow.gap_bytes, (unsigned long long)c.flow.retransmits,
		(unsigned long long)c.flow.out_of_order, (unsigned long long)c.mysql.decode_errors,
		(unsigned long long)c.mysql.resyncs, (unsigned long long)c.mysql.skipped_bytes,
		(unsigned long long)c.mysql.tls_conns,
		(unsigned long long)c.mysql.unknown_stmt,
		(unsigned long long)c.mysql.skipped_responses, (unsigned long long)c.flow.table_full,
		(unsigned long long)c.worker_waits, (unsigned long long)c.mysql.compressed_conns,
		(unsigned long long)c.mysql.compressed_midstream,
		(unsigned long long)c.mysql.framing_undecided);
}

/* The running agent: what main starts and stops, in data-flow order. */
/*
 * The HTTP server of a role; with cluster.gossip the role's callbacks are wrapped by a gossip
 * node (*gossip, NULL otherwise), which then also serves /cluster/gossip and the /cluster/ calls.
 * NULL with errno set.
 */
static struct server *serve(const struct mp_config *c, const char *config_path,
			    const struct server_config *svc, const struct server_callbacks *cb,
			    void *ctx, const struct gossip_callbacks *gcb, void *gctx,
			    struct gossip_node **gossip)
{
	struct server *srv;

	*gossip = NULL;
	if (!c->cluster_gossip)
		return server_new(svc, cb, ctx);
	*gossip = gossip_node_new(c, config_path, cb, ctx, gcb, gctx);
	if (!*gossip)
		return NULL;
	srv = server_new(svc, &gossip_node_callbacks, *gossip);
	if (!srv) {
		int err = errno;

		gossip_node_free(*gossip);
		*gossip = NULL;
		errno = err;
		return NULL;
	}
	gossip_node_set_server(*gossip, srv);
	return srv;
}

struct agent {
	struct mp_config cfg;
	struct cli_extra x;
	struct source_config sc;
	struct source *src;
	struct pipeline *pl;   /* NULL for --output segments */
	struct slave *slave;   /* NULL for --output segments */
	struct server *srv;    /* live only */
	struct gossip_node *gossip; /* live with cluster.gossip only */
	struct procs *procs;   /* live with watcher.uname only */
	struct watcher *watcher;
	struct enrich_watch *enrich; /* enrich.file, or POST /enrich/update alone */
	int live;
};

/* Live: closes the report period when its time has come, after taking in what the kernel
 * already captured (statements completed before the boundary belong to the period). */
static int period_due(struct agent *a)
{
	int k = 0;

	if (!a->slave || !a->live || slave_ms_to_period_end(a->slave, slave_now_ms()))
		return 0;
	/*
	 * Take in what the kernel holds first: a segment past the end closes the period by its
	 * own time (slave_sink), so after a stall the backlog is spread over the periods it
	 * happened in. Only what is left due (an idle link) is closed by the clock. The bound
	 * keeps a flood from holding the loop forever.
	 */
	while (k++ < 100000 && !slave_ms_to_period_end(a->slave, slave_now_ms()) &&
	       source_poll(a->src, 0) > 0)
		;
	return slave_tick(a->slave, slave_now_ms());
}

static int poll_timeout(const struct agent *a)
{
	unsigned ms = 100;

	if (a->slave && a->live) {
		unsigned left = slave_ms_to_period_end(a->slave, slave_now_ms());

		ms = left < ms ? left : ms;
	}
	return (int)ms;
}

/* -v prints the counters when they changed, at most this often (an idle agent says nothing). */
#define COUNTERS_EVERY_S 10

/* The counters as last printed. */
struct counters_shown {
	__u64 cap[MP_CNT_MAX];
	struct pipeline_counters pl;
};

/* Prints the counters if they differ from what was last printed. Returns whether it did. */
static bool counters_print_changed(struct agent *a, struct counters_shown *last)
{
	struct counters_shown now;

	memset(&now, 0, sizeof(now)); /* compared with memcmp: padding too */
	source_counters(a->src, now.cap);
	if (a->pl)
		pipeline_counters(a->pl, &now.pl);
	if (!memcmp(&now, last, sizeof(now)))
		return false;
	*last = now;
	seg_print_counters(stderr, "mysqlprobe: capture:", now.cap);
	if (a->pl)
		print_decode_counters(a->pl);
	return true;
}

/* A loop iteration this much longer than its poll timeout counts as a stall. */
#define STALL_MS 500
/* At stop, how long a live source's backlog is drained (see the end of run()). */
#define SHUTDOWN_DRAIN_MS 1000
/* How often a live pipeline hands buffered events out and expires idle connections. */
#define SYNC_MS 200

/* Polls the source until a signal, the end of a replayed file, or an error. */
static int run(struct agent *a)
{
	static struct counters_shown shown; /* zero: the first change is printed */
	uint64_t t = mono_ms(), next_stats = t + 1000, next_sync = t + SYNC_MS;
	int n;

	uint64_t alive_ms = slave_now_ms(), drain_end_ms;

	while (!stop_requested) {
		int timeout = poll_timeout(a);
		uint64_t now_ms;

		n = source_poll(a->src, timeout);
		/* An iteration far longer than its poll: the process was stopped or starved. */
		now_ms = slave_now_ms();
		if (a->slave && a->live && now_ms > alive_ms + (uint64_t)timeout + STALL_MS)
			slave_stalled(a->slave, alive_ms + (uint64_t)timeout, now_ms);
		alive_ms = now_ms;
		if (n > 0 && a->pl)
			pipeline_kick(a->pl);
		if (n == -ENODATA)
			break;
		if (n < 0) {
			fprintf(stderr, "mysqlprobe: capture failed: %s\n", strerror(-n));
			return n;
		}
		if (n > 0 && !a->pl)
			fflush(stdout);
		t = mono_ms();
		/* Live: hand buffered events out and expire idle connections by the clock. */
		if (a->pl && t >= next_sync) {
			pipeline_sync(a->pl, a->live ? realtime_ns() : 0);
			slave_snapshot(a->slave);
			next_sync = t + SYNC_MS;
		}
		n = period_due(a);
		if (n < 0)
			pr_warn("report: %s\n", strerror(-n));
		if (log_level >= LOG_LVL_INFO && t >= next_stats)
			next_stats = t + (counters_print_changed(a, &shown) ? COUNTERS_EVERY_S : 1) * 1000;
	}
	/* Deliver what is already captured before reporting the final counters, including
	 * packets a live source still holds back. A live source under load never runs dry (the
	 * tap stays attached until source_free): drain for SHUTDOWN_DRAIN_MS at most, which
	 * covers what was captured before the stop, so SIGTERM ends the agent under load too. */
	drain_end_ms = slave_now_ms() + SHUTDOWN_DRAIN_MS;
	while ((n = source_poll(a->src, a->live ? SRC_HOLD_MS : 0)) > 0) {
		if (a->pl)
			pipeline_kick(a->pl);
		if (a->live && slave_now_ms() >= drain_end_ms)
			break;
	}
	return n < 0 && n != -ENODATA ? n : 0;
}

/* Where the reports go: stdout for -o report and -o table (auto is resolved by then). */
static FILE *reports_out(const struct mp_config *c)
{
	return c->output == OUTPUT_REPORT || c->output == OUTPUT_TABLE ? stdout : NULL;
}

/* The watcher thread, on the server of the first probe.port unless told otherwise. Returns 0
 * or -1 with errno set (message printed). */
static int start_watcher(struct agent *a)
{
	const struct mp_config *c = &a->cfg;
	struct watcher_config wc = {
		.host = c->watcher_host,
		.port = c->watcher_port ? (unsigned)c->watcher_port : c->probe_port.v[0],
		.socket = c->watcher_socket,
		.user = c->watcher_uname,
		.password = c->watcher_password,
		.interval_s = (unsigned)c->watcher_interval_s,
		.timeout_s = (unsigned)c->watcher_timeout_s,
	};

	a->watcher = watcher_start(&wc, a->procs);
	if (!a->watcher) {
		fprintf(stderr, "mysqlprobe: failed to start the watcher: %s\n",
			errno == EINVAL ? "watcher.host and watcher.socket are both empty" :
					  strerror(errno));
		return -1;
	}
	slave_set_watcher(a->slave, a->watcher);
	return 0;
}

/* Decoding, aggregation and, live, the HTTP server. Returns 0 or -errno (message printed). */
static int start_slave(struct agent *a)
{
	const struct mp_config *c = &a->cfg;
	struct slave_config sl = {
		.cfg = c,
		.workers = (int)c->probe_workers,
		.report_out = reports_out(c),
		.report_table = c->output == OUTPUT_TABLE,
		.replay = !a->live,
		.mode = source_mode_name(a->sc.mode),
		.enrich = a->enrich,
	};
	struct pipeline_config pc = {
		.workers = (int)c->probe_workers,
		.events_out = c->output == OUTPUT_EVENTS ? stdout : NULL,
		.template_max_len = (size_t)c->template_max_len,
		.on_event = slave_on_event,
		.on_session = slave_on_session,
	};
	struct server_config svc = {
		.bind = c->http_bind,
		.port = (int)c->serverport,
		.max_message = c->websocket_maxmessagesize,
		.queue_len = (unsigned)c->websocket_queue,
		.client_queue_bytes = (size_t)c->http_client_queue_mb << 20,
		.queue_bytes = (size_t)c->http_queue_mb << 20,
		.token = c->http_token,
		.cluster_token = c->cluster_token,
	};

	a->slave = slave_new(&sl);
	if (!a->slave)
		goto fail;
	/* The watcher reads the live server: nothing to ask about a capture file. */
	if (a->live && c->watcher_uname[0]) {
		a->procs = procs_new();
		if (!a->procs)
			goto fail;
		pc.procs = a->procs;
	}
	flow_config_default(&pc.flow);
	pc.flow.max_connections = (uint32_t)c->probe_max_connections;
	pc.flow.idle_timeout_ns = (uint64_t)c->probe_idle_timeout_s * 1000000000ULL;
	pc.on_event_ctx = a->slave;
	a->pl = pipeline_new(&pc);
	if (!a->pl)
		goto fail;
	if (a->procs && start_watcher(a))
		return -errno;
	/* Replay is offline work: no port to listen on (two replays can run side by side). */
	if (a->live) {
		svc.bus = slave_bus(a->slave);
		a->srv = serve(c, a->x.config_file, &svc, &slave_server_callbacks, a->slave, NULL,
			       NULL, &a->gossip);
		if (!a->srv) {
			fprintf(stderr, "mysqlprobe: cannot serve HTTP on %s:%lld: %s\n",
				c->http_bind[0] ? c->http_bind : "*", (long long)c->serverport,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
fail:
	fprintf(stderr, "mysqlprobe: failed to start workers: %s\n", strerror(errno));
	return -errno;
}

/* Stops in data-flow order so nothing counted is lost: the source is drained, every
 * connection closed, the final partial period reported and flushed to every client. */
static int stop_agent(struct agent *a)
{
	__u64 cnt[MP_CNT_MAX];
	int err = 0;

	/* It feeds the pipeline (who is who): stopped first, in data-flow order. */
	slave_set_watcher(a->slave, NULL); /* /metrics stops reading it first */
	watcher_stop(a->watcher);
	a->watcher = NULL;
	if (a->pl) {
		/* Live, a request still unanswered has waited until now, not until the last
		 * segment the capture delivered. */
		pipeline_close_at(a->pl, a->live ? slave_now_ms() * 1000000ULL : 0);
		if (a->src)
			err = slave_finish(a->slave, 0);
		if (err)
			fprintf(stderr, "mysqlprobe: final report: %s\n", strerror(-err));
		/* Every output takes the final report: bounded waits, each output its own. */
		if (a->srv && server_flush(a->srv, 3000))
			pr_warn("report: clients did not take the final report within 3 s\n");
		/* Offline, stdout is lossless: it gets every report, however long it takes. */
		if (slave_flush(a->slave, a->live ? 3000 : UINT_MAX))
			pr_warn("report: an output (stdout, a sink, the pusher) did not take the "
				"final report within 3 s\n");
		print_decode_counters(a->pl);
	}
	server_free(a->srv);
	gossip_node_free(a->gossip);
	pipeline_free(a->pl);
	procs_free(a->procs);
	slave_free(a->slave);
	enrich_watch_free(a->enrich);
	fflush(stdout);
	if (a->src) {
		source_counters(a->src, cnt);
		seg_print_counters(stderr, "mysqlprobe: capture:", cnt);
		source_free(a->src);
	}
	config_free(&a->cfg);
	return err;
}

/*
 * The master: no capture; the same server, bus and outputs as a slave, fed by the merge of
 * its slaves' reports. Returns the exit status.
 */
static int run_master(const struct mp_config *c, const struct cli_extra *x)
{
	struct master_config mc = {
		.cfg = c,
		.report_out = reports_out(c),
		.report_table = c->output == OUTPUT_TABLE,
		.config_path = x->config_file,
	};
	struct server_config svc = {
		.bind = c->http_bind,
		.port = (int)c->serverport,
		.max_message = c->websocket_maxmessagesize,
		.queue_len = (unsigned)c->websocket_queue,
		.client_queue_bytes = (size_t)c->http_client_queue_mb << 20,
		.queue_bytes = (size_t)c->http_queue_mb << 20,
		.token = c->http_token,
		.cluster_token = c->cluster_token,
	};
	struct master *m = master_new(&mc);
	struct gossip_node *gossip = NULL;
	struct server *srv;
	int err = 0;

	if (!m)
		return 1;
	svc.bus = master_bus(m);
	srv = serve(c, x->config_file, &svc, &master_server_callbacks, m, &master_gossip_callbacks,
		    m, &gossip);
	if (!srv) {
		fprintf(stderr, "mysqlprobe: cannot serve HTTP on %s:%lld: %s\n",
			c->http_bind[0] ? c->http_bind : "*", (long long)c->serverport,
			strerror(errno));
		master_free(m);
		return 1;
	}
	/* From now on the election decides whether this master pulls and emits. */
	master_set_gossip(m, gossip ? gossip_node_gossip(gossip) : NULL);
	fprintf(stderr, "mysqlprobe: ready: master, %zu slave(s) configured, http port %d\n",
		c->cluster_slaves.n, server_port(srv));
	while (!stop_requested && !err) {
		struct timespec ts = { 0, 50 * 1000000L };

		err = master_tick(m, slave_now_ms());
		nanosleep(&ts, NULL);
	}
	/* Whatever is open goes out now: a period cut by the stop, like a slave's last. */
	err = master_finish(m) ?: err;
	if (server_flush(srv, 3000))
		pr_warn("report: clients did not take the final report within 3 s\n");
	if (master_flush(m, 3000))
		pr_warn("report: an output (stdout, a sink, the pusher) did not take the final "
			"report within 3 s\n");
	server_free(srv);
	gossip_node_free(gossip);
	master_free(m);
	fflush(stdout);
	if (err)
		fprintf(stderr, "mysqlprobe: master: %s\n", strerror(-err));
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct seg_sink sink;
	int err;

	if (argc > 1 && !strcmp(argv[1], "template"))
		return template_cli_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "top"))
		return top_main(argc - 1, argv + 1);
	/* The agent holds secrets (http.token, watcher.password): no core dump may carry them,
	 * and no process of another user may ptrace it or read its memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		fprintf(stderr, "mysqlprobe: warning: cannot mark the process non-dumpable: %s\n",
			strerror(errno));
	err = cli_parse(argc, argv, &a.cfg, &a.x);
	if (err < 0)
		return 2;
	if (err > 0) {
		config_free(&a.cfg);
		return 0;
	}
	log_level = a.cfg.log_level;
	/* A person reads a terminal; a pipe or a file is read by a program, which wants JSON. */
	if (a.cfg.output == OUTPUT_AUTO)
		a.cfg.output = isatty(STDOUT_FILENO) ? OUTPUT_TABLE : OUTPUT_REPORT;
	if (!a.cfg.slave) {
		install_signals();
		err = run_master(&a.cfg, &a.x);
		config_free(&a.cfg);
		return err;
	}
	if (source_config_from(&a.cfg, &a.x, &a.sc)) {
		config_free(&a.cfg);
		return 2;
	}
	a.live = a.sc.mode != SRC_FILE;
	/* A bad enrich.file is a configuration error, like a bad key: refuse to start. */
	if (a.cfg.output != OUTPUT_SEGMENTS) {
		char why[320] = "";

		a.enrich = enrich_watch_new(a.cfg.enrich_file, why, sizeof(why));
		if (!a.enrich) {
			fprintf(stderr, "mysqlprobe: %s\n", why[0] ? why : strerror(errno));
			config_free(&a.cfg);
			return 2;
		}
	}
	install_signals();
	if (a.cfg.output == OUTPUT_SEGMENTS) {
		sink = (struct seg_sink){ .fn = print_segment, .ctx = stdout };
	} else {
		if (start_slave(&a)) {
			stop_agent(&a);
			return 1;
		}
		sink = (struct seg_sink){ .fn = slave_sink, .ctx = a.slave };
	}
	a.src = source_open(&a.sc, &sink);
	if (!a.src) {
		fprintf(stderr, "mysqlprobe: cannot capture: %s\n", strerror(errno));
		stop_agent(&a);
		return 2;
	}
	if (a.slave)
		slave_attach(a.slave, a.pl, a.src);
	announce(&a.sc, a.src, a.srv);
	err = run(&a);
	err = stop_agent(&a) ?: err;
	return err ? 1 : 0;
}
