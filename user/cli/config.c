// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Settings: one table row per key, loaded from YAML (libyaml) and set from the command line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "cluster/addr.h"
#include "lib/log.h"
#include "report/agg.h"
#include "cli/config.h"

static const char *const probe_modes[] = { "tc", "xdp", "pcap", NULL };
static const char *const tc_attach_modes[] = { "auto", "tcx", "netlink", NULL };
static const char *const output_modes[] = { "events", "report", "segments", "none", "table",
					     "auto", NULL };
static const char *const log_levels[] = { "warn", "info", "debug", NULL };

#define OFF(f) offsetof(struct mp_config, f)
#define ROW(n, t, f, d, lo, hi, fl, h) { n, CONFIG_##t, OFF(f), d, lo, hi, NULL, fl, h }
#define ENUM(n, f, d, ch, h) { n, CONFIG_ENUM, OFF(f), d, 0, 0, ch, 0, h }

/* Keep in the order of conf/mysqlprobe.yaml; tests check that file sets every row. */
const struct config_option config_options[] = {
	ROW("slave", BOOL, slave, "true", 0, 0, 0,
	    "capture on this host (true) or collect other agents' reports as a master (false)"),
	ROW("serverport", INT, serverport, "8667", 1, 65535, 0,
	    "TCP port of the HTTP API and the /collector websocket"),
	ROW("interval", INT, interval, "5", 1, 3600, 0, "report period in seconds"),
	ROW("slowthresholdms", INT, slowthresholdms, "100", 0, 3600000, 0,
	    "statements at least this slow (ms) are kept as slow samples, and listed as running "
	    "when still running at a period's end"),
	ROW("cluster.gossip", BOOL, cluster_gossip, "false", 0, 0, 0,
	    "membership, leader election and lease over websocket links on serverport"),
	ROW("cluster.group", STRING, cluster_group, "", 0, 0, 0,
	    "gossip cluster name: nodes of another group are refused"),
	ROW("cluster.advertise", STRING, cluster_advertise, "", 0, 0, CONFIG_ADDR,
	    "HOST:PORT other nodes reach this one at (\"\" = first non-loopback address, serverport)"),
	ROW("cluster.seeds", STRLIST, cluster_seeds, "", 0, CONFIG_MAX_LIST, CONFIG_ADDR,
	    "gossip: members (HOST:PORT) to join through"),
	ROW("cluster.rank", INT, cluster_rank, "0", 0, 1000, 0,
	    "gossip candidate (slave: false): lower stands first, after rank x 300 ms"),
	ROW("cluster.witness", BOOL, cluster_witness, "false", 0, 0, 0,
	    "gossip: a node that only votes (with slave: false), to make a majority of three"),
	ROW("cluster.vote_file", STRING, cluster_vote_file, "", 0, 0, 0,
	    "gossip: where the vote is kept (\"\" = mysqlprobe.vote beside the config file)"),
	ROW("cluster.port", INT, cluster_port, "7946", 1, 65535, 0,
	    "unused: gossip runs on serverport (kept so old configs still load)"),
	ROW("cluster.buffer_periods", INT, cluster_buffer_periods, "120", 1, 100000, 0,
	    "reports kept for /collector?since= replay"),
	ROW("cluster.buffer_mb", INT, cluster_buffer_mb, "64", 1, 65536, 0,
	    "memory the kept reports may use (MiB; the newest report is always kept)"),
	ROW("cluster.slaves", STRLIST, cluster_slaves, "", 0, CONFIG_MAX_LIST, 0,
	    "master: the slaves (host:port) it collects from; /cluster/join adds more"),
	ROW("cluster.token", STRING, cluster_token, "", 0, 0, CONFIG_SECRET,
	    "shared secret of every node-to-node link: a slave serves /collector only with it"),
	ROW("cluster.token_file", STRING, cluster_token_file, "", 0, 0, 0,
	    "read cluster.token from the first line of this file"),
	ROW("cluster.state_file", STRING, cluster_state_file, "", 0, 0, 0,
	    "master: its slaves and how far it merged each (\"\" = beside the config file)"),
	ROW("cluster.merge_wait_ms", INT, cluster_merge_wait_ms, "0", 1, 3600000, CONFIG_ZERO_OK,
	    "master: emit a period this long after its end even if slaves are missing "
	    "(0 = half a period, at least 500)"),
	ROW("probe.device", STRLIST, probe_device, "lo", 0, 16, 0,
	    "network devices to capture on"),
	ROW("probe.port", PORTLIST, probe_port, "3306", 1, CONFIG_MAX_PORTS, 0,
	    "MySQL server ports (up to 8)"),
	ROW("probe.snappylength", UINT, probe_snappylength, "0", 0, 65535, 0,
	    "bytes of each TCP segment copied from the kernel (0 = whole segment)"),
	ROW("probe.workers", INT, probe_workers, "1", 1, 64, 0,
	    "decoders (1: on the capture thread; N >= 2: N threads, a connection stays on one)"),
	ENUM("probe.mode", probe_mode, "tc", probe_modes, "capture source: tc, xdp or pcap"),
	ENUM("probe.tc_attach", probe_tc_attach, "auto", tc_attach_modes,
	     "how TC programs attach: auto (tcx links where the kernel has them, else netlink "
	     "filters), tcx or netlink"),
	ROW("probe.max_connections", INT, probe_max_connections, "65536", 16, 16777216, 0,
	    "tracked TCP connections; more are not decoded and are counted"),
	ROW("probe.ringbuf_mb", INT, probe_ringbuf_mb, "32", 1, 4096, CONFIG_POW2,
	    "BPF ring buffer size in MiB (a power of two)"),
	ROW("probe.idle_timeout_s", INT, probe_idle_timeout_s, "300", 1, 86400, 0,
	    "forget a connection idle this long (s)"),
	ROW("pusher.servers", STRLIST, pusher_servers, "", 0, CONFIG_MAX_LIST, 0,
	    "servers (host:port) to push every report to, the first that works (in order)"),
	ROW("pusher.path", STRING, pusher_path, "/collector", 0, 0, 0,
	    "websocket path on the servers (/push on a mysqlprobe master)"),
	ROW("pusher.preconnect", BOOL, pusher_preconnect, "false", 0, 0, 0,
	    "connect to the servers at start instead of at the first report"),
	ROW("pusher.spool_dir", STRING, pusher_spool_dir, "", 0, 0, 0,
	    "directory for reports no server took yet (\"\" = memory, lost at exit)"),
	ROW("pusher.spool_mb", INT, pusher_spool_mb, "64", 1, 1048576, 0,
	    "pusher queue bound (MiB); the oldest reports beyond it are dropped and counted"),
	ROW("watcher.uname", STRING, watcher_uname, "", 0, 0, 0,
	    "account that reads the local server's PROCESSLIST (live; empty: no watcher)"),
	ROW("watcher.password", STRING, watcher_password, "", 0, 0, CONFIG_SECRET,
	    "password of the watcher account (secret)"),
	ROW("watcher.password_file", STRING, watcher_password_file, "", 0, 0, 0,
	    "read watcher.password from the first line of this file"),
	ROW("watcher.host", STRING, watcher_host, "127.0.0.1", 0, 0, 0,
	    "server the watcher connects to over TCP (empty: watcher.socket)"),
	ROW("watcher.port", INT, watcher_port, "0", 1, 65535, CONFIG_ZERO_OK,
	    "port of the server the watcher connects to (0: the first probe.port)"),
	ROW("watcher.socket", STRING, watcher_socket, "", 0, 0, 0,
	    "Unix socket of the server, used when watcher.host is empty"),
	ROW("watcher.interval_s", INT, watcher_interval_s, "10", 1, 3600, 0,
	    "seconds between two PROCESSLIST reads"),
	ROW("watcher.timeout_s", INT, watcher_timeout_s, "5", 1, 300, 0,
	    "connect, read and write timeout of the watcher's connection (s)"),
	ROW("websocket.maxmessagesize", UINT, websocket_maxmessagesize, "16777216", 1024,
	    1073741824, 0, "largest websocket message accepted or sent (bytes)"),
	ROW("websocket.queue", INT, websocket_queue, "8", 1, 1024, 0,
	    "reports a live /collector client may lag before its oldest are dropped for it"),
	ROW("sinks.clickhouse.url", STRING, sinks_clickhouse_url, "", 0, 0, 0,
	    "ClickHouse HTTP URL (http://127.0.0.1:8123/) the reports' rows go to; \"\" = off"),
	ROW("sinks.clickhouse.database", STRING, sinks_clickhouse_database, "mysqlprobe", 0, 0, 0,
	    "ClickHouse database of the metrics and slow tables (created if missing)"),
	ROW("sinks.clickhouse.user", STRING, sinks_clickhouse_user, "", 0, 0, 0,
	    "ClickHouse user (\"\" = the server's default user)"),
	ROW("sinks.clickhouse.password", STRING, sinks_clickhouse_password, "", 0, 0, CONFIG_SECRET,
	    "ClickHouse password (secret)"),
	ROW("sinks.clickhouse.password_file", STRING, sinks_clickhouse_password_file, "", 0, 0, 0,
	    "read sinks.clickhouse.password from the first line of this file"),
	ROW("sinks.clickhouse.spool_dir", STRING, sinks_clickhouse_spool_dir, "", 0, 0, 0,
	    "directory for batches ClickHouse did not take yet (\"\" = memory, lost at exit)"),
	ROW("sinks.clickhouse.spool_mb", INT, sinks_clickhouse_spool_mb, "256", 1, 1048576, 0,
	    "spool bound (MiB); batches beyond it are dropped and counted"),
	ROW("sinks.clickhouse.batch_rows", INT, sinks_clickhouse_batch_rows, "1000", 1, 1000000, 0,
	    "send a table's batch once it has this many rows"),
	ROW("sinks.clickhouse.flush_ms", INT, sinks_clickhouse_flush_ms, "1000", 10, 600000, 0,
	    "or once its oldest row waited this long (ms)"),
	ROW("sinks.kafka.brokers", STRING, sinks_kafka_brokers, "", 0, 0, 0,
	    "Kafka bootstrap servers (host:port,...) the stats rows go to; \"\" = off"),
	ROW("sinks.kafka.topic", STRING, sinks_kafka_topic, "mysqlprobe.stats", 0, 0, 0,
	    "Kafka topic of the stats rows (one message per row, key = template id)"),
	ROW("sinks.kafka.events", BOOL, sinks_kafka_events, "false", 0, 0, 0,
	    "also one Kafka message per query event"),
	ROW("sinks.kafka.events_topic", STRING, sinks_kafka_events_topic, "mysqlprobe.events", 0,
	    0, 0, "Kafka topic of the query events"),
	ROW("sinks.kafka.flush_ms", INT, sinks_kafka_flush_ms, "5000", 0, 600000, 0,
	    "at exit, wait this long (ms) for Kafka to take what is queued; the rest is counted lost"),
	ROW("enrich.file", STRING, enrich_file, "", 0, 0, 0,
	    "file of 'CIDR APP' lines mapping client addresses to applications (longest prefix "
	    "wins), reread when it changes; \"\" = none"),
	ROW("report.keys", STRLIST, report_keys, "template, command, db, user, client", 1,
	    AGG_DIM_COUNT, 0,
	    "the row key: some of template, command, db, user, client, app, server (command is "
	    "required); rows differing only in a dimension left out add up"),
	ROW("report_period_ms", INT, report_period_ms, "0", 100, 3600000, CONFIG_ZERO_OK,
	    "report period in ms (0 = interval * 1000)"),
	ROW("max_keys", INT, max_keys, "10000", 1, 1000000, 0,
	    "distinct (template, db, user, client) rows per period; more go to \"other\""),
	ROW("max_slow", INT, max_slow, "100", 0, 10000, 0,
	    "slow samples (and running statements) per period (the longest are kept)"),
	ROW("template_max_len", INT, template_max_len, "4096", 64, 1048576, 0,
	    "template text length cap (bytes)"),
	ROW("http.bind", STRING, http_bind, "127.0.0.1", 0, 0, 0,
	    "address the HTTP port binds to (0.0.0.0: every address)"),
	ROW("http.token", STRING, http_token, "", 0, 0, CONFIG_SECRET,
	    "bearer token required by the HTTP API when set (secret)"),
	ROW("http.token_file", STRING, http_token_file, "", 0, 0, 0,
	    "read http.token from the first line of this file (keeps it out of the process list)"),
	ROW("http.client_queue_mb", INT, http_client_queue_mb, "16", 1, 4096, 0,
	    "MiB of reports queued for one /collector client; over it the client takes no more "
	    "until it drains (it lags, and loses reports it is told of)"),
	ROW("http.queue_mb", INT, http_queue_mb, "64", 1, 65536, 0,
	    "MiB of reports all /collector clients' queues may hold; over it the clients that "
	    "have read nothing for longest are disconnected (counted)"),
	ENUM("output", output, "auto", output_modes,
	     "what goes to stdout: events, report (JSON), table, segments, none, or auto "
	     "(a table on a terminal, else report)"),
	ENUM("log_level", log_level, "warn", log_levels, "warn, info or debug"),
};
const size_t config_options_count = sizeof(config_options) / sizeof(config_options[0]);

