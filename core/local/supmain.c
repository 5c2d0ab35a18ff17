/* SPDX-License-Identifier: MIT */
/*
 * local/supmain.c - paddock-supervisor: a run's supervisor, started by
 * the local backend as `paddock-supervisor __supervise RUN_DIR`
 * (local/local.h), never by hand.  The same code as `paddock
 * __supervise`, in a program that loads a handful of libraries instead
 * of paddock's 39 (local/build.am).
 */
#include "config.h"
#include "local/local.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	int rc;
	if (local_supervisor_dispatch(argc, argv, &rc))
		return rc;
	(void)fprintf(stderr, "paddock-supervisor: internal to paddock: the local backend starts it "
		      "as `paddock-supervisor " LOCAL_SUPERVISE_ARG " RUN_DIR`\n");
	return 2;
}
