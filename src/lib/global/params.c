/*
 * params.c - (to be written)
 */
