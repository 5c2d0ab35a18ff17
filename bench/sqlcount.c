/* SPDX-License-Identifier: MIT */
/*
 * bench/sqlcount.c - count a process's SQLite work (an LD_PRELOAD shim).
 *
 *   cc -shared -fPIC -O1 -o /tmp/sqlcount.so bench/sqlcount.c -ldl
 *   SQLCOUNT_OUT=/tmp/sql LD_PRELOAD=/tmp/sqlcount.so paddock controller
 *
 * At exit (SIGTERM ends `paddock controller` normally) it writes
 * $SQLCOUNT_OUT.PID: statements compiled, statements run, transactions
 * (statements started outside an explicit transaction, each its own
 * read or write transaction, plus the BEGINs), and the count per SQL
 * text compiled.  Divide by the tasks run for the per-task figures in
 * bench/README.md.  Not built by make: a measuring tool.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQL_KEY 80
#define SQL_MAX 256

static unsigned long compiled, run, transactions;
static struct {
	char sql[SQL_KEY];
	unsigned long n;
} tab[SQL_MAX];
static int ntab;

static void count_sql(const char *sql)
{
	char k[SQL_KEY];
	snprintf(k, sizeof(k), "%s", sql);
	for (char *p = k; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	int i;
	for (i = 0; i < ntab && strcmp(tab[i].sql, k); i++)
		;
	if (i == ntab && ntab < SQL_MAX)
		snprintf(tab[ntab++].sql, SQL_KEY, "%s", k);
	if (i < SQL_MAX)
		tab[i].n++;
	compiled++;
}

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st, const char **tail)
{
	static int (*real)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
	if (!real)
		real = (int (*)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **))dlsym(
			RTLD_NEXT, "sqlite3_prepare_v2");
	count_sql(sql);
	return real(db, sql, n, st, tail);
}

int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
		       const char **tail)
{
	static int (*real)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **);
	if (!real)
		real = (int (*)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **,
				const char **))dlsym(RTLD_NEXT, "sqlite3_prepare_v3");
	count_sql(sql);
	return real(db, sql, n, flags, st, tail);
}

int sqlite3_step(sqlite3_stmt *st)
{
	static int (*real)(sqlite3_stmt *);
	if (!real)
		real = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
	if (!sqlite3_stmt_busy(st)) {
		run++;
		if (sqlite3_get_autocommit(sqlite3_db_handle(st)))
			transactions++;
	}
	return real(st);
}

__attribute__((destructor)) static void dump(void)
{
	const char *out = getenv("SQLCOUNT_OUT");
	if (!out)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s.%d", out, (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "compiled %lu run %lu transactions %lu\n", compiled, run, transactions);
	for (int i = 0; i < ntab; i++)
		fprintf(f, "%8lu %s\n", tab[i].n, tab[i].sql);
	(void)fclose(f);
}
