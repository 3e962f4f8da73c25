/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Leveled logging to stderr; the level is checked before any formatting. */
#ifndef MP_LOG_H
#define MP_LOG_H

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

extern int log_level;

void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define pr_warn(...)                                    \
	do {                                            \
		if (log_level >= LOG_LVL_WARN)          \
			log_printf(__VA_ARGS__);        \
	} while (0)
#define pr_info(...)                                    \
	do {                                            \
		if (log_level >= LOG_LVL_INFO)          \
			log_printf(__VA_ARGS__);        \
	} while (0)
#define pr_debug(...)                                   \
	do {                                            \
		if (log_level >= LOG_LVL_DEBUG)         \
			log_printf(__VA_ARGS__);        \
	} while (0)

#endif /* MP_LOG_H */
