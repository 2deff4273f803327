/*
 * petrel_super.c - (to be written)
 */
