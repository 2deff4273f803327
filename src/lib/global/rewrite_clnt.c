/*
 * rewrite_clnt.c - (to be written)
 */