/* A parsed value, before it replaces the field (so a bad value leaves c unchanged). */
union config_value {
	bool b;
	int64_t i;
	uint64_t u;
	char *s;
	struct config_strlist sl;
	struct config_portlist pl;
	int e;
};

const struct config_option *config_find(const char *name)
{
	size_t i;

	for (i = 0; i < config_options_count; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

bool config_option_takes_arg(const struct config_option *o)
{
	return o->type != CONFIG_BOOL;
}

static void *field(struct mp_config *c, const struct config_option *o)
{
	return (char *)c + o->off;
}

static const void *cfield(const struct mp_config *c, const struct config_option *o)
{
	return (const char *)c + o->off;
}

static void strlist_free(struct config_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void value_free(const struct config_option *o, union config_value *v)
{
	if (o->type == CONFIG_STRING)
		free(v->s);
	else if (o->type == CONFIG_STRLIST)
		strlist_free(&v->sl);
}

/* Moves v into the field, freeing the old value. */
static void value_assign(struct mp_config *c, const struct config_option *o, union config_value *v)
{
	void *f = field(c, o);

	switch (o->type) {
	case CONFIG_BOOL: *(bool *)f = v->b; break;
	case CONFIG_INT: *(int64_t *)f = v->i; break;
	case CONFIG_UINT: *(uint64_t *)f = v->u; break;
	case CONFIG_ENUM: *(int *)f = v->e; break;
	case CONFIG_PORTLIST: *(struct config_portlist *)f = v->pl; break;
	case CONFIG_STRING:
		free(*(char **)f);
		*(char **)f = v->s;
		break;
	case CONFIG_STRLIST:
		strlist_free(f);
		*(struct config_strlist *)f = v->sl;
		break;
	}
}

static int reason(char *r, size_t rlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reason(char *r, size_t rlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r, rlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_bool(const char *s, bool *out, char *r, size_t rlen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return reason(r, rlen, "expected a boolean (true or false), got '%.40s'", s);
}

/* Parses a base-10 integer and checks it against the row's range and flags. */
static int parse_number(const struct config_option *o, const char *s, union config_value *v,
			char *r, size_t rlen)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || *end || errno == ERANGE || (o->type == CONFIG_UINT && *s == '-'))
		return reason(r, rlen, "expected %s integer, got '%.40s'",
			      o->type == CONFIG_UINT ? "a non-negative" : "an", s);
	if (!(n == 0 && (o->flags & CONFIG_ZERO_OK)) && (n < o->min || n > o->max)) {
		if (o->flags & CONFIG_ZERO_OK)
			return reason(r, rlen, "out of range: %lld is not 0 or in %lld..%lld", n,
				      (long long)o->min, (long long)o->max);
		return reason(r, rlen, "out of range: %lld is not in %lld..%lld", n,
			      (long long)o->min, (long long)o->max);
	}
	if ((o->flags & CONFIG_POW2) && (n & (n - 1)))
		return reason(r, rlen, "%lld is not a power of two", n);
	if (o->type == CONFIG_UINT)
		v->u = (uint64_t)n;
	else
		v->i = n;
	return 0;
}

static int parse_enum(const struct config_option *o, const char *s, int *out, char *r,
		      size_t rlen)
{
	char names[128] = "";
	int i;

	for (i = 0; o->choices[i]; i++) {
		if (strcmp(s, o->choices[i]) == 0) {
			*out = i;
			return 0;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? "|" : "",
			 o->choices[i]);
	}
	return reason(r, rlen, "expected one of %s, got '%.40s'", names, s);
}

/* Appends one list item (already trimmed) to a list value. */
static int list_append(const struct config_option *o, union config_value *v, const char *item,
		       char *r, size_t rlen)
{
	union config_value n;
	char **p;
	size_t i;

	if (!*item)
		return reason(r, rlen, "bad list: empty item");
	if (o->type == CONFIG_PORTLIST) {
		static const struct config_option port = { .type = CONFIG_INT, .min = 1,
							   .max = 65535 };

		if (parse_number(&port, item, &n, r, rlen))
			return reason(r, rlen, "bad list item '%.40s': expected a port 1..65535",
				      item);
		for (i = 0; i < v->pl.n; i++)
			if (v->pl.v[i] == n.i)
				return reason(r, rlen, "bad list: port %s given twice", item);
		if (v->pl.n >= (size_t)o->max)
			return reason(r, rlen, "bad list: more than %lld ports", (long long)o->max);
		v->pl.v[v->pl.n++] = (uint16_t)n.i;
		return 0;
	}
	if (v->sl.n >= (size_t)o->max)
		return reason(r, rlen, "bad list: more than %lld items", (long long)o->max);
	if (strcmp(o->name, "report.keys") == 0) {
		unsigned int bit = agg_dim_parse(item);

		if (!bit)
			return reason(r, rlen,
				      "bad list item '%.40s': expected template, command, db, user, "
				      "client, app or server", item);
		for (i = 0; i < v->sl.n; i++)
			if (!strcmp(v->sl.v[i], item))
				return reason(r, rlen, "bad list: %s given twice", item);
	}
	if (strcmp(o->name, "probe.device") == 0 && strlen(item) >= 16)
		return reason(r, rlen, "bad list item '%.40s': device names are at most 15 bytes",
			      item);
	p = realloc(v->sl.v, (v->sl.n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->sl.v = p;
	p[v->sl.n] = strdup(item);
	if (!p[v->sl.n])
		return -ENOMEM;
	v->sl.n++;
	return 0;
}

/* Splits "a, b,c" into list items. */
static int list_parse(const struct config_option *o, const char *s, union config_value *v,
		      char *r, size_t rlen)
{
	char *copy = strdup(s), *item, *save = NULL, *end;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	/* Empty text is the empty list; a trailing or doubled comma is an error. */
	if (*s && (s[strlen(s) - 1] == ',' || strstr(s, ",,") || *s == ','))
		err = reason(r, rlen, "bad list: empty item");
	for (item = strtok_r(copy, ",", &save); !err && item; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		err = list_append(o, v, item, r, rlen);
	}
	free(copy);
	return err;
}

/*
 * Keys whose text has rules of its own. sinks.clickhouse.database goes into SQL between
 * backquotes: letters, digits and '_' only, as the ClickHouse sink requires.
 */
static int string_check(const struct config_option *o, const char *s, char *r, size_t rlen)
{
	static const char ident[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

	if (strcmp(o->name, "sinks.clickhouse.database") == 0 &&
	    (!*s || strlen(s) >= 64 || strspn(s, ident) != strlen(s)))
		return reason(r, rlen, "bad database name '%.40s': expected 1..63 letters, digits "
				       "or '_'", s);
	return 0;
}

/* A whole list's rules, once its items are read. */
static int list_check(const struct config_option *o, const union config_value *v, char *r,
		      size_t rlen)
{
	size_t i;

	if (strcmp(o->name, "report.keys") != 0)
		return 0;
	/* A prepare is never counted with its executes (DESIGN 6): command stays in the key. */
	for (i = 0; i < v->sl.n; i++)
		if (!strcmp(v->sl.v[i], "command"))
			return 0;
	return reason(r, rlen, "bad list: command is required (a row never mixes commands)");
}

/* Every comma-separated item (or the one value) of s is HOST:PORT; "" is no address. */
static int check_addrs(const char *s, bool list, char *r, size_t rlen)
{
	char item[ADDR_HOST_MAX + 16], host[ADDR_HOST_MAX];
	const char *why;
	size_t n;
	int port;

	while (*s) {
		n = list ? strcspn(s, ",") : strlen(s);
		if (n >= sizeof(item))
			return reason(r, rlen, "bad address: too long");
		memcpy(item, s, n);
		item[n] = '\0';
		if (n && addr_parse(item, host, &port, &why))
			return reason(r, rlen, "bad address %s: %s", item, why);
		s += n + (s[n] == ',');
	}
	return 0;
}

/* Parses text for row o into v (which starts zeroed). On error v holds nothing to free. */
static int value_parse(const struct config_option *o, const char *s, union config_value *v,
		       char *r, size_t rlen)
{
	int err = 0;

	memset(v, 0, sizeof(*v));
	/* Text settings end up in JSON and YAML; invalid UTF-8 could not round-trip. */
	if ((o->type == CONFIG_STRING || o->type == CONFIG_STRLIST) &&
	    !jbuf_utf8_valid(s, strlen(s)))
		return reason(r, rlen, "not valid UTF-8");
	if ((o->flags & CONFIG_ADDR) && check_addrs(s, o->type == CONFIG_STRLIST, r, rlen))
		return -EINVAL;
	switch (o->type) {
	case CONFIG_BOOL: return parse_bool(s, &v->b, r, rlen);
	case CONFIG_INT:
	case CONFIG_UINT: return parse_number(o, s, v, r, rlen);
	case CONFIG_ENUM: return parse_enum(o, s, &v->e, r, rlen);
	case CONFIG_STRING:
		if (string_check(o, s, r, rlen))
			return -EINVAL;
		v->s = strdup(s);
		return v->s ? 0 : -ENOMEM;
	case CONFIG_STRLIST:
	case CONFIG_PORTLIST: err = list_parse(o, s, v, r, rlen); break;
	}
	if (!err)
		err = list_check(o, v, r, rlen);
	if (!err && o->type == CONFIG_PORTLIST && v->pl.n < (size_t)o->min)
		err = reason(r, rlen, "bad list: at least %lld port needed", (long long)o->min);
	if (err)
		value_free(o, v);
	return err;
}

int config_init(struct mp_config *c)
{
	union config_value v;
	char r[160];
	size_t i;
	int err;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < config_options_count; i++) {
		err = value_parse(&config_options[i], config_options[i].def, &v, r, sizeof(r));
		if (err) {
			config_free(c);
			return err == -ENOMEM ? err : -EINVAL; /* -EINVAL: a bad table row */
		}
		value_assign(c, &config_options[i], &v);
	}
	return 0;
}

void config_free(struct mp_config *c)
{
	const struct config_option *o;
	size_t i;

	if (!c)
		return;
	for (i = 0; i < config_options_count; i++) {
		o = &config_options[i];
		if (o->type == CONFIG_STRING) {
			char *p = *(char **)field(c, o);

			if (p && (o->flags & CONFIG_SECRET))
				explicit_bzero(p, strlen(p));
			free(p);
			*(char **)field(c, o) = NULL;
		} else if (o->type == CONFIG_STRLIST) {
			strlist_free(field(c, o));
		}
	}
}

int config_set(struct mp_config *c, const char *key, const char *value, char *err,
	       size_t errlen)
{
	const struct config_option *o = config_find(key);
	union config_value v;
	char r[160];
	int ret;

	if (!o) {
		snprintf(err, errlen, "%s: unknown key", key);
		return -EINVAL;
	}
	if (!value && o->type != CONFIG_BOOL) {
		snprintf(err, errlen, "%s: missing value", key);
		return -EINVAL;
	}
	ret = value_parse(o, value ? value : "true", &v, r, sizeof(r));
	if (ret == -EINVAL)
		snprintf(err, errlen, "%s: %s", key, r);
	if (ret)
		return ret;
	value_assign(c, o, &v);
	return 0;
}

unsigned int config_report_keys(const struct mp_config *c)
{
	unsigned int keys = 0;

	for (size_t i = 0; i < c->report_keys.n; i++)
		keys |= agg_dim_parse(c->report_keys.v[i]);
	return keys;
}

uint64_t config_report_period_ms(const struct mp_config *c)
{
	return c->report_period_ms ? (uint64_t)c->report_period_ms : (uint64_t)c->interval * 1000;
}

const char *config_enum_name(const char *key, int value)
{
	const struct config_option *o = config_find(key);
	int i;

	if (!o || o->type != CONFIG_ENUM || value < 0)
		return "?";
	for (i = 0; o->choices[i]; i++)
		if (i == value)
			return o->choices[i];
	return "?";
}

/* --- YAML loading (libyaml document API) --- */

/* State of one load: the document, where messages point, which keys were seen. */
struct config_load {
	struct mp_config *c;
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t errlen;
	size_t seen_line[sizeof(config_options) / sizeof(config_options[0])];
};

static int load_error(struct config_load *l, const yaml_node_t *n, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int load_error(struct config_load *l, const yaml_node_t *n, const char *key,
		      const char *fmt, ...)
{
	char r[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r, sizeof(r), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%zu: %s: %s", l->file, n->start_mark.line + 1, key, r);
	return -EINVAL;
}

/* An unquoted empty, "~" or "null" scalar: YAML's null. */
static bool is_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}

/* The value's text (scalars only; an embedded NUL would silently cut it, so refuse it). */
static const char *scalar_text(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	return strlen(s) == n->data.scalar.length ? s : NULL;
}

static int load_list_items(struct config_load *l, const struct config_option *o,
			   yaml_node_t *seq, union config_value *v)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	const char *s;
	char r[160];
	int err;

	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		item = yaml_document_get_node(l->doc, *it);
		if (!item || item->type != YAML_SCALAR_NODE || !(s = scalar_text(item)))
			return load_error(l, item ? item : seq, o->name,
					  "bad list: items must be single values");
		err = list_append(o, v, s, r, sizeof(r));
		if (err == -EINVAL)
			return load_error(l, item, o->name, "%s", r);
		if (err)
			return err;
	}
	return 0;
}

/* Parses a value node (scalar, or a sequence for list rows) into v. */
static int load_value(struct config_load *l, const struct config_option *o, yaml_node_t *n,
		      union config_value *v)
{
	bool list = o->type == CONFIG_STRLIST || o->type == CONFIG_PORTLIST;
	const char *s;
	char r[160];
	int err;

	memset(v, 0, sizeof(*v));
	if (n->type == YAML_MAPPING_NODE)
		return load_error(l, n, o->name, "expected a value, not a mapping");
	if (n->type == YAML_SEQUENCE_NODE) {
		if (!list)
			return load_error(l, n, o->name, "expected a single value, not a list");
		err = load_list_items(l, o, n, v);
	} else if (is_null(n) && (list || o->type == CONFIG_STRING)) {
		err = value_parse(o, "", v, r, sizeof(r));
		if (err == -EINVAL)
			return load_error(l, n, o->name, "%s", r);
	} else if (is_null(n)) {
		return load_error(l, n, o->name, "missing value");
	} else if (!(s = scalar_text(n))) {
		return load_error(l, n, o->name, "value contains a NUL byte");
	} else {
		err = value_parse(o, s, v, r, sizeof(r));
		if (err == -EINVAL)
			return load_error(l, n, o->name, "%s", r);
		return err;
	}
	if (!err && o->type == CONFIG_PORTLIST && v->pl.n < (size_t)o->min)
		err = load_error(l, n, o->name, "bad list: at least %lld port needed",
				 (long long)o->min);
	if (!err && list_check(o, v, r, sizeof(r)))
		err = load_error(l, n, o->name, "%s", r);
	if (err)
		value_free(o, v);
	return err;
}

/* Whether name is a section ("probe") holding rows ("probe.port"). */
static bool is_section(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < config_options_count; i++)
		if (strncmp(config_options[i].name, name, n) == 0 &&
		    config_options[i].name[n] == '.')
			return true;
	return false;
}

static int load_mapping(struct config_load *l, yaml_node_t *map, const char *prefix);

static int load_pair(struct config_load *l, yaml_node_t *k, yaml_node_t *v, const char *prefix)
{
	const struct config_option *o;
	union config_value val;
	const char *key;
	char name[128];
	size_t idx;
	int err;

	if (k->type != YAML_SCALAR_NODE || !(key = scalar_text(k)))
		return load_error(l, k, prefix[0] ? prefix : "(top)", "keys must be plain names");
	if ((size_t)snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key) >=
	    sizeof(name))
		return load_error(l, k, "(key)", "unknown key (too long)");
	o = config_find(name);
	if (!o && is_section(name)) {
		if (v->type != YAML_MAPPING_NODE)
			return load_error(l, v, name, "expected a mapping of %s.* settings", name);
		return load_mapping(l, v, name);
	}
	if (!o)
		return load_error(l, k, name, "unknown key");
	idx = (size_t)(o - config_options);
	if (l->seen_line[idx])
		return load_error(l, k, name, "set twice (first at line %zu)", l->seen_line[idx]);
	l->seen_line[idx] = k->start_mark.line + 1;
	err = load_value(l, o, v, &val);
	if (err)
		return err;
	value_assign(l->c, o, &val);
	return 0;
}

static int load_mapping(struct config_load *l, yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	int err;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(l->doc, p->key);
		v = yaml_document_get_node(l->doc, p->value);
		if (!k || !v)
			return -EINVAL;
		err = load_pair(l, k, v, prefix);
		if (err)
			return err;
	}
	return 0;
}

static int yaml_syntax_error(yaml_parser_t *p, const char *file, char *err, size_t errlen)
{
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	snprintf(err, errlen, "%s:%zu: yaml: %s%s%s", file, p->problem_mark.line + 1,
		 p->problem ? p->problem : "syntax error", p->context ? " " : "",
		 p->context ? p->context : "");
	return -EINVAL;
}

int config_load_buffer(struct mp_config *c, const char *name, const char *data, size_t len,
		       char *err, size_t errlen)
{
	struct config_load l = { .c = c, .file = name, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = yaml_syntax_error(&parser, name, err, errlen);
		yaml_parser_delete(&parser);
		return ret;
	}
	l.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* An empty file (or only comments) keeps every default. */
	if (root && !(root->type == YAML_SCALAR_NODE && is_null(root))) {
		if (root->type != YAML_MAPPING_NODE)
			ret = load_error(&l, root, "(top)", "expected a mapping of settings");
		else
			ret = load_mapping(&l, root, "");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

/* Config files are small; a bound keeps a wrong path (a disk image, /dev/zero) harmless. */
#define CONFIG_FILE_MAX (1 << 20)

int config_load_file(struct mp_config *c, const char *path, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return ret;
	}
	data = malloc(CONFIG_FILE_MAX + 1);
	if (!data) {
		ret = -ENOMEM;
		goto cleanup;
	}
	len = fread(data, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f) || len > CONFIG_FILE_MAX) {
		ret = ferror(f) ? -EIO : -EFBIG;
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 ferror(f) ? "read error" : "larger than 1 MiB");
		goto cleanup;
	}
	ret = config_load_buffer(c, path, data, len, err, errlen);
cleanup:
	free(data);
	fclose(f);
	return ret;
}

