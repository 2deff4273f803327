/*
 * maildir.c - (to be written)
 */
