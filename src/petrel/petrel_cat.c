/*
 * petrel_cat.c - (to be written)
 */
