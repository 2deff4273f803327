/*
 * queue_id.h - queue IDs: unique, time-ordered, embedding the inode
 *
 * A queue ID names a message everywhere (file names, logs, mailq). It is
 * built from the arrival time (seconds and microseconds, fixed width, in
 * an alphabet in ASCII order so that IDs sort by time) and the inode
 * number of the queue file (unique among existing files of one file
 * system), like Postfix's long queue IDs:
 *
 *	<7 chars seconds><4 chars microseconds>z<inode, 1..13 chars>
 *
 * The alphabet is [0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y] (digits and
 * consonants: no vowels, so IDs never spell words, and no 'z', which
 * separates the time from the inode); 51 symbols.
 * SECURITY: queue_id_valid() is the only gate between a name found in a
 * directory or a command line argument and a path: it accepts nothing
 * but this exact form (so no '/', no "..", bounded length).
 */
#ifndef PETREL_QUEUE_ID_H
#define PETREL_QUEUE_ID_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define QUEUE_ID_MAX	25		/* 7 + 4 + 1 + 13 */

/* Append the ID for this time and inode to out. */
void queue_id_make(struct buf *out, uint64_t sec, uint32_t usec, ino_t ino);
bool queue_id_valid(const char *id);
/* The arrival time encoded in a valid ID; -1 if invalid. */
int queue_id_time(const char *id, uint64_t *sec, uint32_t *usec);
/*
 * The hash directory part for depth levels (one character each, taken
 * from the microseconds, which spread evenly): "A/" or "A/7/"; appended
 * to out; nothing for depth 0.
 */
void queue_id_hash(struct buf *out, const char *id, int depth);

#endif
