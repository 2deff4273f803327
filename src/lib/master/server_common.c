/*
 * server_common.c - (to be written)
 */
