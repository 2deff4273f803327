/*
 * master_listen.c - (to be written)
 */
