/*
 * master_wakeup.c - (to be written)
 */
