/*
 * master_lock.c - (to be written)
 */
