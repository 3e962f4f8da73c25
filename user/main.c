// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Entry point: parses the command line and runs the chosen pipeline. */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "mysqlprobe: not yet\n");
	return 1;
}
