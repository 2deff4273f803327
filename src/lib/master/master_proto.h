/*
 * master_proto.h - how master and its children talk
 *
 * master starts each child with:
 *	fd 0, 1		/dev/null
 *	fd 2		master's stderr (make run) or /dev/null
 *	fd 3		MASTER_STATUS_FD: write end of the service's status pipe
 *	fd 4 ...	MASTER_LISTEN_FD + i, i < -s count: listening endpoints
 * and the environment variable PETREL_GENERATION (decimal), the service
 * generation that the child echoes in every status message.
 *
 * A child writes one struct master_status (atomic: smaller than
 * PIPE_BUF) when it is ready for a client (MASTER_STAT_AVAIL) and when
 * it has taken one (MASTER_STAT_TAKEN). master counts available
 * children per service and starts a new one only when none is available.
 *
 * Signals from master to a child: SIGHUP means "configuration changed:
 * finish the current client, then exit" (so reload keeps connections
 * alive); SIGTERM means "exit now". Children die with master through
 * PR_SET_PDEATHSIG.
 *
 * Trigger services (fifo, unix with a wakeup time) receive one-byte
 * requests; master's wakeup timer sends TRIGGER_REQ_WAKEUP.
 */
#ifndef PETREL_MASTER_PROTO_H
#define PETREL_MASTER_PROTO_H

#include <stdint.h>

#define MASTER_STATUS_FD	3
#define MASTER_LISTEN_FD	4
#define MASTER_GEN_ENV		"PETREL_GENERATION"

enum master_stat {
	MASTER_STAT_TAKEN = 0,
	MASTER_STAT_AVAIL = 1,
};

struct master_status {
	int32_t pid;
	uint32_t gen;
	int32_t status;		/* enum master_stat */
};

#define TRIGGER_REQ_WAKEUP	'W'

/* Child side: send one status message; 0 or -1 (master is gone). */
int master_notify(uint32_t gen, enum master_stat status);

#endif
