/*
 * smtpd_cmd.h - smtpd: the table of SMTP commands (smtpd_cmd.c)
 *
 * smtpd.c finds the verb of each command line with smtpd_cmd_find()
 * (case does not matter) and runs its action with the rest of the line;
 * the flags tell smtpd.c how the command counts.
 */
#ifndef PETREL_SMTPD_CMD_H
#define PETREL_SMTPD_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct smtpd_state;

#define SMTPD_CMD_LAST		(1 << 0)  /* must end a pipelined group */
#define SMTPD_CMD_JUNK		(1 << 1)  /* counts against the junk limit */
#define SMTPD_CMD_UTF8		(1 << 2)  /* UTF-8 allowed in arguments */
#define SMTPD_CMD_FORBIDDEN	(1 << 3)  /* not SMTP: hang up */
#define SMTPD_CMD_DATA		(1 << 4)  /* reads data: checks its own
					   * pipelining (DATA, BDAT) */

struct smtpd_cmd {
	const char *name;		/* "MAIL" (also for st->where) */
	const char *log_name;		/* "mail" (disconnect line) */
	void (*action)(struct smtpd_state *st, char *args);
	int flags;
};

/* The command for verb (any case), or NULL. */
const struct smtpd_cmd *smtpd_cmd_find(const char *verb);
/* Is keyword (any case) in smtpd_discard_ehlo_keywords? */
bool smtpd_ehlo_discarded(const char *keyword);
/* Is data (len bytes) valid UTF-8 (no overlong forms or surrogates)? */
bool smtpd_utf8_valid(const char *data, size_t len);

#endif
