/*
 * cleanup_clnt.c - (to be written)
 */
