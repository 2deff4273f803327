/*
 * mbox.c - (to be written)
 */
