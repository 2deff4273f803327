/*
 * resolve_clnt.c - (to be written)
 */
