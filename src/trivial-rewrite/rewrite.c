/*
 * rewrite.c - (to be written)
 */
