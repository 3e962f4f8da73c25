/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `mysqlprobe top`'s screen (ncurses): the overview, one template's detail, the status lines. */
#ifndef MP_TOP_UI_H
#define MP_TOP_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "top/top_model.h"

struct top_ui {
	const char *url;
	enum top_sort sort;
	char filter[TOP_FILTER_MAX];
	size_t sel; /* selected row of the overview */
	uint64_t sel_id; /* its template id and command: the selection follows the row */
	int sel_cmd;
	bool detail; /* showing the selected template */
	bool link_up;
	char link[256]; /* why the link is down, or "live" */
	char note[256]; /* last problem with a message (not a report) */
};

/* "850 µs", "12.3 ms", "1.25 s". */
void top_fmt_us(double us, char *out, size_t len);
/* "950", "12.5k", "3.20M". */
void top_fmt_num(double n, char *out, size_t len);

/* Draws the whole screen from the model (view already built). Call with curses started. */
void top_ui_draw(const struct top_model *m, struct top_ui *u);

#endif /* MP_TOP_UI_H */
