/*
 * testutil.c - helpers shared by the cmocka unit tests (see testutil.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "testutil.h"

static FILE *capture_file;
static int capture_saved = -1;

void
capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	capture_saved = dup(STDERR_FILENO);
	assert_true(capture_saved >= 0);
	assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

char *
capture_end(void)
{
	struct buf out;
	char chunk[512];
	size_t n;

	fflush(stderr);
	assert_true(dup2(capture_saved, STDERR_FILENO) >= 0);
	close(capture_saved);
	capture_saved = -1;
	buf_init(&out, 512);
	rewind(capture_file);
	while ((n = fread(chunk, 1, sizeof(chunk), capture_file)) > 0)
		buf_append(&out, chunk, n);
	fclose(capture_file);
	capture_file = NULL;
	return buf_steal(&out);
}

struct scratch {
	char dir[256];
	char *cwd;
};

int
scratch_enter(struct scratch **out, const char *name,
    const char *const *subdirs)
{
	struct scratch *s = calloc(1, sizeof(*s));

	*out = s;
	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/%s.XXXXXX", name);
	if ((s->cwd = getcwd(NULL, 0)) == NULL || mkdtemp(s->dir) == NULL
	    || chdir(s->dir) < 0)
		return -1;
	for (; subdirs != NULL && *subdirs != NULL; subdirs++)
		if (mkdir(*subdirs, 0700) < 0)
			return -1;
	return 0;
}

int
scratch_leave(struct scratch *s)
{
	char cmd[300];
	int ret = -1;

	if (s == NULL)
		return -1;
	if (s->cwd != NULL && chdir(s->cwd) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		ret = system(cmd) == 0 ? 0 : -1;
	}
	free(s->cwd);
	free(s);
	return ret;
}
