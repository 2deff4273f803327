/*
 * dict_source.c - (to be written)
 */
