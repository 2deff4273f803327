/*
 * resolve.c - (to be written)
 */
