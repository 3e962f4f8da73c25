// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The process-wide log level and the one function that writes log lines. */
#include <stdarg.h>
#include <stdio.h>

#include "lib/log.h"

int log_level = LOG_LVL_WARN;

void log_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