/* --- writing the settings back --- */

static bool secret_hidden(const struct mp_config *c, const struct config_option *o, bool redact)
{
	return redact && (o->flags & CONFIG_SECRET) && **(char *const *)cfield(c, o);
}

static void write_value(const struct mp_config *c, const struct config_option *o,
			struct jbuf *b, bool redact)
{
	const struct config_strlist *sl;
	const struct config_portlist *pl;
	const void *f = cfield(c, o);
	size_t i;

	switch (o->type) {
	case CONFIG_BOOL: jbuf_bool(b, *(const bool *)f); break;
	case CONFIG_INT: jbuf_i64(b, *(const int64_t *)f); break;
	case CONFIG_UINT: jbuf_u64(b, *(const uint64_t *)f); break;
	case CONFIG_ENUM: jbuf_str(b, config_enum_name(o->name, *(const int *)f)); break;
	case CONFIG_STRING:
		jbuf_str(b, secret_hidden(c, o, redact) ? "<redacted>" : *(char *const *)f);
		break;
	case CONFIG_STRLIST:
		sl = f;
		jbuf_arr_open(b);
		for (i = 0; i < sl->n; i++)
			jbuf_str(b, sl->v[i]);
		jbuf_arr_close(b);
		break;
	case CONFIG_PORTLIST:
		pl = f;
		jbuf_arr_open(b);
		for (i = 0; i < pl->n; i++)
			jbuf_u64(b, pl->v[i]);
		jbuf_arr_close(b);
		break;
	}
}

