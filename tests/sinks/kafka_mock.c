// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Kafka broker for tests: librdkafka's mock cluster (real protocol on loopback TCP ports, no
 * JVM). Usage: kafka_mock [-b BROKERS] [-p PARTITIONS] TOPIC...; prints the bootstrap list on
 * one line, then serves until stdin closes or SIGTERM/SIGINT.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	int brokers = 1, partitions = 2, opt;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	struct sigaction sa;
	char err[256];
	rd_kafka_t *rk;

	while ((opt = getopt(argc, argv, "b:p:")) != -1) {
		if (opt == 'b')
			brokers = atoi(optarg);
		else if (opt == 'p')
			partitions = atoi(optarg);
		else
			return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* The mock cluster lives in a client handle; this one never produces. */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)); /* no bootstrap warning */
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", err);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		return 1;
	}
	for (int i = optind; i < argc; i++)
		if (rd_kafka_mock_topic_create(mc, argv[i], partitions, 1)) {
			fprintf(stderr, "kafka_mock: cannot create topic %s\n", argv[i]);
			return 1;
		}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char c;

		if (poll(&p, 1, 200) > 0 && read(0, &c, 1) <= 0)
			break;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
