/* SPDX-License-Identifier: MIT */
/*
 * cli/format.h - pure text helpers of the CLI's human output: costs and
 * table rows.  No I/O; unit-tested (tests/unit/test_cli_format.c).
 */
#ifndef PADDOCK_CLI_FORMAT_H
#define PADDOCK_CLI_FORMAT_H

#include <stddef.h>

#include "base/util.h"

/* A cost in US dollars for a human: "$" and at most 4 decimals, trailing
 * zeros dropped down to 2 ("$0.0003", "$0.012", "$1.50"); "<$0.0001" for
 * a cost above 0 that rounds to nothing.  -o json/yaml keep the number. */
void cli_format_cost(double usd, char *out, size_t n);

/* Append one table line to b: cells[i] (already escaped for a terminal)
 * padded to widths[i] columns (term_width) and a space between cells, the
 * last cell unpadded, no trailing spaces, then "\n".  A cell wider than
 * its column pushes the rest of the line. */
void cli_table_line(struct buf *b, const char *const *cells, const int *widths, size_t n);

#endif
