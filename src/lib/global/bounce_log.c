/*
 * bounce_log.c - (to be written)
 */
