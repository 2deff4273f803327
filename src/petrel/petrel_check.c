/*
 * petrel_check.c - (to be written)
 */
