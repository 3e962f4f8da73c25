// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the config table: defaults, the shipped file, error messages with lines, overrides. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/config.h"
#include <yaml.h>

static char errbuf[512];

static const char *shipped_path(char *buf, size_t len)
{
	const char *root = getenv("MP_ROOT");

	snprintf(buf, len, "%s/conf/mysqlprobe.yaml", root ? root : ".");
	return buf;
}

static char *to_json(const struct mp_config *c, bool redact)
{
	struct jbuf b;
	char *s;

	jbuf_init(&b);
	config_to_json(c, &b, redact);
	assert_int_equal(jbuf_error(&b), 0);
	s = strdup(b.out.data);
	jbuf_free(&b);
	return s;
}

static void test_defaults(void **state)
{
	struct mp_config c;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_true(c.slave);
	assert_int_equal(c.serverport, 8667);
	assert_int_equal(c.interval, 5);
	assert_int_equal(c.slowthresholdms, 100);
	assert_false(c.cluster_gossip);
	assert_string_equal(c.cluster_group, "");
	assert_int_equal(c.probe_device.n, 1);
	assert_string_equal(c.probe_device.v[0], "lo");
	assert_int_equal(c.probe_port.n, 1);
	assert_int_equal(c.probe_port.v[0], 3306);
	assert_int_equal(c.probe_snappylength, 0);
	assert_int_equal(c.probe_workers, 1);
	assert_int_equal(c.probe_mode, PROBE_MODE_TC);
	assert_int_equal(c.probe_max_connections, 65536);
	assert_int_equal(c.probe_ringbuf_mb, 32);
	assert_int_equal(c.probe_idle_timeout_s, 300);
	assert_int_equal(c.pusher_servers.n, 0);
	assert_string_equal(c.pusher_path, "/collector");
	assert_string_equal(c.pusher_spool_dir, "");
	assert_int_equal(c.pusher_spool_mb, 64);
	assert_int_equal(c.websocket_maxmessagesize, 16 << 20);
	assert_int_equal(c.websocket_queue, 8);
	assert_int_equal(c.report_period_ms, 0);
	assert_int_equal(config_report_period_ms(&c), 5000);
	assert_int_equal(c.max_keys, 10000);
	assert_int_equal(c.max_slow, 100);
	assert_int_equal(c.template_max_len, 4096);
	assert_string_equal(c.http_bind, "127.0.0.1"); /* the API stays on this host unless asked */
	assert_string_equal(c.http_token, "");
	assert_int_equal(c.output, OUTPUT_AUTO);
	assert_int_equal(c.log_level, 0);
	assert_string_equal(config_enum_name("probe.mode", c.probe_mode), "tc");
	config_free(&c);
	config_free(NULL);
}

static void test_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < config_options_count; i++) {
		const struct config_option *o = &config_options[i];

		assert_non_null(o->help);
		assert_true(strlen(o->help) > 5);
		assert_ptr_equal(config_find(o->name), o);
		assert_int_equal(config_option_takes_arg(o), o->type != CONFIG_BOOL);
		for (j = 0; j < i; j++)
			assert_string_not_equal(o->name, config_options[j].name);
		if (o->flags & CONFIG_SECRET)
			assert_true(strcmp(o->name, "watcher.password") == 0 ||
				    strcmp(o->name, "http.token") == 0 ||
				    strcmp(o->name, "cluster.token") == 0 ||
				    strcmp(o->name, "sinks.clickhouse.password") == 0);
	}
	assert_true(config_find("watcher.password")->flags & CONFIG_SECRET);
	assert_true(config_find("http.token")->flags & CONFIG_SECRET);
	assert_true(config_find("cluster.token")->flags & CONFIG_SECRET);
	assert_null(config_find("probe"));
}

