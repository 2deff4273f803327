/*
 * trigger_server.c - (to be written)
 */
