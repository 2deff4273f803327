/*
 * bounce_clnt.c - see bounce_clnt.h (XXX issue 4: being written)
 */
#include "bounce_clnt.h"