/* Value of key in a mapping node of doc, or NULL. */
static yaml_node_t *yget(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* The shipped file loads, sets every key, and states the defaults. */
static void test_shipped_file(void **state)
{
	struct mp_config def, c;
	char path[4096], *a, *b, *data, *dot, head[64];
	yaml_node_t *n, *root;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t i, len;
	FILE *f;

	(void)state;
	assert_int_equal(config_init(&def), 0);
	assert_int_equal(config_init(&c), 0);
	if (config_load_file(&c, shipped_path(path, sizeof(path)), errbuf, sizeof(errbuf))) {
		print_error("%s\n", errbuf);
		fail();
	}
	a = to_json(&def, false);
	b = to_json(&c, false);
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* Every row is present in the file (read with libyaml). */
	f = fopen(path, "r");
	assert_non_null(f);
	data = calloc(1, 1 << 16);
	len = fread(data, 1, (1 << 16) - 1, f);
	fclose(f);
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	assert_true(yaml_parser_load(&parser, &doc));
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&doc);
	for (i = 0; i < config_options_count; i++) {
		const char *name = config_options[i].name;

		/* Each dot is one level of mapping (sinks.clickhouse.url). */
		n = root;
		for (const char *p = name; n; p = dot + 1) {
			dot = strchr(p, '.');
			snprintf(head, sizeof(head), "%.*s", (int)(dot ? dot - p : (int)strlen(p)), p);
			n = yget(&doc, n, head);
			if (!dot)
				break;
		}
		if (!n) {
			print_error("conf/mysqlprobe.yaml does not set %s\n", name);
			fail();
		}
	}
	yaml_document_delete(&doc);
	free(data);
	config_free(&def);
	config_free(&c);
}

struct bad_case {
	const char *yaml;
	const char *error;
};

static const struct bad_case bad_cases[] = {
	{ "slave: true\nbogus: 1\n", "t.yaml:2: bogus: unknown key" },
	{ "probe:\n  port: 3306\n  portz: 1\n", "t.yaml:3: probe.portz: unknown key" },
	{ "serverport: abc\n", "t.yaml:1: serverport: expected an integer, got 'abc'" },
	{ "serverport: 12abc\n", "t.yaml:1: serverport: expected an integer, got '12abc'" },
	{ "\n\nserverport: 70000\n",
	  "t.yaml:3: serverport: out of range: 70000 is not in 1..65535" },
	{ "serverport: 0\n", "t.yaml:1: serverport: out of range: 0 is not in 1..65535" },
	{ "slave: maybe\n", "t.yaml:1: slave: expected a boolean (true or false), got 'maybe'" },
	{ "probe:\n  port: [3306, 99999]\n",
	  "t.yaml:2: probe.port: bad list item '99999': expected a port 1..65535" },
	{ "probe:\n  port:\n    - 3306\n    - x\n",
	  "t.yaml:4: probe.port: bad list item 'x': expected a port 1..65535" },
	{ "probe:\n  port: [1,2,3,4,5,6,7,8,9]\n",
	  "t.yaml:2: probe.port: bad list: more than 8 ports" },
	{ "probe:\n  port: 3306, 3306\n", "t.yaml:2: probe.port: bad list: port 3306 given twice" },
	{ "probe:\n  port: \"3306,,3307\"\n", "t.yaml:2: probe.port: bad list: empty item" },
	{ "probe:\n  port: []\n", "t.yaml:2: probe.port: bad list: at least 1 port needed" },
	{ "probe:\n  port: [[1]]\n",
	  "t.yaml:2: probe.port: bad list: items must be single values" },
	{ "probe:\n  device: [eth0, averyveryverylongname]\n",
	  "t.yaml:2: probe.device: bad list item 'averyveryverylongname': "
	  "device names are at most 15 bytes" },
	{ "probe: 5\n", "t.yaml:1: probe: expected a mapping of probe.* settings" },
	{ "serverport: [1]\n", "t.yaml:1: serverport: expected a single value, not a list" },
	{ "serverport: {a: 1}\n", "t.yaml:1: serverport: expected a value, not a mapping" },
	{ "slave: true\nserverport:\n", "t.yaml:2: serverport: missing value" },
	{ "probe:\n  mode: foo\n", "t.yaml:2: probe.mode: expected one of tc|xdp|pcap, got 'foo'" },
	{ "probe:\n  ringbuf_mb: 3\n", "t.yaml:2: probe.ringbuf_mb: 3 is not a power of two" },
	{ "report_period_ms: 50\n",
	  "t.yaml:1: report_period_ms: out of range: 50 is not 0 or in 100..3600000" },
	{ "probe:\n  snappylength: -1\n",
	  "t.yaml:2: probe.snappylength: expected a non-negative integer, got '-1'" },
	{ "slave: true\nslave: false\n", "t.yaml:2: slave: set twice (first at line 1)" },
	{ "probe:\n  port: 3306\nprobe.port: 3307\n",
	  "t.yaml:3: probe.port: set twice (first at line 2)" },
	{ "- 1\n- 2\n", "t.yaml:1: (top): expected a mapping of settings" },
	{ "[1]: 2\n", "t.yaml:1: (top): keys must be plain names" },
	{ "cluster:\n  port: 99999999999999999999\n",
	  "t.yaml:2: cluster.port: expected an integer, got '99999999999999999999'" },
	{ "sinks:\n  clickhouse:\n    database: \"my-db\"\n",
	  "t.yaml:3: sinks.clickhouse.database: bad database name 'my-db': expected 1..63 "
	  "letters, digits or '_'" },
	{ "sinks.clickhouse.database: \"\"\n",
	  "t.yaml:1: sinks.clickhouse.database: bad database name '': expected 1..63 letters, "
	  "digits or '_'" },
	{ "report:\n  keys: [app, template]\n",
	  "t.yaml:2: report.keys: bad list: command is required (a row never mixes commands)" },
	{ "report.keys: app, command, host\n",
	  "t.yaml:1: report.keys: bad list item 'host': expected template, command, db, user, "
	  "client, app or server" },
	{ "report.keys: [app, command, app]\n",
	  "t.yaml:1: report.keys: bad list: app given twice" },
};

