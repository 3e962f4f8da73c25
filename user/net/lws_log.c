// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libwebsockets' log lines routed through ours, at our level. */
#include <libwebsockets.h>
#include <string.h>

#include "lib/log.h"
#include "net/lws_log.h"

static void lws_log_line(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	/*
	 * lws warns per connection (e.g. a refused upgrade): that is not worth a default line.
	 * Its notices are banners (version, build options, vhost and protocol setup) that say
	 * nothing a person acts on: debug only, even at -v.
	 */
	if (level & LLL_ERR)
		pr_warn("lws: %.*s\n", (int)n, line);
	else if (level & LLL_WARN)
		pr_info("lws: %.*s\n", (int)n, line);
	else
		pr_debug("lws: %.*s\n", (int)n, line);
}

void net_lws_log_setup(void)
{
	int lvl = LLL_ERR | LLL_WARN;

	if (log_level >= LOG_LVL_DEBUG)
		lvl |= LLL_NOTICE | LLL_INFO;
	lws_set_log_level(lvl, lws_log_line);
}