void config_to_json(const struct mp_config *c, struct jbuf *b, bool redact)
{
	size_t i;

	jbuf_obj_open(b);
	for (i = 0; i < config_options_count; i++) {
		jbuf_key(b, config_options[i].name);
		write_value(c, &config_options[i], b, redact);
	}
	jbuf_obj_close(b);
}

void config_to_yaml(const struct mp_config *c, struct jbuf *b, bool redact)
{
	size_t i;

	/* JSON values are YAML flow values, and jbuf escapes strings the YAML way too. */
	for (i = 0; i < config_options_count; i++) {
		jbuf_raw(b, config_options[i].name, strlen(config_options[i].name));
		jbuf_raw(b, ": ", 2);
		b->comma = false;
		write_value(c, &config_options[i], b, redact);
		jbuf_raw(b, "\n", 1);
	}
}

/* Secrets that may come from a file instead of the config or the command line. */
static const struct {
	const char *file_key, *secret_key;
} secret_files[] = {
	{ "http.token_file", "http.token" },
	{ "watcher.password_file", "watcher.password" },
	{ "cluster.token_file", "cluster.token" },
	{ "sinks.clickhouse.password_file", "sinks.clickhouse.password" },
};

/* Reads the first line of path (at most SECRET_MAX bytes) into a new string in *out. */
#define SECRET_MAX 4096
static int read_secret(const char *path, char **out, bool *loose)
{
	char buf[SECRET_MAX + 2];
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	*loose = (st.st_mode & 0077) != 0;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	n = strcspn(buf, "\r\n");
	if (n > SECRET_MAX) {
		err = -EFBIG;
		goto cleanup;
	}
	buf[n] = '\0';
	if (!n || strlen(buf) != n) {
		err = -ENODATA; /* empty first line, or a NUL inside it */
		goto cleanup;
	}
	*out = strdup(buf);
	if (!*out)
		err = -ENOMEM;
cleanup:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return err;
}

int config_read_secret_files(struct mp_config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sizeof(secret_files) / sizeof(secret_files[0]); i++) {
		const struct config_option *fo = config_find(secret_files[i].file_key);
		const struct config_option *so = config_find(secret_files[i].secret_key);
		const char *path = *(char *const *)cfield(c, fo);
		char **secret = (char **)field(c, so);
		bool loose = false;
		char *v = NULL;
		int ret;

		if (!*path)
			continue;
		if (**secret) {
			snprintf(err, errlen, "%s: %s is set too; give only one", fo->name, so->name);
			return -EINVAL;
		}
		ret = read_secret(path, &v, &loose);
		if (ret == -ENOMEM)
			return ret;
		if (ret) {
			/* The path and the reason only: never a byte of the file. */
			snprintf(err, errlen, "%s: %s: %s", fo->name, path,
				 ret == -ENODATA ? "the first line is empty"
				 : ret == -EFBIG ? "the first line is longer than 4096 bytes"
						 : strerror(-ret));
			return -EINVAL;
		}
		if (loose)
			pr_warn("mysqlprobe: %s: %s is readable by group or others (chmod 600)\n",
				fo->name, path);
		free(*secret);
		*secret = v;
	}
	return 0;
}
