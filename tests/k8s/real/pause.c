/* SPDX-License-Identifier: MIT */
/* The pod sandbox's "pause" process for the real test node: sleeps until
 * SIGTERM or SIGINT (Kubernetes' own pause image is not reachable here).
 * Built static, alone in an image from scratch. */
#include <signal.h>
#include <unistd.h>

static void bye(int sig)
{
	(void)sig;
	_exit(0);
}

int main(void)
{
	signal(SIGTERM, bye);
	signal(SIGINT, bye);
	for (;;)
		pause();
}
