/*
 * dict_pattern.c - (to be written)
 */
