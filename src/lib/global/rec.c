/*
 * rec.c - (to be written)
 */
