// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sink throughput on one core: query events to Kafka (librdkafka's mock cluster in this
 * process, every delivery report awaited), and, with a ClickHouse URL, metrics rows inserted
 * in batches of 1,000 (JSONEachRow over libcurl, as the sink sends them).
 * Usage: sink_speed EVENTS [CLICKHOUSE_URL ROWS]. Prints one JSON object.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lib/log.h"
#include "sinks/ch_http.h"
#include "sinks/ch_rows.h"
#include "sinks/kafka_sink.h"

/* A query event as --output events writes it (and the events topic carries), 420 bytes. */
static const char EVENT[] =
	"{\"ts_us\":1795235995646773,\"latency_us\":114,\"first_byte_us\":114,"
	"\"client\":\"127.0.0.1:49708\",\"server\":\"127.0.0.1:3306\",\"conn_id\":5,\"user\":\"mp\","
	"\"db\":\"mp\",\"command\":\"execute\",\"sql\":\"SELECT c FROM sbtest1 WHERE id=?\","
	"\"template\":\"SELECT c FROM sbtest1 WHERE id = ?\",\"template_id\":\"bbba3212427a1f23\","
	"\"status\":\"ok\",\"error_code\":null,\"sqlstate\":null,\"rows_sent\":1,"
	"\"rows_affected\":0,\"bytes_in\":40,\"bytes_out\":180,\"flags\":[]}";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static const struct agg *no_view(const void *r, const struct report_header **h)
{
	return NULL;
}

static int kafka_events(long n)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc;
	struct bus_config bc = { .history = 1 };
	struct bus *b = bus_new(&bc);
	struct kafka_sink_config kc = { .topic = "stats", .events_topic = "events", .workers = 1,
					.queue = 1, .view = no_view };
	struct kafka_sink *k;
	double t0, c0, wall, cpu;
	long dropped = 0;

	const char *ext = getenv("MP_KAFKA_BROKERS");

	/*
	 * MP_KAFKA_BROKERS: a broker in another process (tests/sinks/kafka_mock), so the CPU
	 * measured is the producer's alone, as on an agent whose broker runs elsewhere.
	 */
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	host = ext ? NULL : rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (!ext && (!mc || rd_kafka_mock_topic_create(mc, "events", 4, 1)))
		return 1;
	if (ext)
		rd_kafka_conf_destroy(conf);
	if (!b)
		return 1;
	kc.brokers = ext ? ext : rd_kafka_mock_cluster_bootstraps(mc);
	k = kafka_sink_new(b, &kc);
	if (!k)
		return 1;
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n; i++)
		while (kafka_sink_event(k, 0, (uint64_t)i & 1023, EVENT, sizeof(EVENT) - 1))
			dropped++; /* queue full: the sink's thread serves reports meanwhile */
	if (kafka_sink_flush(k, 600000))
		return 1;
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	printf("\"kafka\":{\"events\":%ld,\"bytes\":%zu,\"wall_s\":%.3f,\"cpu_s\":%.3f,"
	       "\"per_s\":%.0f,\"per_cpu_s\":%.0f,\"queue_full_retries\":%ld}",
	       n, sizeof(EVENT) - 1, wall, cpu, n / wall, n / cpu, dropped);
	bus_close(b);
	kafka_sink_free(k, 1000);
	bus_free(b);
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	if (host)
		rd_kafka_destroy(host);
	return 0;
}

/* One synthetic period of 1,000 rows (distinct templates), as a sink would batch them. */
static struct agg *batch_agg(void)
{
	struct agg_config cfg = { .max_keys = 2000, .max_slow = 0, .template_max_len = 4096,
				  .sql_max_len = 64 };
	struct agg *a = agg_new(&cfg);
	char tmpl[64];

	for (int i = 0; a && i < 1000; i++) {
		struct agg_input in = { .template_id = (uint64_t)i + 1, .family = AF_INET,
					.db = "mp", .db_len = 2, .user = "app", .user_len = 3 };

		in.template_len = (size_t)snprintf(tmpl, sizeof(tmpl), "SELECT c FROM t%d WHERE id = ?", i);
		in.template_text = tmpl;
		inet_pton(AF_INET, "10.0.0.1", in.client_addr);
		for (int j = 0; j < 20; j++) {
			in.latency_us = 50 + (uint64_t)j * 37;
			agg_add(a, &in);
		}
	}
	return a;
}

static int clickhouse_rows(const char *url, long rows)
{
	struct report_header h = { .node = "bench:8667", .started_ms = 1, .period_start_ms = 1764633600000,
				   .period_end_ms = 1764633601000 };
	struct ch_http *http = ch_http_new(url, "", "", NULL);
	struct agg *a = batch_agg();
	struct jbuf b;
	struct buf ddl = { 0 };
	char why[600];
	double t0, c0, wall, cpu;
	long sent = 0;

	if (!http || !a)
		return 1;
	jbuf_init(&b);
	ch_ddl_database(&ddl, "mpbench");
	if (ch_http_post(http, NULL, ddl.data, ddl.len, why, sizeof(why)))
		return fprintf(stderr, "%s\n", why), 1;
	buf_reset(&ddl);
	ch_ddl_table(&ddl, "mpbench", CH_TABLE_METRICS);
	if (ch_http_post(http, NULL, ddl.data, ddl.len, why, sizeof(why)))
		return fprintf(stderr, "%s\n", why), 1;
	t0 = now_s();
	c0 = cpu_s();
	for (h.seq = 1; sent < rows; h.seq++) {
		jbuf_reset(&b);
		sent += (long)ch_rows_metrics(&b, &h, a);
		if (ch_http_post(http, "INSERT INTO mpbench.metrics FORMAT JSONEachRow", b.out.data,
				 b.out.len, why, sizeof(why)))
			return fprintf(stderr, "%s\n", why), 1;
	}
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	printf(",\"clickhouse\":{\"rows\":%ld,\"batch_rows\":1000,\"batch_bytes\":%zu,\"wall_s\":%.3f,"
	       "\"agent_cpu_s\":%.3f,\"per_s\":%.0f}",
	       sent, b.out.len, wall, cpu, sent / wall);
	jbuf_free(&b);
	buf_free(&ddl);
	agg_free(a);
	ch_http_free(http);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;

	printf("{");
	if (kafka_events(n))
		return 1;
	if (argc > 3 && clickhouse_rows(argv[2], atol(argv[3])))
		return 1;
	printf("}\n");
	return 0;
}
