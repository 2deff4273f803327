/*
 * file.h - safe file and descriptor operations
 *
 * file_open_safe() never follows a symbolic link in the last component
 * and, for an existing file, insists on a regular file with one hard link
 * (so a link planted in a writable directory cannot redirect our writes).
 * All functions return 0 (or a descriptor/count) on success and -1 with
 * errno set on failure; none of them logs.
 *
 * file_write_atomic() writes a temporary file beside the target, fsyncs
 * it, renames it over the target and fsyncs the directory, so a reader
 * sees the old or the new content, never a mixture.
 */
#ifndef PETREL_FILE_H
#define PETREL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct buf;

/* open(2) with O_NOFOLLOW|O_CLOEXEC; st receives fstat(2) (may be NULL). */
int file_open_safe(const char *path, int flags, mode_t mode, struct stat *st);
/* Write all len bytes, retrying on EINTR and short writes. */
int file_write_all(int fd, const void *data, size_t len);
/* Read up to len bytes, retrying on EINTR; returns bytes read (0 = EOF). */
ssize_t file_read_full(int fd, void *data, size_t len);
/* Append the whole file to out; -1 with errno EFBIG beyond limit bytes. */
int file_read(const char *path, struct buf *out, size_t limit);
int file_fsync(int fd);
/* fsync(2) the directory that contains path (or path if a directory). */
int file_sync_dir(const char *path);
/* rename(2) then sync the target's directory. */
int file_rename_sync(const char *from, const char *to);
int file_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode);
/* Create a directory and its parents (like mkdir -p) with mode. */
int file_mkdir_p(const char *path, mode_t mode);
int fd_set_cloexec(int fd, bool on);
int fd_set_nonblock(int fd, bool on);
/* Dirname into out (no trailing slash; "." when there is none). */
void file_dirname(struct buf *out, const char *path);

#endif
