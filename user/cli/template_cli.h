/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The "mysqlprobe template" subcommand: templates and ids of statements read from a file. */
#ifndef MP_TEMPLATE_CLI_H
#define MP_TEMPLATE_CLI_H

/*
 * mysqlprobe template [--split] [--max-len N] [FILE|-]
 * Reads statements (one per line, or ";"-separated with --split) from FILE or stdin and prints
 * "<template_id>\t<template>" per statement. argv[0] is "template".
 * Returns the exit code: 0 ok, 1 I/O error, 2 usage error.
 */
int template_cli_main(int argc, char **argv);

#endif
