// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The "mysqlprobe template" subcommand: prints template id and template per statement. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "sql/sql_split.h"
#include "sql/template.h"
#include "cli/template_cli.h"

/* Bounds what one invocation reads: the input is held in memory whole. */
#define TEMPLATE_CLI_MAX_INPUT (1ul << 30)
#define TEMPLATE_CLI_MAX_LEN (16ul << 20)

struct template_cli {
	char *out;
	size_t cap;
	struct template_opts opts;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mysqlprobe template [--split] [--max-len N] [FILE|-]\n"
		   "  prints \"<template_id>\\t<template>\" for each statement of FILE\n"
		   "  (default stdin): one statement per line, or ';'-separated with --split\n");
}

/* Reads all of f into a NUL-terminated buffer. Returns 0 or -errno. */
static int read_all(FILE *f, char **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap), *nb;
	int err = 0;

	if (!b)
		return -ENOMEM;
	for (;;) {
		size_t r;

		if (n + 1 == cap) {
			if (cap >= TEMPLATE_CLI_MAX_INPUT) {
				err = -EFBIG;
				goto cleanup;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			b = nb;
			cap *= 2;
		}
		r = fread(b + n, 1, cap - 1 - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		err = -EIO;
cleanup:
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static void print_one(struct template_cli *c, const char *sql, size_t len)
{
	struct template_info info;
	char hex[17];

	if (template_make(sql, len, c->out, c->cap, &c->opts, &info))
		return;
	template_id_hex(info.id, hex);
	printf("%s\t%s\n", hex, c->out);
}

static void run_lines(struct template_cli *c, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *e = nl ? nl : end, *s = p;

		while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s < e)
			print_one(c, p, e - p);
		p = e + 1;
	}
}

static int run_split(struct template_cli *c, const char *buf, size_t len)
{
	struct sql_span *spans;
	int n, i;

	n = sql_split(buf, len, NULL, 0);
	if (n <= 0)
		return n;
	spans = calloc(n, sizeof(*spans));
	if (!spans)
		return -ENOMEM;
	n = sql_split(buf, len, spans, n);
	for (i = 0; i < n; i++)
		print_one(c, buf + spans[i].off, spans[i].len);
	free(spans);
	return 0;
}

static int parse_args(int argc, char **argv, int *split, size_t *max_len, const char **path)
{
	static const struct option opts[] = {
		{ "split", no_argument, NULL, 's' },
		{ "max-len", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "sm:h", opts, NULL)) != -1) {
		char *e;

		switch (ch) {
		case 's':
			*split = 1;
			break;
		case 'm':
			errno = 0;
			*max_len = strtoul(optarg, &e, 10);
			if (errno || *e || !*optarg || *max_len == 0 ||
			    *max_len > TEMPLATE_CLI_MAX_LEN) {
				pr_warn("template: invalid --max-len '%s' (1..%lu)\n", optarg,
					TEMPLATE_CLI_MAX_LEN);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return -EINVAL;
	}
	*path = optind < argc ? argv[optind] : "-";
	return 0;
}

int template_cli_main(int argc, char **argv)
{
	struct template_cli c = { 0 };
	const char *path;
	FILE *f = NULL;
	char *buf = NULL;
	size_t len, max_len = TEMPLATE_MAX_LEN_DEFAULT;
	int split = 0, err, rc = 1;

	err = parse_args(argc, argv, &split, &max_len, &path);
	if (err)
		return err > 0 ? 0 : 2;
	c.opts.max_len = max_len;
	c.cap = max_len + 1;
	c.out = malloc(c.cap);
	if (!c.out)
		goto cleanup;
	f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		pr_warn("template: failed to open %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	err = read_all(f, &buf, &len);
	if (err) {
		pr_warn("template: failed to read %s: %s\n", path, strerror(-err));
		goto cleanup;
	}
	if (split)
		err = run_split(&c, buf, len);
	else
		run_lines(&c, buf, len);
	if (err || fflush(stdout) || ferror(stdout)) {
		pr_warn("template: failed to write the output: %s\n", strerror(err ? -err : errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (f && f != stdin)
		fclose(f);
	free(buf);
	free(c.out);
	return rc;
}
