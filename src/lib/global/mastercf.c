/*
 * mastercf.c - (to be written)
 */
