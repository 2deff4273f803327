/*
 * petrel_alias.c - (to be written)
 */
