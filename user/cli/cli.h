/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The command line: -c FILE, one long option per config key, short aliases, help text. */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <stdio.h>

#include "cli/config.h"

/* What the command line sets besides config keys. */
struct cli_extra {
	const char *config_file; /* -c FILE, or NULL */
	const char *replay;	 /* -r FILE, or NULL */
	int xdp_native;
	int verbose; /* -v count */
};

/*
 * Fills c from the built-in defaults, then the file named by -c (if any), then every other
 * flag in order (so flags override the file). Returns 0 to run, 1 when the program should
 * exit 0 (--help, --version printed), or -EINVAL / -ENOMEM after printing
 * "mysqlprobe: FILE:LINE: KEY: reason" or "mysqlprobe: --KEY: reason" on stderr (exit 2).
 * On failure c is freed.
 */
int cli_parse(int argc, char **argv, struct mp_config *c, struct cli_extra *x);

/* Prints the usage text, the settings generated from the config table included. */
void cli_usage(FILE *f);

#endif /* MP_CLI_H */
