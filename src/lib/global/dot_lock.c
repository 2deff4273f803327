/*
 * dot_lock.c - (to be written)
 */
