/* SPDX-License-Identifier: MIT */
/*
 * cli/format.c - costs and table lines for human output (cli/format.h).
 */
#include "config.h"
#include "cli/format.h"

#include <stdio.h>
#include <string.h>

#include "base/term.h"

void cli_format_cost(double usd, char *out, size_t n)
{
	if (!n)
		return;
	if (usd > 0 && usd < 0.00005) {
		snprintf(out, n, "<$0.0001");
		return;
	}
	snprintf(out, n, "$%.4f", usd);
	char *dot = strchr(out, '.');
	if (!dot)
		return;
	size_t len = strlen(out);
	while (len > (size_t)(dot - out) + 3 && out[len - 1] == '0')
		out[--len] = '\0';
}

void cli_table_line(struct buf *b, const char *const *cells, const int *widths, size_t n)
{
	size_t start = b->len;
	for (size_t i = 0; i < n; i++) {
		const char *c = cells[i] ? cells[i] : "";
		(void)buf_puts(b, c);
		if (i + 1 == n)
			break;
		for (size_t w = term_width(c); w < (size_t)(widths[i] > 0 ? widths[i] : 0); w++)
			(void)buf_puts(b, " ");
		(void)buf_puts(b, " ");
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	(void)buf_puts(b, "\n");
}
