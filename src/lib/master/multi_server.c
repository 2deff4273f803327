/*
 * multi_server.c - (to be written)
 */
