/*
 * str.c - (to be written)
 */
