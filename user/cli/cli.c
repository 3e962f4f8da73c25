// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The command line: -c FILE, one long option per config key, short aliases, help text. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/version.h"

/*
 * getopt values: config key i is OPT_KEY + i, alias j is OPT_ALIAS + j. Plain characters
 * are the short options.
 */
enum { OPT_KEY = 1000, OPT_ALIAS = 2000, OPT_XDP_NATIVE = 3000, OPT_VERSION };

/* Names the first release used, kept as aliases of the config keys they now set. */
static const struct {
	const char *name;
	const char *key;
} aliases[] = {
	{ "device", "probe.device" },	  { "port", "probe.port" },
	{ "mode", "probe.mode" },	  { "workers", "probe.workers" },
	{ "snaplen", "probe.snappylength" }, { "ringbuf-mb", "probe.ringbuf_mb" },
};
#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

static const struct option fixed_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "replay", required_argument, NULL, 'r' },
	{ "xdp-native", no_argument, NULL, OPT_XDP_NATIVE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};
#define NFIXED (sizeof(fixed_opts) / sizeof(fixed_opts[0]))

static const char short_opts[] = "c:r:i:p:o:vh";

void cli_usage(FILE *f)
{
	fprintf(f,
		"Usage: mysqlprobe [-c FILE] [OPTIONS]\n"
		"       mysqlprobe template [--split] [--max-len N] [FILE|-]\n"
		"       mysqlprobe top [--token-file FILE] [URL]   (a node's reports in the terminal)\n"
		"Watches MySQL traffic on the given devices, decodes every statement and reports\n"
		"counts, errors and latency per query template every period: on stdout and to\n"
		"websocket clients of ws://HOST:SERVERPORT/collector.\n\n"
		"  -c, --config FILE      YAML settings (conf/mysqlprobe.yaml lists every key);\n"
		"                         flags override the file\n"
		"  -r, --replay FILE      read a pcap/pcapng file instead of capturing live\n"
		"                         (periods follow capture time; no HTTP server)\n"
		"  -i, --device LIST      = --probe.device    -p, --port LIST  = --probe.port\n"
		"      --mode MODE        = --probe.mode      -o KIND          = --output\n"
		"      --workers N        = --probe.workers   --snaplen N      = --probe.snappylength\n"
		"      --ringbuf-mb N     = --probe.ringbuf_mb\n"
		"      --xdp-native       attach XDP in driver mode instead of generic mode\n"
		"  -v, --verbose          more logging (repeat for debug); the counters when they\n"
		"                         change, at most every 10 s\n"
		"  -h, --help             this text\n"
		"      --version          print the version\n\n"
		"Settings (the YAML keys; lists are comma-separated, booleans take =true/false):\n");
	for (size_t i = 0; i < config_options_count; i++) {
		const struct config_option *o = &config_options[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s%s", o->name,
			 config_option_takes_arg(o) ? " V" : "[=B]");
		fprintf(f, "  %s\n        %s (default %s)\n", flag, o->help,
			o->def[0] ? o->def : "\"\"");
	}
	fprintf(f,
		"\n'mysqlprobe template' prints template_id<TAB>template for each statement read.\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

/* The long option table: config keys, aliases, fixed options. Returns NULL on ENOMEM. */
static struct option *build_long_opts(void)
{
	size_t n = config_options_count + NALIASES + NFIXED + 1, k = 0;
	struct option *v = calloc(n, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < config_options_count; i++, k++) {
		v[k].name = config_options[i].name;
		v[k].has_arg = config_option_takes_arg(&config_options[i]) ? required_argument :
									       optional_argument;
		v[k].val = OPT_KEY + (int)i;
	}
	for (size_t j = 0; j < NALIASES; j++, k++) {
		v[k].name = aliases[j].name;
		v[k].has_arg = required_argument;
		v[k].val = OPT_ALIAS + (int)j;
	}
	memcpy(v + k, fixed_opts, sizeof(fixed_opts));
	return v;
}

/* The config key a getopt value sets, or NULL. */
static const char *key_of(int c)
{
	if (c >= OPT_KEY && c < OPT_KEY + (int)config_options_count)
		return config_options[c - OPT_KEY].name;
	if (c >= OPT_ALIAS && c < OPT_ALIAS + (int)NALIASES)
		return aliases[c - OPT_ALIAS].key;
	switch (c) {
	case 'i': return "probe.device";
	case 'p': return "probe.port";
	case 'o': return "output";
	}
	return NULL;
}

/* First pass: only -c, so the file is loaded before any flag overrides it. */
static void find_config_file(int argc, char **argv, const struct option *lo, struct cli_extra *x)
{
	int c;

	opterr = 0; /* the second pass reports bad options */
	optind = 0;
	while ((c = getopt_long(argc, argv, short_opts, lo, NULL)) != -1)
		if (c == 'c')
			x->config_file = optarg;
	opterr = 1;
}

/*
 * A secret given as a flag is in the process list for anyone to read: say so, and overwrite
 * our copy of argv so /proc/PID/cmdline stops showing it once the agent has started.
 */
static void hide_secret_flag(const char *key, char *value)
{
	const struct config_option *o = config_find(key);

	if (!o || !(o->flags & CONFIG_SECRET) || !value || !*value)
		return;
	fprintf(stderr,
		"mysqlprobe: warning: --%s on the command line shows in the process list until "
		"start-up; put it in %s_file or the config file instead\n",
		key, key);
	memset(value, 'x', strlen(value));
}

static int set_flag(struct mp_config *cfg, const char *key, char *value)
{
	char err[256];
	int rc = config_set(cfg, key, value, err, sizeof(err));

	if (rc == -EINVAL)
		fprintf(stderr, "mysqlprobe: --%s\n", err);
	else if (rc)
		fprintf(stderr, "mysqlprobe: --%s: %s\n", key, strerror(-rc));
	hide_secret_flag(key, value);
	return rc;
}

/* Second pass: every other flag, in order. Returns 0, 1 (exit 0) or -errno. */
static int apply_flags(int argc, char **argv, const struct option *lo, struct mp_config *cfg,
		       struct cli_extra *x)
{
	const char *key;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, short_opts, lo, NULL)) != -1) {
		key = key_of(c);
		if (key) {
			rc = set_flag(cfg, key, optarg);
			if (rc)
				return rc;
			continue;
		}
		switch (c) {
		case 'c':
			break;
		case 'r':
			x->replay = optarg;
			break;
		case OPT_XDP_NATIVE:
			x->xdp_native = 1;
			break;
		case 'v':
			x->verbose++;
			break;
		case 'h':
			cli_usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("mysqlprobe %s\n", MP_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try 'mysqlprobe --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mysqlprobe: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct mp_config *cfg, struct cli_extra *x)
{
	struct option *lo = build_long_opts();
	char err[512];
	int rc;

	memset(x, 0, sizeof(*x));
	if (!lo)
		return -ENOMEM;
	rc = config_init(cfg);
	if (rc)
		goto cleanup;
	find_config_file(argc, argv, lo, x);
	if (x->config_file) {
		rc = config_load_file(cfg, x->config_file, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "mysqlprobe: %s\n", err);
			rc = rc == -ENOMEM ? rc : -EINVAL;
			goto cleanup;
		}
	}
	rc = apply_flags(argc, argv, lo, cfg, x);
	if (!rc) {
		rc = config_read_secret_files(cfg, err, sizeof(err));
		if (rc == -EINVAL)
			fprintf(stderr, "mysqlprobe: %s\n", err);
	}
	if (!rc)
		cfg->log_level += x->verbose;
cleanup:
	free(lo);
	if (rc < 0)
		config_free(cfg);
	return rc;
}
