/*
 * master_lock.h - one master per queue: the pid lock file
 *
 * master holds an exclusive fcntl(2) lock on $queue_directory/pid/
 * master.pid for its whole life and writes its pid into it. The lock,
 * not the file's existence, says whether master runs: a pid file left by
 * a crash is harmless. `petrel status|stop|reload` use
 * master_lock_owner() to find the running master.
 */
#ifndef PETREL_MASTER_LOCK_H
#define PETREL_MASTER_LOCK_H

#include <sys/types.h>

#define MASTER_LOCK_FILE	"pid/master.pid"

/*
 * Take the lock (creating the file, mode 0644) and write our pid.
 * Returns the open descriptor (keep it open, close-on-exec), or -1 with
 * errno set; when another process holds the lock, errno is EAGAIN and
 * *owner (if not NULL) receives its pid.
 */
int master_lock_acquire(const char *queue_dir, pid_t *owner);
/*
 * The pid of the process holding the lock; 0 when nobody holds it (or
 * the file does not exist); -1 with errno set when it cannot be checked.
 */
pid_t master_lock_owner(const char *queue_dir);

#endif
