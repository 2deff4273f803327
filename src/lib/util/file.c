/*
 * file.c - (to be written)
 */
