/*
 * htable.c - (to be written)
 */
