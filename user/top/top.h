/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `mysqlprobe top [URL]`: any node's /collector in a terminal, refreshed with every report. */
#ifndef MP_TOP_H
#define MP_TOP_H

/* argv[0] is "top". Returns the exit status: 0, 1 (cannot connect) or 2 (usage). */
int top_main(int argc, char **argv);

#endif /* MP_TOP_H */
