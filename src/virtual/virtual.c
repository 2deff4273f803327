/*
 * virtual.c - XXX issue 4: being written
 */
#include <stdlib.h>

int
main(void)
{
	return EXIT_FAILURE;
}
