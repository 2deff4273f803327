/*
 * cleanup_proto.h - how clients hand a message to cleanup
 *
 * cleanup listens on public/cleanup (pickup, sendmail's path) and is
 * also used by smtpd. One message per connection:
 *
 *	cleanup -> client	attrs: queue_id
 *				(cleanup has created incoming/<ID>)
 *	client -> cleanup	attrs: flags (CLEANUP_FLAG_*)
 *	client -> cleanup	records (rec.h) in queue-file order, without
 *				REC_TYPE_SIZE: TIME, ATTR*, FROM,
 *				(ORCP? NOTIFY? RCPT)*, MESG, (NORM|CONT)*,
 *				XTRA, ATTR?, END; the ATTR after XTRA is
 *				"cleanup_flags=N", CLEANUP_FLAG_HOLD and/or
 *				_DISCARD decided after the content (smtpd's
 *				end-of-data restrictions)
 *	cleanup -> client	attrs: status (CLEANUP_STAT_* bits, 0 = the
 *				message is on disk, complete and synced),
 *				reason (text for the client's reply or bounce)
 *
 * A client that disconnects before END leaves nothing behind: cleanup
 * removes the unfinished file. Attribute names for REC_TYPE_ATTR records
 * and for the protocol are in proto_names.h.
 */
#ifndef PETREL_CLEANUP_PROTO_H
#define PETREL_CLEANUP_PROTO_H

#define CLEANUP_SERVICE		"cleanup"

/* Client flags. */
#define CLEANUP_FLAG_NONE	0
#define CLEANUP_FLAG_BOUNCE	(1 << 0)  /* bounce content errors instead
					   * of rejecting them (pickup:
					   * the sender is not listening) */
#define CLEANUP_FLAG_HOLD	(1 << 1)  /* place the message on hold */
#define CLEANUP_FLAG_DISCARD	(1 << 2)  /* accept, then throw away */

/* Status bits (0 = success). */
#define CLEANUP_STAT_OK		0
#define CLEANUP_STAT_BAD	(1 << 0)  /* malformed request (our bug or
					   * a hostile client) */
#define CLEANUP_STAT_WRITE	(1 << 1)  /* cannot write the queue file */
#define CLEANUP_STAT_SIZE	(1 << 2)  /* message_size_limit exceeded */
#define CLEANUP_STAT_CONT	(1 << 3)  /* content rejected */
#define CLEANUP_STAT_HOPS	(1 << 4)  /* hopcount_limit: mail loop */
#define CLEANUP_STAT_RCPT	(1 << 5)  /* no recipients */
#define CLEANUP_STAT_DEFER	(1 << 6)  /* temporary failure: try again */

/*
 * DSN NOTIFY (RFC 3461) of one recipient: the data of a REC_TYPE_NOTIFY
 * record is these bits in decimal ("14" = success,delay,failure).
 * NEVER excludes the others. Written by sendmail -N (and smtpd's RCPT
 * NOTIFY=), checked by cleanup_clnt_check().
 */
#define DSN_NOTIFY_NEVER	(1 << 0)
#define DSN_NOTIFY_SUCCESS	(1 << 1)
#define DSN_NOTIFY_DELAY	(1 << 2)
#define DSN_NOTIFY_FAILURE	(1 << 3)
#define DSN_NOTIFY_ANY		(DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY \
				 | DSN_NOTIFY_FAILURE)

#endif
