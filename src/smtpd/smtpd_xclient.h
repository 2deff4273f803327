/*
 * smtpd_xclient.h - smtpd: XCLIENT and XFORWARD (smtpd_xclient.c)
 *
 * smtpd_xclient() and smtpd_xforward() are the command actions
 * (declared in smtpd.h); smtpd_xclient_ehlo() adds the XCLIENT and
 * XFORWARD keywords to an EHLO reply for the clients that may use them;
 * smtpd_xforward_reset() forgets the XFORWARD attributes, which are
 * valid for one mail transaction.
 */
#ifndef PETREL_SMTPD_XCLIENT_H
#define PETREL_SMTPD_XCLIENT_H

struct buf;
struct smtpd_state;

/*
 * Append "\nXCLIENT NAME ADDR ..." when st->xclient_ok and "\nXFORWARD
 * NAME ADDR ..." when st->xforward_ok (each unless listed in
 * smtpd_discard_ehlo_keywords) to the EHLO reply being built.
 */
void smtpd_xclient_ehlo(struct smtpd_state *st, struct buf *ehlo_lines);

/*
 * Free st->fwd_* (NULL afterwards). For smtpd_reset(): Postfix forgets
 * what XFORWARD said at the end of each mail transaction (and at RSET),
 * so that one message's origin never sticks to the next.
 */
void smtpd_xforward_reset(struct smtpd_state *st);

#endif
