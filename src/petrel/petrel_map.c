/*
 * petrel_map.c - (to be written)
 */
