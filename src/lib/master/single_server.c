/*
 * single_server.c - (to be written)
 */