static void test_errors_name_file_line_key(void **state)
{
	struct mp_config c;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		assert_int_equal(config_init(&c), 0);
		errbuf[0] = '\0';
		ret = config_load_buffer(&c, "t.yaml", bad_cases[i].yaml, strlen(bad_cases[i].yaml),
					 errbuf, sizeof(errbuf));
		if (ret != -EINVAL || strcmp(errbuf, bad_cases[i].error) != 0) {
			print_error("case %zu: got %d '%s'\nwant '%s'\n", i, ret, errbuf,
				    bad_cases[i].error);
			fail();
		}
		config_free(&c);
	}
}

static void test_yaml_syntax_error(void **state)
{
	static const char text[] = "slave: true\nprobe:\n  port: [3306, 3307\nserverport: 1\n";
	struct mp_config c;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_load_buffer(&c, "t.yaml", text, strlen(text), errbuf,
					    sizeof(errbuf)),
			 -EINVAL);
	assert_true(strncmp(errbuf, "t.yaml:4: yaml: ", 16) == 0);
	config_free(&c);
}

static void test_good_forms(void **state)
{
	static const char text[] =
		"# comment\n"
		"slave: no\n"
		"probe.port: 3306, 3307\n"
		"probe:\n"
		"  device:\n"
		"    - eth0\n"
		"    - eth1\n"
		"  mode: pcap\n"
		"pusher:\n"
		"  servers: \"m1:8667,m2:8667\"\n"
		"cluster:\n"
		"  group: ~\n"
		"websocket: {maxmessagesize: 2048, queue: 3}\n"
		"report_period_ms: 250\n";
	struct mp_config c;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	if (config_load_buffer(&c, "t.yaml", text, strlen(text), errbuf, sizeof(errbuf))) {
		print_error("%s\n", errbuf);
		fail();
	}
	assert_false(c.slave);
	assert_int_equal(c.probe_port.n, 2);
	assert_int_equal(c.probe_port.v[1], 3307);
	assert_int_equal(c.probe_device.n, 2);
	assert_string_equal(c.probe_device.v[1], "eth1");
	assert_int_equal(c.probe_mode, PROBE_MODE_PCAP);
	assert_int_equal(c.pusher_servers.n, 2);
	assert_string_equal(c.pusher_servers.v[0], "m1:8667");
	assert_string_equal(c.cluster_group, "");
	assert_int_equal(c.websocket_maxmessagesize, 2048);
	assert_int_equal(c.websocket_queue, 3);
	assert_int_equal(config_report_period_ms(&c), 250);
	/* Empty and comment-only files keep every default. */
	assert_int_equal(config_load_buffer(&c, "e.yaml", "", 0, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_load_buffer(&c, "e.yaml", "# x\n", 4, errbuf, sizeof(errbuf)), 0);
	assert_false(c.slave);
	config_free(&c);
}

static void test_config_set(void **state)
{
	struct mp_config c;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "serverport", "9000", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(c.serverport, 9000);
	assert_int_equal(config_set(&c, "probe.port", "3306, 3307,3308", errbuf, sizeof(errbuf)),
			 0);
	assert_int_equal(c.probe_port.n, 3);
	assert_int_equal(c.probe_port.v[2], 3308);
	assert_int_equal(config_set(&c, "probe.device", "eth0,eth1", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(c.probe_device.n, 2);
	assert_int_equal(config_set(&c, "slave", "false", errbuf, sizeof(errbuf)), 0);
	assert_false(c.slave);
	assert_int_equal(config_set(&c, "slave", NULL, errbuf, sizeof(errbuf)), 0);
	assert_true(c.slave);
	assert_int_equal(config_set(&c, "interval", "7", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_report_period_ms(&c), 7000);
	assert_int_equal(config_set(&c, "output", "events", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(c.output, OUTPUT_EVENTS);
	assert_int_equal(config_set(&c, "pusher.path", "/x", errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.pusher_path, "/x");
	/* Bad values leave the setting alone. */
	assert_int_equal(config_set(&c, "serverport", "70000", errbuf, sizeof(errbuf)), -EINVAL);
	assert_string_equal(errbuf, "serverport: out of range: 70000 is not in 1..65535");
	assert_int_equal(c.serverport, 9000);
	assert_int_equal(config_set(&c, "probe.port", "1,x", errbuf, sizeof(errbuf)), -EINVAL);
	assert_string_equal(errbuf, "probe.port: bad list item 'x': expected a port 1..65535");
	assert_int_equal(c.probe_port.n, 3);
	assert_int_equal(config_set(&c, "probe.device", "eth\xa5", errbuf, sizeof(errbuf)),
			 -EINVAL);
	assert_string_equal(errbuf, "probe.device: not valid UTF-8");
	assert_int_equal(config_set(&c, "nope", "1", errbuf, sizeof(errbuf)), -EINVAL);
	assert_string_equal(errbuf, "nope: unknown key");
	assert_int_equal(config_set(&c, "serverport", NULL, errbuf, sizeof(errbuf)), -EINVAL);
	assert_string_equal(errbuf, "serverport: missing value");
	config_free(&c);
}

static void test_secrets_redacted(void **state)
{
	struct mp_config c;
	char *s;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	s = to_json(&c, true);
	assert_non_null(strstr(s, "\"http.token\":\"\""));
	free(s);
	assert_int_equal(config_set(&c, "http.token", "s3cr3t-tok", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_set(&c, "watcher.password", "pa55", errbuf, sizeof(errbuf)), 0);
	s = to_json(&c, true);
	assert_null(strstr(s, "s3cr3t-tok"));
	assert_null(strstr(s, "pa55"));
	assert_non_null(strstr(s, "\"http.token\":\"<redacted>\""));
	assert_non_null(strstr(s, "\"watcher.password\":\"<redacted>\""));
	free(s);
	s = to_json(&c, false);
	assert_non_null(strstr(s, "s3cr3t-tok"));
	free(s);
	config_free(&c);
}

static void test_yaml_dump_round_trip(void **state)
{
	struct mp_config c, d;
	struct jbuf b;
	char *x, *y;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_init(&d), 0);
	assert_int_equal(config_set(&c, "probe.port", "1,2", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_set(&c, "cluster.group", "a \"q\"\n#x: y", errbuf, sizeof(errbuf)),
			 0);
	assert_int_equal(config_set(&c, "pusher.servers", "a:1,b:2", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_set(&c, "log_level", "debug", errbuf, sizeof(errbuf)), 0);
	jbuf_init(&b);
	config_to_yaml(&c, &b, false);
	assert_int_equal(jbuf_error(&b), 0);
	if (config_load_buffer(&d, "dump.yaml", b.out.data, b.out.len, errbuf, sizeof(errbuf))) {
		print_error("%s\n%s\n", errbuf, b.out.data);
		fail();
	}
	x = to_json(&c, false);
	y = to_json(&d, false);
	assert_string_equal(x, y);
	free(x);
	free(y);
	jbuf_free(&b);
	config_free(&c);
	config_free(&d);
}

static void test_missing_file(void **state)
{
	struct mp_config c;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_load_file(&c, "/nonexistent/x.yaml", errbuf, sizeof(errbuf)),
			 -ENOENT);
	assert_non_null(strstr(errbuf, "/nonexistent/x.yaml"));
	config_free(&c);
}

/* Writes text to a new 0600 file; returns its path (static buffer per call site). */
static void write_file(char *path, const char *text, mode_t mode)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_secret_files(void **state)
{
	char tok[] = "/tmp/mp-test-tok-XXXXXX", empty[] = "/tmp/mp-test-empty-XXXXXX";
	char err[256];
	struct mp_config c;

	(void)state;
	write_file(tok, "s3cret-token\nsecond line ignored\n", 0600);
	write_file(empty, "\nnot-this\n", 0600);

	/* The first line, without its newline, becomes the secret. */
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "http.token_file", tok, err, sizeof(err)), 0);
	assert_int_equal(config_read_secret_files(&c, err, sizeof(err)), 0);
	assert_string_equal(c.http_token, "s3cret-token");
	config_free(&c);

	/* Both ways at once is ambiguous. */
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "http.token_file", tok, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "http.token", "other", err, sizeof(err)), 0);
	assert_int_equal(config_read_secret_files(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "http.token_file: http.token is set too"));
	config_free(&c);

	/* An empty first line or a missing file: the key, the path and why; never the bytes. */
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "watcher.password_file", empty, err, sizeof(err)), 0);
	assert_int_equal(config_read_secret_files(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "watcher.password_file: "));
	assert_non_null(strstr(err, "the first line is empty"));
	assert_null(strstr(err, "not-this"));
	config_free(&c);
	unlink(empty);
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "watcher.password_file", empty, err, sizeof(err)), 0);
	assert_int_equal(config_read_secret_files(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "No such file or directory"));
	config_free(&c);

	/* No *_file key: nothing changes. */
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_set(&c, "http.token", "flag-token", err, sizeof(err)), 0);
	assert_int_equal(config_read_secret_files(&c, err, sizeof(err)), 0);
	assert_string_equal(c.http_token, "flag-token");
	config_free(&c);
	unlink(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_shipped_file),
		cmocka_unit_test(test_errors_name_file_line_key),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_good_forms),
		cmocka_unit_test(test_config_set),
		cmocka_unit_test(test_secrets_redacted),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_yaml_dump_round_trip),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
