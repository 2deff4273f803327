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
/*
 * May "name = value", for a Postfix parameter that Petrel does not
 * implement, be accepted and ignored? Only when it asks for nothing
 * Petrel would do differently: value empty (blanks only) where
 * Postfix's default is empty, or a parameter about documentation,
 * program paths or biff. false for a name that is not Postfix's.
 */
bool postfix_param_ignorable(const char *name, const char *value);

#endif
