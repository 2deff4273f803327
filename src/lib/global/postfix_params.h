/*
 * postfix_params.h - the names of Postfix 3.7's main.cf parameters
 *
 * See postfix_params.c.
 */
#ifndef PETREL_POSTFIX_PARAMS_H
#define PETREL_POSTFIX_PARAMS_H

#include <stdbool.h>

/* Is name a parameter of Postfix 3.7 (whether Petrel has it or not)? */
bool postfix_param_known(const char *name);

#endif
