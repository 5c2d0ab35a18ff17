/* SPDX-License-Identifier: MIT */
/* Placeholder until the libcurl implementation lands (contexts work). */
#include "config.h"
#include "http.h"
#include "util.h"
#include <errno.h>

int http_fetch(const struct http_policy *pol, const struct paddock_http_request *req,
	       char **body, size_t *len, long *status, char *err, size_t errlen)
{
	(void)pol; (void)body; (void)len; (void)status;
	return errf(err, errlen, -ENOSYS, "%s: HTTP fetch unavailable in this build", req->url);
}
