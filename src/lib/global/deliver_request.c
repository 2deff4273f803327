/*
 * deliver_request.c - see deliver_request.h (XXX issue 4: being written)
 */
#include "deliver_request.h"
