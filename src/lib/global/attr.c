/*
 * attr.c - (to be written)
 */
