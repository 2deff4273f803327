/*
 * master_status.c - (to be written)
 */
