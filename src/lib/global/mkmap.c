/*
 * mkmap.c - (to be written)
 */
